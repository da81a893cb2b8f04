// features/db_scaler: dB conversion and clamps, the three instance scalers vs their plain twins.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "greensed/core/error.hpp"
#include "greensed/features/db_scaler.hpp"

namespace greensed::features {
namespace {

TEST(DbScaler, AmplitudeToDbAndClamps) {
  std::vector<float> x = {0.0f, 1e-9f, 1e-5f, 0.01f, 1.0f, 10.0f, 1e4f, 1e6f, -3.0f};
  amplitude_to_db(x);
  EXPECT_EQ(x[0], -50.0f);  // zero-padded regions become exactly −50
  EXPECT_EQ(x[1], -50.0f);
  EXPECT_EQ(x[2], -50.0f);  // amin 1e-5 → −100 dB → clamped
  EXPECT_NEAR(x[3], -40.0f, 1e-4);
  EXPECT_EQ(x[4], 0.0f);
  EXPECT_NEAR(x[5], 20.0f, 1e-5);
  EXPECT_EQ(x[6], 80.0f);
  EXPECT_EQ(x[7], 80.0f);
  EXPECT_EQ(x[8], -50.0f);
}

TEST(DbScaler, DbMatchesReference) {
  std::vector<float> x;
  for (double e = -6.0; e <= 5.0; e += 0.01) x.push_back(float(std::pow(10.0, e)));
  auto ref = x;
  amplitude_to_db(x);
  amplitude_to_db_reference(ref);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], ref[i], 2e-5) << i;
}

std::vector<float> random_batch(int n_clips, int n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-50.0f, 60.0f);
  std::vector<float> x(size_t(n_clips) * n);
  for (auto& v : x) v = u(gen);
  return x;
}

class Scaler : public ::testing::TestWithParam<NormType> {};

TEST_P(Scaler, MatchesReferencePerClip) {
  auto x = random_batch(3, 128 * 40, 7);
  for (size_t i = 128 * 40; i < 2 * 128 * 40; ++i) x[i] = 0.5f * x[i] + 20.0f;  // clips differ
  auto ref = x;
  scale_instance(x, 3, GetParam());
  scale_instance_reference(ref, 3, GetParam());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], ref[i], 2e-6 * (1 + std::abs(ref[i])));
}

INSTANTIATE_TEST_SUITE_P(AllNormTypes, Scaler,
                         ::testing::Values(NormType::kMinMax, NormType::kStandard,
                                           NormType::kMean));

TEST(DbScaler, MinMaxSpansZeroToOne) {
  std::vector<float> x = {-50.0f, 0.0f, 30.0f, -50.0f, 0.0f, 10.0f};
  scale_instance(x, 2, NormType::kMinMax);
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_NEAR(x[1], 50.0f / 80.0f, 1e-7);
  EXPECT_NEAR(x[2], 1.0f, 1e-7);
  EXPECT_EQ(x[3], 0.0f);
  EXPECT_NEAR(x[5], 1.0f, 1e-7);
  std::vector<float> flat(10, -50.0f);  // a silent clip: all −50 → all 0 (eps keeps it finite)
  scale_instance(flat, 1, NormType::kMinMax);
  for (const float v : flat) EXPECT_EQ(v, 0.0f);
}

TEST(DbScaler, StandardUsesUnbiasedStd) {
  std::vector<float> x = {1.0f, 2.0f, 3.0f, 4.0f};  // mean 2.5, torch.std = sqrt(5/3)
  scale_instance(x, 1, NormType::kStandard);
  EXPECT_NEAR(x[0], -1.5 / std::sqrt(5.0 / 3.0), 1e-6);
  EXPECT_NEAR(x[3], 1.5 / std::sqrt(5.0 / 3.0), 1e-6);
}

TEST(DbScaler, UnknownNormTypeNamesTheKey) {
  try {
    parse_normtype("zscore");
    FAIL();
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "scaler.normtype: must be one of minmax, standard, mean; found 'zscore'");
  }
  EXPECT_EQ(parse_normtype("minmax"), NormType::kMinMax);
}

}  // namespace
}  // namespace greensed::features
