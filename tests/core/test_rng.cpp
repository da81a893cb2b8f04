#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "greensed/core/rng.hpp"

namespace greensed::core {
namespace {

TEST(Philox, MatchesRandom123KnownAnswer) {
  // Random123 kat_vectors: philox4x32 10 rounds, ctr = key = 0.
  const auto zero = philox4x32({0, 0, 0, 0}, {0, 0});
  EXPECT_EQ(zero, (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  const auto ones =
      philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(ones, (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
}

TEST(RngStream, StateRestoresExactly) {
  RngStream a(42, 7);
  for (int i = 0; i < 10; ++i) a.uniform();
  RngStream b(a.state());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(RngStream, StreamsAreIndependent) {
  RngStream a(42, 1), b(42, 2);
  EXPECT_NE(a.next_u64(), b.next_u64());
}

TEST(RngStream, UniformMoments) {
  RngStream r(1, 1);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum2 += u * u;
  }
  EXPECT_NEAR(sum / n, 0.5, 0.003);
  EXPECT_NEAR(sum2 / n - 0.25, 1.0 / 12, 0.002);
}

TEST(RngStream, RandintCoversBothEnds) {
  RngStream r(3, 1);
  std::vector<int> counts(5, 0);
  for (int i = 0; i < 50000; ++i) counts[r.randint(0, 4)]++;
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

TEST(RngStream, BetaMeanAndVariance) {
  // Beta(0.2, 0.2) (MixUp): mean 0.5, variance ab/((a+b)^2(a+b+1)) = 0.04/(0.16*1.4) = 0.178571.
  RngStream r(5, 1);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = r.beta(0.2, 0.2);
    ASSERT_GE(x, 0.0);
    ASSERT_LE(x, 1.0);
    sum += x;
    sum2 += x * x;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.5, 0.005);
  EXPECT_NEAR(sum2 / n - mean * mean, 0.178571, 0.003);
}

TEST(RngStream, PermutationIsAPermutation) {
  RngStream r(9, 1);
  auto p = r.permutation(100);
  std::sort(p.begin(), p.end());
  std::vector<int> expect(100);
  std::iota(expect.begin(), expect.end(), 0);
  EXPECT_EQ(p, expect);
}

}  // namespace
}  // namespace greensed::core
