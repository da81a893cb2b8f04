// Prediction (spec energy.md §7.11, §7.13 row "Prediction"): warm-up exclusion and band width.
#include <gtest/gtest.h>

#include <signal.h>

#include <cmath>

#include "fakes.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/predict.hpp"
#include "greensed/energy/signals.hpp"

namespace greensed::energy {
namespace {

using namespace testing;

TEST(Predict, NothingBeforeTwoEpochs) {
  EpochPredictor p;
  EXPECT_FALSE(p.predict(10).available);
  p.add_epoch(500, 50);
  EXPECT_FALSE(p.predict(10).available);
}

TEST(Predict, HeavyFirstEpochIsExcluded) {
  EpochPredictor p;
  const double e[] = {900, 100, 104, 96, 100};  // J; epoch 1 is a warm-up
  for (double x : e) p.add_epoch(x, x / 10);
  const Prediction r = p.predict(20);
  ASSERT_TRUE(r.available);
  EXPECT_EQ(r.epochs_used, 4);
  // so far 1300 J; 15 epochs left at the median of {100, 104, 96, 100} = 100.
  EXPECT_DOUBLE_EQ(r.energy_j.value, 1300 + 15 * 100);
  // Band: t(0.975, 3) × s/√4 × 15 with s = sd{100,104,96,100} = √(32/3).
  const double half = 3.182 * std::sqrt(32.0 / 3.0) / 2.0 * 15;
  EXPECT_NEAR(r.energy_j.high - r.energy_j.value, half, 1e-9);
  EXPECT_NEAR(r.energy_j.value - r.energy_j.low, half, 1e-9);
  EXPECT_EQ(r.band, "student-t 95%");
  // carbontracker: N × mean of all epochs, dragged up by the warm-up.
  EXPECT_DOUBLE_EQ(r.energy_j.carbontracker, 20 * 1300.0 / 5);
  EXPECT_GT(r.energy_j.carbontracker, r.energy_j.high);
  EXPECT_DOUBLE_EQ(r.duration_s.value, 130 + 15 * 10);
}

TEST(Predict, TwoEpochsUseTheWarmUpDifferenceAsTheBand) {
  EpochPredictor p;
  p.add_epoch(300, 30);
  p.add_epoch(200, 20);
  const Prediction r = p.predict(10);
  ASSERT_TRUE(r.available);
  EXPECT_DOUBLE_EQ(r.energy_j.value, 500 + 8 * 200);
  EXPECT_DOUBLE_EQ(r.energy_j.high, 500 + 8 * 200 + 8 * 100);
  EXPECT_EQ(r.band, "warm-up difference");
}

TEST(Predict, EnergyOutsideEpochsIsAddedAndTheBandNarrowsWithMoreEpochs) {
  EpochPredictor p;
  p.set_spent_outside_epochs(50, 5);
  double last_width = 1e300;
  for (int k = 1; k <= 12; ++k) {
    p.add_epoch(k == 1 ? 400 : 100 + (k % 3) * 4, 10);
    const Prediction r = p.predict(40);
    if (k >= 3) {
      const double width = r.energy_j.high - r.energy_j.low;
      EXPECT_LE(width, last_width * 1.5);
      last_width = width;
    }
  }
  const Prediction r = p.predict(12);  // run finished: the projection is the actual total
  EXPECT_DOUBLE_EQ(r.energy_j.low, r.energy_j.value);
  EXPECT_DOUBLE_EQ(r.energy_j.high, r.energy_j.value);
}

TEST(Predict, StudentQuantiles) {
  EXPECT_DOUBLE_EQ(student_t_975(1), 12.706);
  EXPECT_DOUBLE_EQ(student_t_975(30), 2.042);
  EXPECT_NEAR(student_t_975(60), 2.0003, 2e-3);
  EXPECT_NEAR(student_t_975(100000), 1.95996, 1e-4);
}

TEST(Predict, MeterFeedsEpochWindows) {
  TempDir dir("predict");
  FakePowercap pc(dir / "powercap");
  const std::string pkg = pc.zone("intel-rapl:0", "package-0", 0, 262143328850, 150000000);
  FakeProc proc(dir / "proc");
  RealFileSystem fs;
  FakeClock clock;
  auto cfg = fake_config(pc.root(), dir / "perf", proc.root());
  cfg.force_ram_power_w = 0;  // RAM model runs too; the prediction covers every component
  Meter meter(cfg, fake_env(fs, clock));
  meter.start();
  int64_t e = 0;
  for (int k = 1; k <= 3; ++k) {
    const int id = meter.begin("epoch", WindowKind::kEpoch, k);
    clock.advance_s(k == 1 ? 20 : 10);
    proc.run(100, 0.5);
    e += k == 1 ? 2000000000 : 1000000000;
    FakePowercap::set(pkg, e);
    meter.end(id);
    const Prediction p = meter.predict(10);
    EXPECT_EQ(p.available, k >= 2);
  }
  const Prediction p = meter.predict(10);
  EXPECT_NEAR(p.duration_s.value, 40 + 7 * 10, 1e-6);
  const double ram_w = ram_power_per_gib_v2_w(meter.machine().ram_total_gib);
  EXPECT_NEAR(p.energy_j.value, (4000 + 40 * ram_w) + 7 * (1000 + 10 * ram_w), 1e-3);
}

}  // namespace
}  // namespace greensed::energy

namespace greensed::energy {
namespace {

// The trainer asks predict(n_epochs) after each epoch; the first available projection is what
// energy_meta.json keeps (issue 13 item 4: set_total_epochs was never called by train, so the first
// prediction never reached a real energy_meta.json).
TEST(Predict, FirstPredictionIsKeptByPredict) {
  testing::TempDir dir("first");
  testing::FakeProc proc(dir / "proc");
  RealFileSystem fs;
  FakeClock clock;
  Meter meter(testing::fake_config(dir / "powercap", dir / "perf", proc.root()),
              testing::fake_env(fs, clock));
  meter.start();
  for (int k = 1; k <= 3; ++k) {
    const int id = meter.begin("epoch", WindowKind::kEpoch, k);
    clock.advance_s(k == 1 ? 30 : 10);
    proc.run(100, 0.5);
    meter.end(id);
    meter.predict(5);
    EXPECT_EQ(meter.first_prediction().has_value(), k >= 2);
  }
  EXPECT_EQ(meter.first_prediction()->epochs_done, 2);
  EXPECT_NEAR(meter.first_prediction()->duration_s.value, 40 + 3 * 10, 1e-6);
}

}  // namespace
}  // namespace greensed::energy

namespace greensed::energy {
namespace {

TEST(StopSignalsTest, SigtermSetsTheFlagInsteadOfKilling) {
  StopSignals::install();
  EXPECT_FALSE(StopSignals::requested());
  ::raise(SIGTERM);
  EXPECT_TRUE(StopSignals::requested());
  EXPECT_EQ(StopSignals::signal_number(), SIGTERM);
  ::signal(SIGTERM, SIG_DFL);
}

}  // namespace
}  // namespace greensed::energy
