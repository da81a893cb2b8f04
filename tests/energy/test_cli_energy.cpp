// `greensed energy -- COMMAND` end to end: exit codes, files, signal forwarding and finalisation.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
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
}

}  // namespace
}  // namespace greensed::energy
