#include <gtest/gtest.h>

#include "greensed/train/schedules.hpp"

namespace greensed::train {
namespace {

// Verification vectors of spec desed_baseline §4.4 and §13 (R = 50 epochs · 118 steps = 5900).
constexpr int64_t kR = 5900;

TEST(Schedules, RampupMatchesSpecVectors) {
  EXPECT_EQ(rampup_steps(50, 118), kR);
  EXPECT_NEAR(exp_rampup(1, kR), 0.0067494, 5e-8);
  EXPECT_NEAR(exp_rampup(2950, kR), 0.2865048, 5e-8);
  EXPECT_DOUBLE_EQ(exp_rampup(kR, kR), 1.0);
  EXPECT_DOUBLE_EQ(exp_rampup(kR + 100, kR), 1.0);
  EXPECT_DOUBLE_EQ(exp_rampup(17, 0), 1.0);
}

TEST(Schedules, LearningRateHasTheFirstStepQuirk) {
  EXPECT_DOUBLE_EQ(learning_rate(1, 1e-3, kR), 1e-3);
  EXPECT_NEAR(learning_rate(2, 1e-3, kR), 6.761e-6, 5e-10);
  EXPECT_NEAR(learning_rate(118, 1e-3, kR), 8.21e-6, 5e-9);
  EXPECT_NEAR(learning_rate(2950, 1e-3, kR), 2.865e-4, 5e-8);
  EXPECT_DOUBLE_EQ(learning_rate(6000, 1e-3, kR), 1e-3);
}

TEST(Schedules, ConsistencyWeight) {
  EXPECT_NEAR(consistency_weight(1, 2.0, kR), 0.0134988, 5e-8);
  EXPECT_DOUBLE_EQ(consistency_weight(kR, 2.0, kR), 2.0);
}

TEST(Schedules, EmaAlpha) {
  EXPECT_DOUBLE_EQ(ema_alpha(1, 0.999), 0.5);
  EXPECT_DOUBLE_EQ(ema_alpha(3, 0.999), 0.75);
  EXPECT_DOUBLE_EQ(ema_alpha(998, 0.999), 1.0 - 1.0 / 999.0);
  EXPECT_DOUBLE_EQ(ema_alpha(999, 0.999), 0.999);
  EXPECT_DOUBLE_EQ(ema_alpha(100000, 0.999), 0.999);
}

}  // namespace
}  // namespace greensed::train
