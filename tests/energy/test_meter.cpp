// The meter (spec energy.md §7.13 rows "Windows / conservation", "Attribution", "Thread safety",
// "Crash safety") on a fake powercap tree, fake /proc and a FakeNvml, driven by a FakeClock.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "fakes.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/meter.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

struct Rig {
  TempDir dir{"meter"};
  FakePowercap pc{dir / "powercap"};
  FakeProc proc{dir / "proc"};
  FakeNvml nvml;
  RealFileSystem fs;
  FakeClock clock;
  std::string pkg, dram;
  int64_t pkg_uj = 1000, dram_uj = 500;
  std::mt19937_64 rng{7};
  Rig() {
    pkg = pc.zone("intel-rapl:0", "package-0", pkg_uj, 262143328850, 150000000);
    dram = pc.zone("intel-rapl:0:0", "dram", dram_uj, 65712999613);
    nvml.add("A100", "0000:3B:00.0", 7).energy_mj = 1000;
  }
  core::EnergyConfig config() const { return fake_config(pc.root(), dir / "perf", proc.root()); }
  // Moves time forward with random power on every counter.
  void advance(double s) {
    clock.advance_s(s);
    proc.run(uint64_t(100 * s) + 1, 0.6);
    pkg_uj = (pkg_uj + int64_t(s * (40 + rng() % 60) * 1e6)) % 262143328850;
    dram_uj += int64_t(s * (3 + rng() % 5) * 1e6);
    nvml.devs[0].energy_mj += uint64_t(s * (100 + rng() % 200) * 1e3);
    FakePowercap::set(pkg, pkg_uj);
    FakePowercap::set(dram, dram_uj);
  }
};

int64_t comp(const WindowReport& r, int c) {
  return c == 0 ? r.cpu_uj : c == 1 ? r.ram_uj : c == 2 ? r.gpu_uj : r.dram_uj;
}

TEST(MeterWindows, NestedWindowsSumToTheirParentExactly) {
  Rig rig;
  Meter meter(rig.config(), fake_env(rig.fs, rig.clock, nullptr, &rig.nvml));
  meter.start();
  std::uniform_real_distribution<double> dt(0.01, 3.0);
  struct Span {
    int id;
    std::vector<int> children;
  };
  std::vector<Span> phases;
  // Phases tile the run; each phase is tiled by epochs and "gap" windows (data loading, logging).
  for (int p = 0; p < 4; ++p) {
    Span phase{meter.begin(p % 2 ? "valid" : "train", WindowKind::kPhase), {}};
    const int n = 2 + int(rig.rng() % 5);
    for (int e = 0; e < n; ++e) {
      const bool gap = rig.rng() % 3 == 0;
      const int id =
          meter.begin(gap ? "gap" : "epoch", gap ? WindowKind::kCustom : WindowKind::kEpoch, e);
      const int ticks = int(rig.rng() % 4);
      for (int k = 0; k < ticks; ++k) {
        rig.advance(dt(rig.rng));
        meter.tick();  // sampler ticks inside windows
      }
      rig.advance(dt(rig.rng));
      meter.end(id);
      phase.children.push_back(id);
    }
    meter.end(phase.id);
    phases.push_back(phase);
  }
  meter.stop();
  const WindowReport run = meter.run_report();
  EXPECT_GT(run.cpu_uj, 0);
  EXPECT_GT(run.gpu_uj, 0);
  for (int c = 0; c < 4; ++c) {
    int64_t sum_phases = 0;
    for (const auto& p : phases) {
      int64_t sum_children = 0;
      for (int id : p.children) sum_children += comp(meter.report(id), c);
      EXPECT_EQ(sum_children, comp(meter.report(p.id), c)) << "component " << c;
      sum_phases += comp(meter.report(p.id), c);
    }
    EXPECT_EQ(sum_phases, comp(run, c)) << "component " << c;
  }
  // Durations tile too (the clock only moves inside windows).
  double d = 0;
  for (const auto& p : phases) d += meter.report(p.id).duration_s;
  EXPECT_NEAR(d, run.duration_s, 1e-9);
  // Window rows carry the phase's name and epoch numbers.
  const auto reports = meter.window_reports();
  EXPECT_EQ(reports.front().kind, WindowKind::kRun);
}

