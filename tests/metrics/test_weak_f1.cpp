// Weak (clip-level) macro F1 with torchmetrics 0.7.3 semantics.
#include <gtest/gtest.h>

#include "greensed/metrics/weak_f1.hpp"

namespace greensed::metrics {
namespace {

TEST(WeakMacroF1, ThresholdIsInclusiveAndAbsentClassesAreSkipped) {
  WeakMacroF1 f1(3);
  // class 0: tp 1, fp 1 (0.5 counts as positive); class 1: fn 1; class 2: never present.
  f1.update(std::vector<float>{0.5f, 0.2f, 0.1f, 0.7f, 0.3f, 0.0f},
            std::vector<float>{1.f, 1.f, 0.f, 0.f, 0.f, 0.f});
  EXPECT_EQ(f1.tp(), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(f1.fp(), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(f1.fn(), (std::vector<int64_t>{0, 1, 0}));
  const auto per_class = f1.per_class();
  EXPECT_FLOAT_EQ(per_class[0], 2.0f * 0.5f * 1.0f / 1.5f);
  EXPECT_EQ(per_class[1], 0.0f);
  EXPECT_EQ(per_class[2], 0.0f);
  // macro over classes 0 and 1 only (class 2 has tp + fp + fn = 0)
  EXPECT_FLOAT_EQ(f1.compute(), (per_class[0] + 0.0f) / 2.0f);
}

TEST(WeakMacroF1, AccumulatesOverBatchesAndResets) {
  WeakMacroF1 f1(2);
  f1.update(std::vector<float>{0.9f, 0.1f}, std::vector<float>{1.f, 0.f});
  f1.update(std::vector<float>{0.1f, 0.9f}, std::vector<float>{0.f, 1.f});
  EXPECT_EQ(f1.compute(), 1.0f);
  f1.reset();
  EXPECT_EQ(f1.compute(), 0.0f);  // nothing seen: every class skipped
}

}  // namespace
}  // namespace greensed::metrics
