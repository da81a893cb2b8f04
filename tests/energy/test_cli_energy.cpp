// `greensed energy -- COMMAND` end to end: exit codes, files, signal forwarding and finalisation.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fakes.hpp"
#include "greensed/core/fs.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

struct CliRig {
  TempDir dir{"cli"};
  std::string out = dir / "out";
  std::string base() const {
    return std::string(GREENSED_BINARY) + " energy --out " + out + " --powercap-root " +
           (dir / "no-powercap") + " --perf-root " + (dir / "no-perf") + " --sample-interval 0.2";
  }
  int run(const std::string& args) {
    const int status = std::system((base() + " " + args + " 2>" + (dir / "stderr.txt")).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string err() const { return core::read_file(dir / "stderr.txt"); }
  nlohmann::json meta() const {
    return nlohmann::json::parse(core::read_file(out + "/energy_meta.json"));
  }
};

TEST(EnergyCli, ExitCodeOfTheCommandAndEveryFile) {
  CliRig rig;
  EXPECT_EQ(rig.run("--nvml-library /nonexistent/libnvml.so -- sh -c 'sleep 0.5; exit 3'"), 3);
  for (const char* f :
       {"emissions.csv", "energy_windows.csv", "energy_meta.json", "energy_checkpoint.json"}) {
    EXPECT_TRUE(std::filesystem::exists(rig.out + "/" + f)) << f;
  }
  const auto j = rig.meta();
  EXPECT_EQ(j["exit_code"], 3);
  EXPECT_EQ(j["components"]["cpu"]["method"], "cpu-load-tdp");
  EXPECT_EQ(j["components"]["cpu"]["estimate"], true);
  EXPECT_EQ(j["components"]["ram"]["estimate"], true);
  EXPECT_EQ(j["components"]["gpu"]["method"], "none");
  EXPECT_GT(j["run"]["duration_s"].get<double>(), 0.4);
  const std::string err = rig.err();
  EXPECT_NE(err.find("ESTIMATE by cpu-load-tdp"), std::string::npos) << err;
  EXPECT_NE(err.find("'sh' exited with code 3"), std::string::npos) << err;
  // The start report comes before the command runs.
  EXPECT_EQ(rig.run("-- sh -c 'echo COMMAND-RAN >&2'"), 0);
  const std::string order = rig.err();
  ASSERT_NE(order.find("COMMAND-RAN"), std::string::npos) << order;
  EXPECT_LT(order.find("ESTIMATE by cpu-load-tdp"), order.find("COMMAND-RAN")) << order;
}

TEST(EnergyCli, MissingCommandAndUnrunnableCommand) {
  CliRig rig;
  EXPECT_EQ(rig.run(""), 2);
  EXPECT_EQ(rig.run("-- /nonexistent/command"), 127);
  EXPECT_NE(rig.err().find("could not run '/nonexistent/command': No such file or directory"),
            std::string::npos)
      << rig.err();
  EXPECT_EQ(rig.run("--country FRANCE -- true"), 2);
  EXPECT_NE(rig.err().find("must be an ISO 3166-1 alpha-3 code such as FRA"), std::string::npos)
      << rig.err();
}

TEST(EnergyCli, SigtermIsForwardedAndTheRowsAreFinalised) {
  CliRig rig;
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string cmd = rig.base() + " -- sleep 30 2>/dev/null";
    ::execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
    ::_exit(126);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM);
  const auto j = rig.meta();
  EXPECT_EQ(j["forwarded_signal"], SIGTERM);
  EXPECT_EQ(j["outcome"], "killed by signal 15 (Terminated)");
  const std::string csv = core::read_file(rig.out + "/emissions.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  EXPECT_LT(j["run"]["duration_s"].get<double>(), 20.0);
}

TEST(EnergyCli, GpuThroughTheFakeNvmlLibrary) {
  CliRig rig;
  put(rig.dir / "gpus.txt", "NVIDIA_H100 GPU-1234 00000000:3B:00.0 9 5000 300000 0\n");
  ::setenv("FAKE_NVML_CONFIG", (rig.dir / "gpus.txt").c_str(), 1);
  EXPECT_EQ(rig.run(std::string("--nvml-library ") + FAKE_NVML_V2 + " -- true"), 0);
  ::unsetenv("FAKE_NVML_CONFIG");
  const auto j = rig.meta();
  EXPECT_EQ(j["components"]["gpu"]["method"], "nvml-energy");
  EXPECT_EQ(j["gpus"]["devices"][0]["name"], "NVIDIA H100");
  const std::string csv = core::read_file(rig.out + "/emissions.csv");
  EXPECT_NE(csv.find(",1,1 x NVIDIA H100,"), std::string::npos) << csv;
}

// `greensed energy --check`: the start report and nothing run; 0 when every component is
// measured (a readable fake RAPL tree with a DRAM zone), 1 when any is estimated (no RAPL, and
// perf refused by perf_event_paranoid=2), with the reason and the fix.
TEST(EnergyCli, CheckPrintsTheStartReportAndRunsNothing) {
  TempDir dir("check");
  FakePowercap pc(dir / "powercap");
  pc.zone("intel-rapl:0", "package-0", 0, 262143328850);
  pc.zone("intel-rapl:0:0", "dram", 0, 65712999613);
  FakeProc proc(dir / "proc");
  put(proc.root() + "/sys/kernel/perf_event_paranoid", "2\n");
  const std::string common = std::string(GREENSED_BINARY) + " energy --check --proc-root " +
                             proc.root() + " --nvml-library /nonexistent/libnvml.so --out " +
                             (dir / "out") + " --perf-root " + (dir / "no-perf");
  const auto run = [&](const std::string& powercap) {
    const int status = std::system(
        (common + " --powercap-root " + powercap + " >" + (dir / "stdout.txt") + " 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(run(pc.root()), 0) << core::read_file(dir / "stdout.txt");
  std::string out = core::read_file(dir / "stdout.txt");
  EXPECT_NE(out.find("cpu: measured by rapl-powercap"), std::string::npos) << out;
  EXPECT_NE(out.find("ram: measured by rapl-dram"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "out")) << "--check wrote files";

  EXPECT_EQ(run(dir / "no-powercap"), 1);
  out = core::read_file(dir / "stdout.txt");
  EXPECT_NE(out.find("cpu: ESTIMATE by cpu-load-tdp"), std::string::npos) << out;
  EXPECT_NE(out.find("perf_event_paranoid=2"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir / "out")) << "--check wrote files";

  // --check with a command is a usage error, and nothing runs.
  const int status = std::system(
      (common + " --powercap-root " + pc.root() + " -- touch " + (dir / "ran") + " 2>/dev/null")
          .c_str());
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_FALSE(std::filesystem::exists(dir / "ran"));

  // RAPL files of mode 000 (reads fail with EACCES, as on every kernel since 5.10 for non-root
  // users): exit 1 with the reason and the fix. Root reads anything, so as root the check runs
  // inside a user namespace where it is not root (`unshare -U`), when the kernel allows one.
  std::string prefix;
  if (::geteuid() == 0) {
    if (std::system("unshare -U true >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "root without user namespaces: the EACCES case is not tested here";
    }
    prefix = "unshare -U ";
  }
  for (const auto& zone : {"intel-rapl:0", "intel-rapl:0:0"}) {
    std::filesystem::permissions(std::filesystem::canonical(pc.root() + "/" + zone) / "energy_uj",
                                 std::filesystem::perms::none);
  }
  const int denied = std::system(
      (prefix + common + " --powercap-root " + pc.root() + " >" + (dir / "stdout.txt") + " 2>&1")
          .c_str());
  EXPECT_EQ(WEXITSTATUS(denied), 1) << core::read_file(dir / "stdout.txt");
  out = core::read_file(dir / "stdout.txt");
  EXPECT_NE(out.find("rejected RAPL powercap: permission denied"), std::string::npos) << out;
  EXPECT_NE(out.find("chmod o+r"), std::string::npos) << out;
  EXPECT_NE(out.find("perf_event_paranoid=2"), std::string::npos) << out;
}

// Per-epoch windows opened by the metered command itself (python/greensed_windows.py over the
// GREENSED_WINDOWS FIFO), with Python's standard library only.
bool have_python3() {
  return std::system("python3 -c pass >/dev/null 2>&1") == 0;
}

struct WindowRows {
  std::vector<std::map<std::string, std::string>> rows;
  explicit WindowRows(const std::string& csv) {
    std::istringstream in(core::read_file(csv));
    std::string line;
    std::getline(in, line);
    const auto split = [](const std::string& l) {
      std::vector<std::string> f;
      std::stringstream ss(l);
      std::string x;
      while (std::getline(ss, x, ',')) f.push_back(x);
      if (!l.empty() && l.back() == ',') f.emplace_back();
      return f;
    };
    const auto header = split(line);
    while (std::getline(in, line)) {
      const auto f = split(line);
      std::map<std::string, std::string> row;
      for (size_t i = 0; i < header.size() && i < f.size(); ++i) row[header[i]] = f[i];
      rows.push_back(row);
    }
  }
};

TEST(EnergyCli, ThreeEpochWindowsFromAPythonScriptAddUpToTheRun) {
  if (!have_python3()) GTEST_SKIP() << "no python3 on PATH: the Python windows helper is untested";
  CliRig rig;
  put(rig.dir / "train.py",
      "import time\n"
      "import greensed_windows\n"
      "def busy(s):\n"
      "    t = time.perf_counter()\n"
      "    while time.perf_counter() - t < s:\n"
      "        pass\n"
      "busy(0.2)\n"
      "for epoch in (1, 2, 3):\n"
      "    with greensed_windows.window('epoch', epoch):\n"
      "        busy(0.4)\n"
      "    busy(0.1)\n"
      "greensed_windows.open_window('epoch', 4)  # the command exits inside this one\n"
      "busy(0.2)\n");
  ASSERT_EQ(rig.run("-- python3 " + (rig.dir / "train.py")), 0) << rig.err();
  const WindowRows w(rig.out + "/energy_windows.csv");
  int64_t run_uj = -1, epochs_uj = 0;
  std::vector<std::string> indices;
  for (const auto& r : w.rows) {
    if (r.at("window") == "run") run_uj = std::stoll(r.at("total_uJ"));
    if (r.at("window") != "epoch") continue;
    indices.push_back(r.at("index"));
    epochs_uj += std::stoll(r.at("total_uJ"));
    EXPECT_EQ(r.at("kind"), "epoch");
    EXPECT_EQ(r.at("parent"), "run");
    const bool unclosed = r.at("flags").find("unclosed") != std::string::npos;
    EXPECT_EQ(unclosed, r.at("index") == "4") << r.at("index") << " " << r.at("flags");
    // Each window holds its busy loop (marks arrive within milliseconds of the writes).
    const double d = std::stod(r.at("duration_s"));
    EXPECT_GT(d, r.at("index") == "4" ? 0.1 : 0.3) << r.at("index");
    EXPECT_LT(d, 5.0) << r.at("index");
  }
  EXPECT_EQ(indices, (std::vector<std::string>{"1", "2", "3", "4"}));
  const auto j = rig.meta();
  const auto& a = j["epoch_accounting"];
  // The windows and the time outside them add up to the run total, to the µJ.
  EXPECT_EQ(a["epochs_uJ"].get<int64_t>(), epochs_uj);
  EXPECT_EQ(epochs_uj + a["outside_epochs_uJ"].get<int64_t>(), run_uj);
  EXPECT_EQ(a["run_uJ"].get<int64_t>(), run_uj);
  EXPECT_EQ(a["n_epochs"], 4);
  EXPECT_EQ(j["command_windows"]["opened"], 4);
  EXPECT_EQ(j["command_windows"]["closed"], 3);
  EXPECT_EQ(j["command_windows"]["rejected"], 0);
  EXPECT_NE(rig.err().find("4 opened, 3 closed, 1 left open (closed at exit, flagged unclosed)"),
            std::string::npos)
      << rig.err();
}

TEST(EnergyCli, MalformedWindowLinesAreReportedAndIgnored) {
  if (!have_python3()) GTEST_SKIP() << "no python3 on PATH";
  CliRig rig;
  put(rig.dir / "bad.py",
      "import os\n"
      "fd = os.open(os.environ['GREENSED_WINDOWS'], os.O_WRONLY)\n"
      "os.write(fd, b'start epoch 1\\n')\n"
      "os.write(fd, b'end epoch 9\\n')\n"
      "os.write(fd, b'begin epoch\\n')\n"
      "os.write(fd, b'begin epoch 1\\n')\n"
      "os.write(fd, b'begin epoch 1\\n')\n"
      "os.write(fd, b'end epoch 1\\n')\n"
      "os.write(fd, b'begin half')\n");
  // A shell child writes the same lines with echo.
  put(rig.dir / "train.sh",
      "echo \"begin epoch 1\" > \"$GREENSED_WINDOWS\"\n"
      "echo \"begin validation 1\" > \"$GREENSED_WINDOWS\"\n"
      "echo \"end validation 1\" > \"$GREENSED_WINDOWS\"\n"
      "echo \"end epoch 1\" > \"$GREENSED_WINDOWS\"\n");
  ASSERT_EQ(rig.run("-- sh " + (rig.dir / "train.sh")), 0) << rig.err();
  const auto shell = rig.meta();
  EXPECT_EQ(shell["command_windows"]["opened"], 2);
  EXPECT_EQ(shell["command_windows"]["closed"], 2);
  EXPECT_EQ(shell["command_windows"]["rejected"], 0);
  const std::string csv = core::read_file(rig.out + "/energy_windows.csv");
  EXPECT_NE(csv.find(",validation,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",epoch,epoch,1,run,"), std::string::npos) << csv;
  ASSERT_EQ(rig.run("-- python3 " + (rig.dir / "bad.py")), 0) << rig.err();
  const std::string err = rig.err();
  for (const char* why :
       {"line 1: expected 'begin <kind> [<index>]'", "line 2: no open window 'epoch' 9",
        "line 3: an epoch window needs its index", "line 5: window 'epoch' 1 is already open",
        "line 7: cut short: no newline"}) {
    EXPECT_NE(err.find(why), std::string::npos) << why << "\n" << err;
  }
  const auto j = rig.meta();
  EXPECT_EQ(j["command_windows"]["rejected"], 5);
  EXPECT_EQ(j["command_windows"]["opened"], 1);
  EXPECT_EQ(j["command_windows"]["closed"], 1);
}

TEST(EnergyCli, WindowsHelperWithoutGreensedDoesNothingAndSaysSoOnce) {
  if (!have_python3()) GTEST_SKIP() << "no python3 on PATH";
  TempDir dir("nowin");
  const std::string cmd =
      "env -u GREENSED_WINDOWS PYTHONPATH=" + std::string(GREENSED_SOURCE_DIR) +
      "/python python3 -c \"import greensed_windows as g\nwith g.window('epoch', 1): pass\n"
      "g.open_window('x'); assert not g.enabled()\" 2>" +
      (dir / "err.txt");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << core::read_file(dir / "err.txt");
  const std::string err = core::read_file(dir / "err.txt");
  EXPECT_NE(err.find("GREENSED_WINDOWS is not set"), std::string::npos) << err;
  EXPECT_EQ(err.find("GREENSED_WINDOWS is not set"), err.rfind("GREENSED_WINDOWS is not set"));
}

}  // namespace
}  // namespace greensed::energy
