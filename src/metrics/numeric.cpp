#include "numeric.hpp"

#include <vector>

namespace greensed::metrics::detail {

double pairwise_sum(const double* a, size_t n, size_t stride) {
  if (n < 8) {
    double res = 0.0;
    for (size_t i = 0; i < n; ++i) res += a[i * stride];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[size_t(j) * stride];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (int j = 0; j < 8; ++j) r[j] += a[(i + size_t(j)) * stride];
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i * stride];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2, stride) + pairwise_sum(a + n2 * stride, n - n2, stride);
}

double nanmean(std::span<const double> a) {
  std::vector<double> v(a.begin(), a.end());
  size_t count = 0;
  for (double& x : v) {
    if (std::isnan(x)) {
      x = 0.0;
    } else {
      ++count;
    }
  }
  if (count == 0) return kNaN;
  return pairwise_sum(v.data(), v.size()) / double(count);
}

}  // namespace greensed::metrics::detail
