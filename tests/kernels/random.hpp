// Random test data and comparison helpers shared by the kernel tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "greensed/core/rng.hpp"

namespace greensed::kernels::testing {

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  core::RngStream rng(seed, uint64_t(core::RngStreamId::kTest));
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.uniform(lo, hi));
  return v;
}

// Max |a − b| / (1 + |b|) over all elements.
inline double max_rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (1.0 + std::abs(double(b[i]))));
  }
  return worst;
}

}  // namespace greensed::kernels::testing