TEST(MeterWindows, AddingWindowsDoesNotChangeTheRunTotal) {
  // Two meters see the same scripted machine; one marks windows every step, one never does.
  Rig a, b;
  Meter with(a.config(), fake_env(a.fs, a.clock, nullptr, &a.nvml));
  Meter without(b.config(), fake_env(b.fs, b.clock, nullptr, &b.nvml));
  with.start();
  without.start();
  for (int i = 0; i < 30; ++i) {
    const int w = with.begin("epoch", WindowKind::kEpoch, i);
    a.advance(0.7);
    b.advance(0.7);
    with.end(w);
    if (i % 5 == 0) without.tick();
  }
  with.stop();
  without.stop();
  const auto ra = with.run_report(), rb = without.run_report();
  EXPECT_EQ(ra.cpu_uj, rb.cpu_uj);  // counters: exact
  EXPECT_EQ(ra.dram_uj, rb.dram_uj);
  EXPECT_EQ(ra.gpu_uj, rb.gpu_uj);
  EXPECT_NEAR(double(ra.ram_uj), double(rb.ram_uj), 1.0);
}

TEST(MeterWindows, ShortWindowsAreFlagged) {
  Rig rig;
  Meter meter(rig.config(), fake_env(rig.fs, rig.clock, nullptr, &rig.nvml));
  meter.start();
  const int w = meter.begin("step", WindowKind::kCustom);
  rig.advance(0.1);
  EXPECT_TRUE(meter.end(w).flags & kFlagShortWindow);
  const int v = meter.begin("epoch", WindowKind::kEpoch, 1);
  rig.advance(2);
  EXPECT_FALSE(meter.end(v).flags & kFlagShortWindow);
}

TEST(MeterAttribution, BusyCapacityAndPssSharesMatchHandComputation) {
  Rig rig;
  rig.proc.pid(4242, 1, 100, 50, 1000);   // the tracked process
  rig.proc.pid(4243, 4242, 10, 0, 1000);  // its child
  rig.proc.pid(100, 1, 500, 500, 90000);  // someone else
  Meter meter(rig.config(), [&] {
    auto e = fake_env(rig.fs, rig.clock, nullptr, &rig.nvml);
    e.track_descendants = true;
    return e;
  }());
  meter.start();
  // One second: machine 50 of 100 ticks busy; ours 20 ticks; package +100 J, DRAM +50 J.
  rig.clock.advance_s(1);
  rig.proc.run(100, 0.5);
  rig.proc.pid(4242, 1, 105, 55, 1000);
  rig.proc.pid(4243, 4242, 20, 0, 1000);
  rig.proc.pid(100, 1, 530, 500, 90000);
  rig.proc.meminfo(16777216 - 20000);  // 20000 kB used: our PSS share is 2000/20000
  FakePowercap::set(rig.pkg, 1000 + 100000000);
  FakePowercap::set(rig.dram, 500 + 50000000);
  meter.tick();
  const auto r = meter.run_report();
  EXPECT_EQ(r.cpu_uj, 100000000);
  EXPECT_NEAR(r.cpu_attr_j, 100.0 * 20 / 50, 1e-9);            // busy share 0.4
  EXPECT_NEAR(r.cpu_attr_capacity_j, 100.0 * 20 / 100, 1e-9);  // capacity share 0.2
  EXPECT_EQ(r.ram_method, "rapl-dram");
  EXPECT_NEAR(r.ram_attr_j, 50.0 * 0.1, 1e-9);
}

