#include <gtest/gtest.h>

#include <cmath>

#include "greensed/core/error.hpp"
#include "greensed/report/stopping.hpp"

namespace greensed::report {
namespace {

// A crafted run: F1 rises then plateaus; each epoch costs 0.01 kWh (the first 0.02: warm-up).
std::vector<EpochRecord> crafted_run() {
  const double f1[] = {0.05, 0.20, 0.35, 0.42, 0.46, 0.47, 0.475, 0.474, 0.476, 0.4755};
  std::vector<EpochRecord> rows;
  double cum = 0;
  for (int i = 0; i < 10; ++i) {
    EpochRecord r;
    r.epoch = i + 1;
    r.kwh = i == 0 ? 0.02 : 0.01;
    cum += r.kwh;
    r.kwh_cumulative = cum;
    r.val_synth_f1_teacher = f1[i];
    r.val_obj = f1[i] + 0.1;
    rows.push_back(r);
  }
  return rows;
}

TEST(Stopping, PatienceIsLightningsRule) {
  const auto run = crafted_run();
  // Objective best at epoch 9 (0.576); epoch 10 is one epoch without improvement.
  EXPECT_EQ(epochs_without_improvement(run), 1);
  const auto r = replay_policy(run, "patience=2");
  // Epoch 8 (0.574 < 0.575) is the first epoch without improvement; epoch 9 improves again.
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.stop_epoch, 10);
  const auto r1 = replay_policy(run, "patience=1");
  EXPECT_TRUE(r1.stopped);
  EXPECT_EQ(r1.stop_epoch, 8);
  EXPECT_NEAR(r1.kwh_used, 0.09, 1e-12);
  EXPECT_NEAR(r1.kwh_saved, 0.02, 1e-12);
  EXPECT_NEAR(r1.f1_reached, 0.475, 1e-12);
  EXPECT_NEAR(r1.f1_lost, 0.001, 1e-12);
}

TEST(Stopping, TargetF1) {
  const auto r = replay_policy(crafted_run(), "target_f1=0.4");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_epoch, 4);
  EXPECT_NEAR(r.kwh_used, 0.05, 1e-12);
  EXPECT_NEAR(r.f1_reached, 0.42, 1e-12);
}

TEST(Stopping, EnergyBudgetNeverStartsAnEpochThatWouldCrossIt) {
  // After epoch 4: used 0.05, predicted next 0.01 → 0.06 <= 0.065; after epoch 5: 0.06 + 0.01 >
  // 0.065.
  const auto r = replay_policy(crafted_run(), "energy_budget_kwh=0.065");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_epoch, 5);
  EXPECT_LE(r.kwh_used, 0.065);
}

// Issue 13 item 7: the budget compared the sum of the epochs, not the run (set-up, validation and
// checkpoints, earlier processes of a resumed run all count against it).
TEST(Stopping, EnergyBudgetIsCheckedAgainstTheWholeRun) {
  auto run = crafted_run();
  run.resize(2);
  core::StoppingConfig policy;
  policy.energy_budget_kwh = 0.065;
  const double epochs = run.back().kwh_cumulative, next = predicted_next_epoch_kwh(run);
  ASSERT_LT(epochs + next, policy.energy_budget_kwh);
  EXPECT_FALSE(decide_stop(run, policy, 0, next).stop);
  const StopDecision d = decide_stop(run, policy, 0, next, /*run_kwh_so_far=*/0.06);
  EXPECT_TRUE(d.stop);
  EXPECT_EQ(d.policy, "energy_budget");
  EXPECT_NE(d.reason.find("the whole run so far"), std::string::npos) << d.reason;
}

TEST(Stopping, F1GainPerKwh) {
  // Window 2: after epoch 7 the best F1 gained 0.475 − 0.46 = 0.015 over 0.02 kWh = 0.75 F1/kWh.
  const auto r = replay_policy(crafted_run(), "min_f1_gain_per_kwh=1,gain_window=2");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_epoch, 7);
}

TEST(Stopping, RelativeImprovement) {
  // Window 2, 2 %: epoch 7: best obj 0.575 vs 0.56 at epoch 5 → 2.68 %; epoch 8: 0.575 vs 0.57 →
  // 0.88 %.
  const auto r = replay_policy(crafted_run(), "min_relative_improvement=0.02,gain_window=2");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.stop_epoch, 8);
}

TEST(Stopping, BadPolicyTextIsNamed) {
  try {
    replay_policy(crafted_run(), "patiense=3");
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown key 'patiense'"), std::string::npos);
  }
  EXPECT_THROW(replay_policy(crafted_run(), "target_f1=high"), core::InputError);
  EXPECT_THROW(replay_policy(crafted_run(), "gain_window=3"), core::InputError);
}

}  // namespace
}  // namespace greensed::report
