// greensed energy: meters any command, like `codecarbon monitor`. The command runs as a child;
// the meter samples the machine (and attributes the child's share), SIGINT/SIGTERM are forwarded to
// the child, and when it exits the CodeCarbon-layout emissions.csv, the task CSV,
// energy_windows.csv and energy_meta.json are written and a summary is printed. The exit code is
// the child's (128 + signal when it was killed). The command opens and closes its own windows
// (per-epoch energy of any training) through the FIFO named in its GREENSED_WINDOWS
// (windows_channel.hpp; python/greensed_windows.py is put on its PYTHONPATH).
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/start_report.hpp"
#include "greensed/energy/windows_channel.hpp"
#include "greensed/energy/writers.hpp"

namespace greensed::cli {
namespace {

volatile sig_atomic_t g_child_pid = 0;
volatile sig_atomic_t g_signal = 0;

void forward_signal(int sig) {
  g_signal = sig;
  if (g_child_pid > 0) ::kill(pid_t(g_child_pid), sig);
}

// A value for a --set override, quoted for YAML so paths with ':' or '#' survive.
std::string yaml_quote(const std::string& v) {
  std::string q = "'";
  for (char c : v) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

int run_energy(const std::vector<std::string>& args) {
  std::string config_path, out_dir = ".", powercap_root, perf_root, proc_root, nvml_library,
                           sample_interval, tdp, country;
  std::vector<std::string> overrides, command;
  bool check = false;
  ArgParser parser("energy", "meter a command's energy (like `codecarbon monitor`)");
  parser.option("--out", &out_dir, "DIR",
                "where emissions.csv and the energy files go (default .)");
  parser.config_options(&config_path, &overrides, /*required=*/false);
  parser.option("--powercap-root", &powercap_root, "P",
                "powercap sysfs root (energy.powercap_root)");
  parser.option("--perf-root", &perf_root, "P",
                "perf event_source devices root holding power/ (energy.perf_root)");
  parser.option("--proc-root", &proc_root, "P", "procfs root (energy.proc_root)");
  parser.option("--nvml-library", &nvml_library, "L",
                "NVML library to dlopen (energy.nvml_library)");
  parser.option("--sample-interval", &sample_interval, "S",
                "sampler interval in seconds (energy.measure_power_secs, default 1)");
  parser.option("--tdp", &tdp, "W", "CPU TDP in watts for the load model (energy.cpu_tdp_w)");
  parser.option("--country", &country, "ISO",
                "ISO 3166-1 alpha-3 country for the carbon intensity (energy.country_iso_code)");
  parser.flag("--check", &check,
              "print what would be measured or estimated (with the fixes) and exit: 0 when every "
              "component is measured, 1 when any is estimated; runs nothing");
  parser.rest_after_dashes(&command, "COMMAND ARGS...", "the command to run and meter");
  if (!parser.parse(args)) return kExitOk;
  parser.require("-- COMMAND", check || !command.empty());

  const std::pair<const char*, std::string*> cli_keys[] = {{"powercap_root", &powercap_root},
                                                           {"perf_root", &perf_root},
                                                           {"proc_root", &proc_root},
                                                           {"nvml_library", &nvml_library},
                                                           {"measure_power_secs", &sample_interval},
                                                           {"cpu_tdp_w", &tdp},
                                                           {"country_iso_code", &country}};
  for (const auto& [key, value] : cli_keys) {
    if (value->empty()) continue;
    const bool numeric =
        std::string(key) == "measure_power_secs" || std::string(key) == "cpu_tdp_w";
    overrides.push_back(fmt::format("energy.{}={}", key, numeric ? *value : yaml_quote(*value)));
  }
  const core::LoadedConfig loaded = config_path.empty()
                                        ? core::parse_config("", "<defaults>", overrides)
                                        : load_config_logged(config_path, overrides);
  for (const auto& w : loaded.warnings) {
    if (config_path.empty()) spdlog::warn("[config] {}", w);
  }
  const core::EnergyConfig& cfg = loaded.config.energy;

  if (check) {
    if (!command.empty()) {
      throw core::InputError(
          "greensed energy --check runs nothing: drop '-- COMMAND', or drop "
          "--check to meter the command");
    }
    auto system = energy::SystemEnv::create(cfg);
    const energy::Meter meter(cfg, system->env());
    const energy::StartReport report = energy::start_report(meter);
    std::fputs(energy::start_report_text(report).c_str(), stdout);
    return report.all_measured ? kExitOk : 1;
  }

  // The command's own windows: the FIFO and the Python helper, in its environment.
  energy::WindowChannel windows;
  ::setenv("GREENSED_WINDOWS", windows.fifo_path().c_str(), 1);
  const char* python_path = std::getenv("PYTHONPATH");
  const std::string new_python_path =
      python_path && *python_path ? windows.python_dir() + ":" + python_path : windows.python_dir();
  ::setenv("PYTHONPATH", new_python_path.c_str(), 1);

  // The child waits on `go` until the meter has read its starting point, then execs; an exec
  // failure comes back through `err` (closed on a successful exec).
  int go[2], err[2];
  if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw core::InputError(
        fmt::format("greensed energy: cannot create a pipe ({})", std::strerror(errno)));
  }
  const pid_t child = ::fork();
  if (child < 0) {
    throw core::InputError(fmt::format("greensed energy: cannot fork ({})", std::strerror(errno)));
  }
  if (child == 0) {
    ::close(go[1]);
    ::close(err[0]);
    char byte;
    while (::read(go[0], &byte, 1) < 0 && errno == EINTR) {
    }
    std::vector<char*> argv;
    for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    const int e = errno;
    (void)!::write(err[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(go[0]);
  ::close(err[1]);
  g_child_pid = child;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  auto system = energy::SystemEnv::create(cfg);
  energy::MeterEnv env = system->env();
  env.track_pid = child;
  env.track_descendants = true;
  std::unique_ptr<energy::Meter> meter;
  try {
    meter = std::make_unique<energy::Meter>(cfg, env);
  } catch (...) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    throw;
  }
  std::filesystem::create_directories(out_dir);
  meter->set_checkpoint(out_dir + "/energy_checkpoint.json");
  meter->start();
  windows.start(*meter);
  ::close(go[1]);  // let the command run

  int exec_errno = 0;
  const bool exec_failed = ::read(err[0], &exec_errno, sizeof exec_errno) == sizeof exec_errno;
  ::close(err[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) break;
  }
  g_child_pid = 0;
  const energy::WindowChannelStats channel = windows.finish();  // its last lines, then stop
  meter->stop();  // closes (and flags) the windows the command left open

  if (exec_failed) {
    // Nothing ran: a 0 kWh emissions row would read as a measurement.
    spdlog::error(
        "[energy] could not run '{}': {}; nothing was measured and no emissions row written "
        "(check the command name and PATH)",
        command[0], std::strerror(exec_errno));
    std::error_code ec;
    std::filesystem::remove(out_dir + "/energy_checkpoint.json", ec);  // the meter's first one
    return 127;
  }
  int exit_code = 0;
  std::string how;
  if (WIFEXITED(status)) {
    exit_code = WEXITSTATUS(status);
    how = fmt::format("exited with code {}", exit_code);
  } else if (WIFSIGNALED(status)) {
    exit_code = 128 + WTERMSIG(status);
    how = fmt::format("killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  nlohmann::ordered_json extra;
  extra["command"] = command;
  extra["exit_code"] = exit_code;
  extra["outcome"] = how;
  if (g_signal) extra["forwarded_signal"] = int(g_signal);
  extra["command_windows"] = {{"channel", "GREENSED_WINDOWS (FIFO)"},
                              {"lines", channel.lines},
                              {"opened", channel.opened},
                              {"closed", channel.closed},
                              {"left_open", channel.opened - channel.closed},
                              {"rejected", channel.rejected},
                              {"rejections", channel.rejections}};
  const std::string emissions = energy::write_outputs(*meter, out_dir, extra.dump());
  if (channel.lines > 0) {
    fmt::print(stderr,
               "[energy] windows from the command: {} opened, {} closed, {} left open (closed "
               "at exit, flagged unclosed), {} line(s) rejected\n",
               channel.opened, channel.closed, channel.opened - channel.closed, channel.rejected);
  }
  fmt::print(stderr,
             "[energy] '{}' {}\n{}[energy] wrote {} and energy_windows.csv, "
             "energy_meta.json in {}\n",
             command[0], how, energy::summary_text(*meter), emissions, out_dir);
  return exit_code;
}

const Registrar registrar({"energy", "meter any command's energy: greensed energy [options] -- CMD",
                           run_energy});

}  // namespace
}  // namespace greensed::cli
