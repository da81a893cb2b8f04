// Summation orders of numpy and pandas (spec/metrics.md §9), so that results match the reference
// libraries to the last bit. Private to the metrics module.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>

namespace greensed::metrics::detail {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// numpy's pairwise summation (numpy/core/src/umath/loops_utils.h.src, PW_BLOCKSIZE 128).
double pairwise_sum(const double* a, size_t n, size_t stride = 1);
inline double pairwise_sum(std::span<const double> a) {
  return pairwise_sum(a.data(), a.size());
}

// np.nanmean of a 1-D array: NaN -> 0, pairwise sum, divided by the number of non-NaN values
// (NaN when there are none).
double nanmean(std::span<const double> a);

// pandas groupby-sum: Kahan-compensated, in row order.
struct KahanSum {
  double sum = 0.0, compensation = 0.0;
  void add(double v) {
    const double y = v - compensation;
    const double t = sum + y;
    compensation = (t - sum) - y;
    sum = t;
  }
};

}  // namespace greensed::metrics::detail
