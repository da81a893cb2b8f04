// Issue 13 "Why" items 1-7 and issue 15 item 6, each on fake powercap / perf / NVML trees through
// the MeterEnv seams. Every test here failed on the meter before its fix.
#include <gtest/gtest.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "fakes.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/rapl.hpp"
#include "greensed/energy/start_report.hpp"
#include "greensed/energy/writers.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// Item 1: ram_source=model with a readable DRAM zone gave ram = DRAM + model.
TEST(Defects, ModelRamNeverAddsTheMeasuredDram) {
  TempDir dir("ram");
  FakePowercap pc(dir / "powercap");
  const std::string pkg = pc.zone("intel-rapl:0", "package-0", 0, 262143328850);
  const std::string dram = pc.zone("intel-rapl:0:0", "dram", 0, 65712999613);
  FakeProc proc(dir / "proc", 4, 16 * 1024 * 1024);  // 16 GiB: 6 W by 3/8 W per GiB
  RealFileSystem fs;
  FakeClock clock;
  auto cfg = fake_config(pc.root(), dir / "perf", proc.root());
  cfg.ram_source = "model";
  Meter meter(cfg, fake_env(fs, clock));
  meter.start();
  clock.advance_s(10);
  proc.run(1000, 0.5);
  FakePowercap::set(pkg, 500000000);  // 500 J
  FakePowercap::set(dram, 95000000);  // 95 J
  meter.tick();
  const WindowReport r = meter.run_report();
  EXPECT_EQ(r.dram_uj, 95000000);
  EXPECT_EQ(r.ram_uj, 60000000);  // 6 W × 10 s, the model only
  EXPECT_EQ(r.ram_method, "ram-per-gib-v2");
  EXPECT_EQ(r.total_uj, r.cpu_uj + r.ram_uj + r.gpu_uj);
  EXPECT_EQ(r.total_uj, 560000000);
  // And with ram_source=auto the measured DRAM is the RAM component, the model a shadow.
  cfg.ram_source = "auto";
  Meter automatic(cfg, fake_env(fs, clock));
  automatic.start();
  clock.advance_s(10);
  proc.run(1000, 0.5);
  FakePowercap::set(dram, 190000000);
  automatic.tick();
  EXPECT_EQ(automatic.run_report().ram_uj, 95000000);
  EXPECT_EQ(automatic.run_report().ram_method, "rapl-dram");
}

struct EpochRig {
  TempDir dir{"epochs"};
  FakeProc proc{dir / "proc"};
  RealFileSystem fs;
  FakeClock clock;
  core::EnergyConfig cfg = fake_config(dir / "powercap", dir / "perf", proc.root());
  void epoch(Meter& m, int k) {
    const int id = m.begin("epoch", WindowKind::kEpoch, k);
    clock.advance_s(10);
    proc.run(1000, 0.5);
    m.end(id);
  }
};

// Item 3: after --resume the predictor restarted from zero epochs while the total carried the old
// energy (killed at 5/10, two epochs later it projected ~15 epochs' worth).
TEST(Defects, PredictorIsRestoredOnResume) {
  EpochRig rig;
  std::string saved;
  double epoch_j = 0;
  {
    Meter first(rig.cfg, fake_env(rig.fs, rig.clock));
    first.start();
    for (int k = 1; k <= 5; ++k) rig.epoch(first, k);
    saved = first.serialize();
    epoch_j = first.report(1).total_uj * 1e-6;
  }
  Meter second(rig.cfg, fake_env(rig.fs, rig.clock));
  second.restore(saved);
  second.start();
  rig.epoch(second, 6);
  rig.epoch(second, 7);
  const Prediction p = second.predict(10);
  ASSERT_TRUE(p.available);
  EXPECT_EQ(p.epochs_done, 7);
  // Ten equal epochs (nothing outside them): the projection is 10 epochs, not 15.
  EXPECT_NEAR(p.energy_j.value, 10 * epoch_j, 0.02 * epoch_j);
  EXPECT_EQ(second.epoch_accounting().n_epochs, 7);
}

