// Central-difference gradient checks. Gradient buffers are pre-filled with a sentinel before the
// backward under test, and the sentinel is subtracted before comparing: a backward that
// overwrites instead of accumulating fails.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "greensed/core/rng.hpp"

namespace greensed::nn::testing {

inline constexpr float kSentinel = 0.375f;

inline std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  core::RngStream rng(seed, uint64_t(core::RngStreamId::kTest));
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.uniform(lo, hi));
  return v;
}

// Σ r·out in double: the scalar whose gradient w.r.t. out is r.
inline double weighted_sum(const float* out, const std::vector<float>& r) {
  double s = 0.0;
  for (size_t i = 0; i < r.size(); ++i) s += double(out[i]) * r[i];
  return s;
}

// For every element of values[0..n): (loss(v + eps) − loss(v − eps)) / 2eps vs
// analytic_with_sentinel[i] − kSentinel, |a − n| ≤ atol + rtol·max(|a|, |n|).
inline void expect_gradient(const std::function<double()>& loss, float* values,
                            const float* analytic_with_sentinel, int64_t n, const std::string& what,
                            float eps = 1e-2f, double atol = 2e-3, double rtol = 2e-2) {
  int failures = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float saved = values[i];
    values[i] = saved + eps;
    const double up = loss();
    values[i] = saved - eps;
    const double down = loss();
    values[i] = saved;
    const double numeric = (up - down) / (2.0 * double(eps));
    const double analytic = double(analytic_with_sentinel[i]) - kSentinel;
    const double tol = atol + rtol * std::max(std::abs(numeric), std::abs(analytic));
    if (std::abs(numeric - analytic) > tol && failures++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic << " vs numeric " << numeric;
    }
  }
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << n << " elements off";
}

}  // namespace greensed::nn::testing
