#include <gtest/gtest.h>

#include <bit>
#include <vector>

#include "greensed/kernels/dropout.hpp"

namespace greensed::kernels {
namespace {

TEST(Dropout, MaskMatchesReferenceForHalfAndOtherP) {
  const core::RngStream rng(42, uint64_t(core::RngStreamId::kDropoutStudent));
  for (const float p : {0.5f, 0.2f, 0.9f}) {
    for (const int64_t n : {1, 63, 64, 65, 128, 1000, 4099}) {
      std::vector<uint64_t> a(dropout_words(n), ~0ull), b(dropout_words(n), ~0ull);
      dropout_keep_bits(rng, 17, n, p, a.data());
      dropout_keep_bits_reference(rng, 17, n, p, b.data());
      EXPECT_EQ(a, b) << "p=" << p << " n=" << n;
    }
  }
}

TEST(Dropout, KeepRateIsOneMinusP) {
  const core::RngStream rng(1, uint64_t(core::RngStreamId::kDropoutStudent));
  const int64_t n = 1 << 20;
  std::vector<uint64_t> bits(dropout_words(n));
  for (const float p : {0.5f, 0.2f}) {
    dropout_keep_bits(rng, 0, n, p, bits.data());
    int64_t kept = 0;
    for (uint64_t w : bits) kept += std::popcount(w);
    const double rate = double(kept) / double(n);
    // 5 standard deviations of a binomial proportion at n = 2^20.
    EXPECT_NEAR(rate, 1.0 - p, 5.0 * std::sqrt(p * (1.0 - p) / n)) << p;
  }
}

TEST(Dropout, SegmentsAreIndependentOfHowTheyAreSplit) {
  const core::RngStream rng(3, 2);
  const int64_t n = 512;
  std::vector<uint64_t> whole(dropout_words(n)), halves(dropout_words(n));
  dropout_keep_bits(rng, 5, n, 0.5f, whole.data());
  dropout_keep_bits(rng, 5, 256, 0.5f, halves.data());
  dropout_keep_bits(rng, 5 + dropout_blocks(256, 0.5f), 256, 0.5f, halves.data() + 4);
  EXPECT_EQ(whole, halves);
}

}  // namespace
}  // namespace greensed::kernels
