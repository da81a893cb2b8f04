// greensed sweep: a grid of training runs, here one at a time (resumable) or as a Slurm job array.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/train/sweep.hpp"

namespace greensed::cli {
namespace {

namespace fs = std::filesystem;

std::string self_path() {
  std::error_code ec;
  const auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("greensed") : p.string();
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string dirs = path;
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = dirs.find(':', start);
    const std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

// Runs a child process and returns its exit code (128 + signal when killed by one).
int run_child(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw core::InputError(fmt::format("cannot start {}: fork failed", argv[0]));
  if (pid == 0) {
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_sweep(const std::vector<std::string>& args) {
  std::string sweep_path, out_dir, backend = "local", binary;
  bool dry_run = false;
  ArgParser parser("sweep",
                   "run a grid of trainings (batch sizes × seeds × config keys), here or on Slurm");
  parser.option("--config", &sweep_path, "SWEEP.yaml",
                "the sweep file (required; see recipes/batch_size_sweep)");
  parser.option("--out", &out_dir, "DIR", "where the run directories go (required)");
  parser.option("--backend", &backend, "local|slurm",
                "run here one at a time, or as a Slurm job array");
  parser.option("--binary", &binary, "PATH",
                "greensed binary the Slurm tasks run (default: this one)");
  parser.flag("--dry-run", &dry_run, "slurm: write and print the job script without submitting it");
  if (!parser.parse(args)) return kExitOk;
  parser.require("--config SWEEP.yaml", !sweep_path.empty());
  parser.require("--out DIR", !out_dir.empty());
  if (backend != "local" && backend != "slurm") {
    throw core::InputError(
        fmt::format("greensed sweep: --backend must be local or slurm; found '{}'", backend));
  }
  const train::Sweep sweep = train::load_sweep(sweep_path);
  if (!fs::exists(sweep.base_config)) {
    throw core::InputError(
        fmt::format("{}: base_config '{}' does not exist (paths are relative to the working "
                    "directory)",
                    sweep_path, sweep.base_config));
  }
  fs::create_directories(out_dir);
  core::write_file_atomic(out_dir + "/sweep.yaml", core::read_file(sweep_path));
  spdlog::info("[sweep] {} runs from {} into {} ({} backend)", sweep.runs.size(), sweep_path,
               out_dir, backend);

  if (backend == "slurm") {
    const std::string script_path = out_dir + "/sweep.sbatch";
    core::write_file_atomic(
        script_path, train::slurm_script(sweep, out_dir, binary.empty() ? self_path() : binary));
    if (dry_run || !on_path("sbatch")) {
      fmt::print("{}", core::read_file(script_path));
      spdlog::info("[sweep] {} written; {}", script_path,
                   dry_run ? "not submitted (--dry-run)"
                           : "sbatch is not on PATH: submit it with sbatch " + script_path);
      return kExitOk;
    }
    const int code = run_child(
        {"/bin/sh", "-c", "sbatch --parsable '" + script_path + "' > '" + out_dir + "/job_id'"});
    if (code != 0) {
      throw core::InputError(fmt::format(
          "sbatch {} failed with exit code {} (see its message above)", script_path, code));
    }
    spdlog::info("[sweep] submitted job array {}; collect results with greensed report {}",
                 core::read_file(out_dir + "/job_id").substr(0, 32), out_dir);
    return kExitOk;
  }

  int done = 0;
  for (const auto& run : sweep.runs) {
    const std::string dir = out_dir + "/" + run.name;
    const std::string status = train::run_status(dir);
    if (status == "finished") {
      spdlog::info("[sweep] {}: finished earlier, skipped", run.name);
      ++done;
      continue;
    }
    spdlog::info("[sweep] {}: {} ({}/{})", run.name, status == "partial" ? "resuming" : "starting",
                 done + 1, sweep.runs.size());
    std::vector<std::string> argv = {self_path(), "train", "--config", sweep.base_config,
                                     "--run-dir", dir,     "--resume"};
    for (const auto& o : run.overrides) argv.insert(argv.end(), {"--set", o});
    const int code = run_child(argv);
    if (code != 0) {
      spdlog::error(
          "[sweep] {}: greensed train exited with code {}; rerun the same sweep command to resume",
          run.name, code);
      return code == kExitBadInput ? kExitBadInput : kExitInternal;
    }
    ++done;
  }
  spdlog::info("[sweep] all {} runs finished; tables: greensed report {}", sweep.runs.size(),
               out_dir);
  return kExitOk;
}

const Registrar registrar({"sweep",
                           "run a grid of trainings here (resumable) or as a Slurm job array",
                           run_sweep});

}  // namespace
}  // namespace greensed::cli