// Item 4: energy.checkpoint_interval_s and the newer energy_checkpoint.json at resume; issue 15
// item 6: the discarded work is carried on its own line and energy_windows.csv keeps the windows
// of every process.
TEST(Defects, ResumeCarriesTheNewerEnergyCheckpointAsDiscardedWork) {
  EpochRig rig;
  const std::string ckpt = rig.dir / "energy_checkpoint.json";
  std::string training_totals;
  int64_t at_kill = 0, at_training_ckpt = 0;
  std::string first_run_id;
  {
    Meter first(rig.cfg, fake_env(rig.fs, rig.clock));
    first.set_checkpoint(ckpt);
    first.start();
    first_run_id = first.run_id();
    rig.epoch(first, 1);
    rig.epoch(first, 2);
    training_totals = first.serialize();  // what the training checkpoint of epoch 2 holds
    at_training_ckpt = first.run_report().total_uj;
    const int partial = first.begin("epoch", WindowKind::kEpoch, 3);  // killed inside epoch 3
    rig.clock.advance_s(7);
    rig.proc.run(700, 0.5);
    first.mark();
    (void)partial;
    core::write_file_atomic(ckpt, first.serialize());  // the sampler's periodic checkpoint
    at_kill = first.run_report().total_uj;
  }
  ASSERT_GT(at_kill, at_training_ckpt);
  Meter second(rig.cfg, fake_env(rig.fs, rig.clock));
  second.resume(training_totals, ckpt);
  second.start();
  rig.epoch(second, 3);
  second.stop();
  const WindowReport run = second.run_report();
  EXPECT_EQ(run.discarded_uj, at_kill - at_training_ckpt);
  EXPECT_NEAR(run.discarded_s, 7.0, 1e-9);
  EXPECT_EQ(run.carried_uj, at_kill);
  const EpochAccounting acc = second.epoch_accounting();
  EXPECT_EQ(acc.n_epochs, 3);
  EXPECT_EQ(acc.epochs_uj + acc.outside_uj, run.total_uj);
  EXPECT_GE(acc.outside_uj, run.discarded_uj);  // discarded work is in no epoch
  const std::string summary = summary_text(second);
  EXPECT_NE(summary.find("work discarded by the interruption"), std::string::npos) << summary;
  // energy_windows.csv: the first process's epochs 1-2, the discarded row, this process's epoch 3.
  const std::string csv = windows_csv(second);
  EXPECT_NE(csv.find(first_run_id + ",epoch,epoch,1,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(first_run_id + ",epoch,epoch,2,"), std::string::npos) << csv;
  EXPECT_EQ(csv.find(first_run_id + ",epoch,epoch,3,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(second.run_id() + ",discarded_by_interruption,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(second.run_id() + ",epoch,epoch,3,"), std::string::npos) << csv;
  // An energy checkpoint of another run is not carried.
  Meter other(rig.cfg, fake_env(rig.fs, rig.clock));
  Meter third(rig.cfg, fake_env(rig.fs, rig.clock));
  third.start();
  third.stop();
  other.resume(third.serialize(), ckpt);
  EXPECT_EQ(other.run_report().discarded_uj, 0);
}

// Item 2: which window is which. The training call (first epoch start to last epoch end: the
// window of the recipe's CodeCarbon training tracker, used by `greensed normalize`) is the epochs
// plus the gaps between them, without the set-up before the first or the test after the last;
// carried across a resume.
TEST(Defects, TrainingCallIsTheEpochsAndTheGapsBetweenThem) {
  EpochRig rig;
  const auto idle = [&](double s) {
    rig.clock.advance_s(s);
    rig.proc.run(int(100 * s), 0.5);
    return s;
  };
  std::string saved;
  int64_t gap12 = 0, epochs12 = 0;
  {
    Meter first(rig.cfg, fake_env(rig.fs, rig.clock));
    first.start();
    idle(5);  // set-up: not in the training call
    rig.epoch(first, 1);
    const int64_t before = first.run_report().total_uj;
    idle(3);  // checkpoints between epochs 1 and 2: in it
    first.mark();
    gap12 = first.run_report().total_uj - before;
    rig.epoch(first, 2);
    epochs12 = first.report(1).total_uj + first.report(2).total_uj;
    const EpochAccounting a = first.epoch_accounting();
    EXPECT_EQ(a.between_uj, gap12);
    EXPECT_NEAR(a.between_s, 3.0, 1e-9);
    EXPECT_EQ(a.training_call_uj(), epochs12 + gap12);
    saved = first.serialize();
  }
  ASSERT_GT(gap12, 0);
  Meter second(rig.cfg, fake_env(rig.fs, rig.clock));
  second.restore(saved);
  second.start();
  idle(4);  // the resumed process's set-up: not between two epochs of one process
  rig.epoch(second, 3);
  const int64_t before = second.run_report().total_uj;
  idle(2);
  second.mark();
  const int64_t gap34 = second.run_report().total_uj - before;
  rig.epoch(second, 4);
  idle(6);  // the test phase: not in it
  second.stop();
  const EpochAccounting a = second.epoch_accounting();
  EXPECT_EQ(a.between_uj, gap12 + gap34);
  EXPECT_EQ(a.training_call_uj(), a.epochs_uj + gap12 + gap34);
  EXPECT_LT(a.training_call_uj(), a.total_uj);
  EXPECT_EQ(a.epochs_uj + a.outside_uj, a.total_uj);
}

// Item 6: a GPU whose counter and power both fail was dropped without a flag ("none tracked").
TEST(Defects, UnreadableGpuIsFlaggedAndReported) {
  EpochRig rig;
  FakeNvml nvml;
  auto& d = nvml.add("T4", "0000:3B:00.0", 7);
  d.energy_rc = kNvmlErrorNotSupported;
  d.power_rc = kNvmlErrorNotSupported;
  Meter meter(rig.cfg, fake_env(rig.fs, rig.clock, nullptr, &nvml));
  meter.start();
  rig.clock.advance_s(1);
  meter.tick();
  EXPECT_TRUE(meter.run_report().flags & kFlagNoGpuEnergy);
  const std::string summary = summary_text(meter);
  EXPECT_NE(summary.find("gpu  NOT MEASURED: T4"), std::string::npos) << summary;
  const StartReport rep = start_report(meter);
  EXPECT_FALSE(rep.all_measured);
  EXPECT_NE(joined(rep.lines).find("gpu: NOT MEASURED"), std::string::npos);
}

// Item 6: a counter failing mid-run gave zeros with only read_error; now it switches to power.
TEST(Defects, GpuCounterFailingMidRunSwitchesToPowerPolling) {
  EpochRig rig;
  FakeNvml nvml;
  nvml.add("A100", "0000:3B:00.0", 7).energy_mj = 1000;
  nvml.devs[0].power_mw = 200000;  // 200 W
  Meter meter(rig.cfg, fake_env(rig.fs, rig.clock, nullptr, &nvml));
  meter.start();
  rig.clock.advance_s(1);
  nvml.devs[0].energy_mj += 200000;  // 200 J by the counter
  meter.tick();
  nvml.devs[0].energy_rc = kNvmlErrorGpuIsLost;
  for (int i = 0; i < 6; ++i) {
    rig.clock.advance_s(1);
    meter.tick();
  }
  const WindowReport r = meter.run_report();
  EXPECT_TRUE(r.flags & kFlagGpuPowerFallback) << flags_text(r.flags);
  // 200 J counted, the interval up to the first failed read lost, then 200 W for 5 s.
  EXPECT_EQ(r.gpu_uj, 200000000 + 5 * 200000000);
}

// Item 6: CUDA_VISIBLE_DEVICES="" metered every GPU of the node; no gpu_ids summed all of them
// without a word.
TEST(Defects, EmptyCudaVisibleDevicesMetersNoGpuAndAllGpusAreFlagged) {
  EpochRig rig;
  FakeNvml nvml;
  nvml.add("A100", "0000:3B:00.0", 7);
  nvml.add("A100", "0000:5E:00.0", 7);
  MeterEnv env = fake_env(rig.fs, rig.clock, nullptr, &nvml);
  env.cuda_visible_devices = "";
  Meter none(rig.cfg, env);
  EXPECT_TRUE(none.gpus().empty());
  env.cuda_visible_devices.reset();
  Meter all(rig.cfg, env);
  EXPECT_EQ(all.gpus().size(), 2u);
  EXPECT_TRUE(all.run_report().flags & kFlagAllVisibleGpus);
  rig.cfg.gpu_ids = {1};
  Meter one(rig.cfg, env);
  EXPECT_EQ(one.gpus().size(), 1u);
  EXPECT_FALSE(one.run_report().flags & kFlagAllVisibleGpus);
}

// Item 7: a dead-counter demotion rewrote the windows already closed (and reported in
// epochs.csv), so energy_windows.csv and epochs.csv disagreed.
TEST(Defects, DemotionDoesNotRewriteClosedWindows) {
  TempDir dir("demote");
  FakeProc proc(dir / "proc");
  make_perf_pmu(dir / "perf", "0", {{"energy-pkg", "event=0x02"}});
  RealFileSystem fs;
  FakeClock clock;
  FakePerf perf;
  Meter meter(fake_config(dir / "powercap", dir / "perf", proc.root()), fake_env(fs, clock, &perf));
  meter.start();
  const int e1 = meter.begin("epoch", WindowKind::kEpoch, 1);
  clock.advance_s(1);
  proc.run(100, 0.8);
  perf.counts[0] += 30ull << 32;  // 30 J measured
  meter.tick();
  const WindowReport closed = meter.end(e1);
  EXPECT_EQ(closed.cpu_uj, 30000000);
  EXPECT_EQ(closed.cpu_method, "rapl-perf");
  for (int i = 0; i < 3; ++i) {  // then the counter dies under load
    clock.advance_s(1);
    proc.run(100, 0.8);
    meter.tick();
  }
  ASSERT_TRUE(meter.run_report().flags & kFlagDeadCounter);
  const WindowReport again = meter.report(e1);
  EXPECT_EQ(again.cpu_uj, 30000000);
  EXPECT_EQ(again.cpu_method, "rapl-perf");
  EXPECT_FALSE(again.flags & kFlagDeadCounter);
  bool found = false;
  for (const auto& w : meter.window_reports()) {
    if (w.id == e1) {
      found = true;
      EXPECT_EQ(w.cpu_uj, 30000000);
    }
  }
  EXPECT_TRUE(found);
}

// Item 7: a perf failure on one package of two was overwritten in the record and that socket went
// missing unflagged.
TEST(Defects, PerfFailureOnOnePackageIsFlagged) {
  TempDir dir("perfpkg");
  FakeProc proc(dir / "proc");
  make_perf_pmu(dir / "perf", "0,28", {{"energy-pkg", "event=0x02"}});
  RealFileSystem fs;
  FakeClock clock;
  FakePerf perf;
  perf.fail_cpu = 28;
  Meter meter(fake_config(dir / "powercap", dir / "perf", proc.root()), fake_env(fs, clock, &perf));
  EXPECT_EQ(meter.run_report().cpu_method, "rapl-perf");
  EXPECT_TRUE(meter.run_report().flags & kFlagMissingDomain);
  std::string reason;
  for (const auto& c : meter.candidates()) {
    if (c.name == "energy-pkg") reason = c.reason;
  }
  EXPECT_NE(reason.find("MISSING: perf_event_open(cpu 28) failed"), std::string::npos) << reason;
  EXPECT_FALSE(start_report(meter).all_measured);
}

// Item 7: ram_used_gb in emissions.csv was one reading at write time, not a run mean.
TEST(Defects, RamUsedIsTheRunMean) {
  EpochRig rig;  // 16 GiB machine
  Meter meter(rig.cfg, fake_env(rig.fs, rig.clock));
  meter.start();
  const uint64_t gib = 1024 * 1024;  // kB
  for (uint64_t used : {2, 4, 6}) {
    rig.proc.meminfo(16 * gib - used * gib);
    rig.clock.advance_s(1);
    meter.tick();
  }
  rig.proc.meminfo(16 * gib - 15 * gib);  // at write time: 15 GiB in use
  const WindowReport r = meter.run_report();
  EXPECT_NEAR(r.ram_used_gib_mean, 4.0, 1e-9);
  const std::string row = emissions_row(meter, r, "3.3.0", false);
  const auto f = split_csv_line(row), h = split_csv_line(emissions_header("3.3.0"));
  for (size_t i = 0; i < h.size(); ++i) {
    if (h[i] == "ram_used_gb") EXPECT_EQ(f[i], "4.0");
  }
}

// Start report on a tree whose RAPL files fail with EACCES and perf_event_paranoid 2: the reason
// and the fix for each, before any work.
TEST(StartReport, DeniedRaplAndParanoidPerfSayWhyAndHowToFix) {
  TempDir dir("denied");
  FakePowercap pc(dir / "powercap");
  pc.zone("intel-rapl:0", "package-0", 0, 262143328850);
  pc.zone("intel-rapl:0:0", "dram", 0, 65712999613);
  FakeProc proc(dir / "proc");
  put(proc.root() + "/sys/kernel/perf_event_paranoid", "2\n");
  make_perf_pmu(dir / "perf", "0", {{"energy-pkg", "event=0x02"}});
  RealFileSystem real;
  FaultyFileSystem fs(real);
  for (const auto& z : scan_powercap(real, pc.root())) fs.fail(z.path + "/energy_uj", EACCES);
  FakeClock clock;
  FakePerf perf;
  perf.open_error = EACCES;
  Meter meter(fake_config(pc.root(), dir / "perf", proc.root()), fake_env(fs, clock, &perf));
  const StartReport rep = start_report(meter);
  const std::string text = joined(rep.lines);
  EXPECT_FALSE(rep.all_measured);
  EXPECT_NE(text.find("cpu: ESTIMATE by cpu-load-tdp: whole-machine CPU load"), std::string::npos)
      << text;
  EXPECT_NE(text.find("RAPL powercap: permission denied"), std::string::npos) << text;
  EXPECT_NE(text.find("chmod o+r"), std::string::npos) << text;
  EXPECT_NE(text.find("perf_event_paranoid=2 -- fix: sudo sysctl kernel.perf_event_paranoid=0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ram: ESTIMATE by ram-per-gib-v2"), std::string::npos) << text;
}

TEST(StartReport, ReadableTreeIsAllMeasured) {
  TempDir dir("readable");
  FakePowercap pc(dir / "powercap");
  pc.zone("intel-rapl:0", "package-0", 0, 262143328850);
  pc.zone("intel-rapl:0:0", "dram", 0, 65712999613);
  FakeProc proc(dir / "proc");
  RealFileSystem fs;
  FakeClock clock;
  Meter meter(fake_config(pc.root(), dir / "perf", proc.root()), fake_env(fs, clock));
  const StartReport rep = start_report(meter);
  EXPECT_TRUE(rep.all_measured) << joined(rep.lines);
  EXPECT_NE(joined(rep.lines).find("cpu: measured by rapl-powercap"), std::string::npos);
  EXPECT_NE(joined(rep.lines).find("ram: measured by rapl-dram"), std::string::npos);
}

}  // namespace
}  // namespace greensed::energy