TEST(MeterThreads, ConcurrentMarksWhileTheSamplerTicks) {
  Rig rig;
  SteadyClock clock;
  auto cfg = rig.config();
  cfg.measure_power_secs = 0.01;
  MeterEnv env = fake_env(rig.fs, clock, nullptr, &rig.nvml);
  env.threaded = true;
  Meter meter(cfg, env);
  meter.start();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      FakePowercap::set(rig.pkg, 1000 + int64_t(i) * 1000);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  const int phase = meter.begin("train", WindowKind::kPhase);
  std::vector<int> epochs;
  for (int e = 0; e < 300; ++e) {
    const int id = meter.begin("epoch", WindowKind::kEpoch, e);
    meter.mark();
    meter.end(id);
    epochs.push_back(id);
  }
  meter.end(phase);
  stop = true;
  writer.join();
  meter.stop();
  int64_t sum = 0;
  for (int id : epochs) sum += meter.report(id).cpu_uj;
  EXPECT_LE(sum, meter.report(phase).cpu_uj);
  EXPECT_GE(meter.report(phase).samples, 600);
  EXPECT_GE(meter.sampler_cpu_s(), 0.0);
}

TEST(MeterResume, TotalsCarryAcrossAKilledRun) {
  Rig rig;
  std::string saved;
  int64_t first_cpu = 0;
  {
    Meter meter(rig.config(), fake_env(rig.fs, rig.clock, nullptr, &rig.nvml));
    meter.start();
    rig.advance(5);
    meter.tick();
    saved = meter.serialize();
    first_cpu = meter.run_report().cpu_uj;
  }
  Meter meter(rig.config(), fake_env(rig.fs, rig.clock, nullptr, &rig.nvml));
  meter.restore(saved);
  meter.start();
  const int own = meter.begin("after-resume", WindowKind::kCustom);
  rig.advance(3);
  meter.tick();
  const int64_t own_cpu = meter.end(own).cpu_uj;
  const auto r = meter.run_report();
  meter.stop();
  EXPECT_GT(first_cpu, 0);
  EXPECT_GT(own_cpu, 0);
  EXPECT_EQ(r.cpu_uj, first_cpu + own_cpu);
  EXPECT_TRUE(r.flags & kFlagResumed);
  EXPECT_NEAR(r.duration_s, 8.0, 1e-9);
  EXPECT_GT(r.carried_uj, 0);
  const auto j = nlohmann::json::parse(meter.serialize());
  EXPECT_EQ(j["components_uj"]["cpu"].get<int64_t>(), r.cpu_uj);
  Meter other(rig.config(), fake_env(rig.fs, rig.clock, nullptr, &rig.nvml));
  try {
    other.restore("{\"format\": \"something else\"}");
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a greensed-energy-totals/1 document"),
              std::string::npos);
  }
}

TEST(MeterCrashSafety, CheckpointSurvivesAKill) {
  Rig rig;
  const std::string ckpt = rig.dir / "out/energy_checkpoint.json";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    SteadyClock clock;
    auto cfg = rig.config();
    cfg.measure_power_secs = 0.02;
    cfg.checkpoint_interval_s = 0.05;  // energy.checkpoint_interval_s is what the meter uses
    MeterEnv env = fake_env(rig.fs, clock, nullptr, nullptr);
    env.threaded = true;
    Meter meter(cfg, env);
    meter.set_checkpoint(ckpt);
    meter.start();
    for (;;) ::pause();
  }
  // Wait for a checkpoint with a few samples, then kill without warning.
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    if (std::filesystem::exists(ckpt)) {
      const auto j = nlohmann::json::parse(core::read_file(ckpt), nullptr, false);
      if (!j.is_discarded() && j["samples"].get<int>() >= 3) break;
    }
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const auto j = nlohmann::json::parse(core::read_file(ckpt));  // valid JSON, never half a file
  EXPECT_EQ(j["format"], "greensed-energy-totals/1");
  EXPECT_GE(j["samples"].get<int>(), 3);
  EXPECT_TRUE(j["running"].get<bool>());
  EXPECT_LE(std::abs(j["saved_wall_s"].get<int64_t>() - int64_t(::time(nullptr))), 30);
  EXPECT_GT(j["duration_s"].get<double>(), 0.05);
}

}  // namespace
}  // namespace greensed::energy
