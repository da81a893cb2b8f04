// Batch composition (spec §4.1, §4.8) and MixUp (spec §4.3).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "greensed/core/config.hpp"
#include "greensed/core/error.hpp"
#include "greensed/data/batches.hpp"

namespace {

using namespace greensed;
using data::BatchSampler;

// DESED's training subsets: synthetic 10000, weak train 1420, unlabelled 14412.
const std::vector<int> kDesed = {10000, 1420, 14412};

class Composition : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(Composition, RowLayoutEpochLengthNoRepeats) {
  const auto [b, expected_steps] = GetParam();
  const auto sizes = data::batch_sizes_from_config(core::batch_composition(b));
  ASSERT_EQ(sizes, (std::vector<int>{b / 4, b / 4, b / 2}));
  BatchSampler sampler(kDesed, sizes, 42);
  EXPECT_EQ(sampler.steps_per_epoch(), expected_steps);  // spec §4.8 table
  std::vector<std::set<int>> seen(3);
  for (int step = 0; step < expected_steps; ++step) {
    const auto d = sampler.next();
    ASSERT_EQ(d.epoch, 0);
    ASSERT_EQ(d.step, step);
    ASSERT_EQ(d.indices.size(), 3u);
    for (int s = 0; s < 3; ++s) {
      ASSERT_EQ(int(d.indices[s].size()), sizes[s]);
      for (int i : d.indices[s]) {
        ASSERT_GE(i, 0);
        ASSERT_LT(i, kDesed[s]);
        ASSERT_TRUE(seen[s].insert(i).second) << "clip " << i << " of subset " << s << " twice";
      }
    }
  }
  // The weak subset limits the epoch: all but 1420 % (b/4) of its clips are seen.
  EXPECT_EQ(int(seen[1].size()), expected_steps * sizes[1]);
  const auto next = sampler.next();
  EXPECT_EQ(next.epoch, 1);
  EXPECT_EQ(next.step, 0);
}

INSTANTIATE_TEST_SUITE_P(BatchSizes, Composition,
                         ::testing::Values(std::pair{4, 1420}, std::pair{8, 710},
                                           std::pair{16, 355}, std::pair{32, 177},
                                           std::pair{48, 118}));

TEST(Sampler, FreshPermutationEveryEpochAndSeeded) {
  BatchSampler a({8, 8, 16}, {2, 2, 4}, 7), b({8, 8, 16}, {2, 2, 4}, 7),
      c({8, 8, 16}, {2, 2, 4}, 8);
  std::vector<int> epoch0, epoch1, other;
  for (int i = 0; i < 4; ++i) {
    const auto d = a.next();
    epoch0.insert(epoch0.end(), d.indices[0].begin(), d.indices[0].end());
    EXPECT_EQ(b.next().indices, d.indices);
    const auto e = c.next();
    other.insert(other.end(), e.indices[0].begin(), e.indices[0].end());
  }
  for (int i = 0; i < 4; ++i) {
    const auto d = a.next();
    epoch1.insert(epoch1.end(), d.indices[0].begin(), d.indices[0].end());
  }
  EXPECT_NE(epoch0, epoch1);
  EXPECT_NE(epoch0, other);
  std::sort(epoch1.begin(), epoch1.end());
  EXPECT_EQ(epoch1, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(Sampler, ResumesExactly) {
  BatchSampler a({30, 12, 40}, {3, 3, 6}, 42);
  for (int i = 0; i < 6; ++i) a.next();  // into epoch 1
  const auto state = a.state();
  std::vector<BatchSampler::Draw> expected;
  for (int i = 0; i < 7; ++i) expected.push_back(a.next());
  BatchSampler b({30, 12, 40}, {3, 3, 6}, 42);
  b.restore(state);
  for (const auto& e : expected) {
    const auto d = b.next();
    EXPECT_EQ(d.epoch, e.epoch);
    EXPECT_EQ(d.step, e.step);
    EXPECT_EQ(d.indices, e.indices);
  }
}

TEST(Sampler, SubsetSmallerThanItsBatchIsInputError) {
  try {
    BatchSampler({100, 3, 100}, {4, 4, 8}, 1);
    ADD_FAILURE();
  } catch (const core::InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "training subset 1 has 3 clips, fewer than its 4 rows per batch; generate or add "
              "more clips, or lower training.batch_size");
  }
}

TEST(Mixup, SoftMixesFeaturesAndClampsTargets) {
  // 3 rows of 2 features, targets of 2.
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<float> y = {1, 0, 0, 1, 1, 1};
  const std::vector<int> perm = {2, 0, 1};
  data::mixup_rows(x, 2, y, 2, 0.25, perm, data::MixupMode::kSoft);
  const std::vector<float> xe = {0.25f * 1 + 0.75f * 5, 0.25f * 2 + 0.75f * 6,
                                 0.25f * 3 + 0.75f * 1, 0.25f * 4 + 0.75f * 2,
                                 0.25f * 5 + 0.75f * 3, 0.25f * 6 + 0.75f * 4};
  for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(x[i], xe[i]);
  const std::vector<float> ye = {1.0f, 0.75f, 0.75f, 0.25f, 0.25f, 1.0f};
  for (size_t i = 0; i < y.size(); ++i) EXPECT_FLOAT_EQ(y[i], ye[i]);
}

TEST(Mixup, HardTargetsAreUnionClamped) {
  std::vector<float> x = {1, 2};
  std::vector<float> y = {1, 0, 1, 1};
  data::mixup_rows(x, 1, y, 2, 0.9, std::vector<int>{1, 0}, data::MixupMode::kHard);
  EXPECT_FLOAT_EQ(x[0], 0.9f * 1 + 0.1f * 2);
  EXPECT_EQ(y, (std::vector<float>{1, 1, 1, 1}));
}

TEST(Mixup, SingleRowIsANoOp) {
  std::vector<float> x = {3, 4};
  std::vector<float> y = {1, 0};
  data::mixup_rows(x, 2, y, 2, 0.3, std::vector<int>{0}, data::MixupMode::kSoft);
  EXPECT_FLOAT_EQ(x[0], 3.0f);
  EXPECT_FLOAT_EQ(x[1], 4.0f);
  EXPECT_EQ(y, (std::vector<float>{1, 0}));
}

TEST(Mixup, DrawsHalfTheStepsWithBetaLambdas) {
  auto rng = core::make_stream(42, core::RngStreamId::kMixup);
  int applied = 0, extreme = 0, n_lambda = 0;
  double sum = 0.0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const auto d = data::draw_mixup(rng, 12, 12);
    if (!d.applied) {
      EXPECT_TRUE(d.perm_weak.empty());
      continue;
    }
    ++applied;
    for (double l : {d.lambda_weak, d.lambda_strong}) {
      ASSERT_GE(l, 0.0);
      ASSERT_LE(l, 1.0);
      sum += l;
      ++n_lambda;
      extreme += (l < 0.1 || l > 0.9) ? 1 : 0;
    }
    std::vector<int> p = d.perm_weak;
    std::sort(p.begin(), p.end());
    ASSERT_EQ(p, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  }
  // Binomial(4000, 0.5): sd 32; Beta(0.2, 0.2): mean 0.5, P(l < 0.1 or l > 0.9) = 0.673 (numpy, 2e6
  // draws).
  EXPECT_NEAR(applied, n / 2, 160);
  EXPECT_NEAR(sum / n_lambda, 0.5, 0.03);
  EXPECT_NEAR(double(extreme) / n_lambda, 0.673, 0.04);
  // Same seed, same draws.
  auto r1 = core::make_stream(5, core::RngStreamId::kMixup);
  auto r2 = core::make_stream(5, core::RngStreamId::kMixup);
  for (int i = 0; i < 20; ++i) {
    const auto a = data::draw_mixup(r1, 4, 4);
    const auto b = data::draw_mixup(r2, 4, 4);
    EXPECT_EQ(a.applied, b.applied);
    EXPECT_EQ(a.lambda_weak, b.lambda_weak);
    EXPECT_EQ(a.perm_strong, b.perm_strong);
  }
}

TEST(Mixup, ModeParsing) {
  EXPECT_EQ(data::parse_mixup_mode("soft"), data::MixupMode::kSoft);
  EXPECT_EQ(data::parse_mixup_mode("hard"), data::MixupMode::kHard);
  EXPECT_EQ(data::parse_mixup_mode("none"), data::MixupMode::kNone);
  EXPECT_THROW(data::parse_mixup_mode("sof"), core::InputError);
}

}  // namespace
