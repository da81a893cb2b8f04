#include "greensed/core/rng.hpp"

#include <numeric>

#include "greensed/core/error.hpp"

namespace greensed::core {

int64_t RngStream::randint(int64_t lo, int64_t hi) {
  GREENSED_CHECK(lo <= hi, "randint({}, {})", lo, hi);
  const uint64_t range = uint64_t(hi - lo) + 1;
  if (range == 0) return int64_t(next_u64());  // full 64-bit range
  // Rejection sampling: discard the top partial bucket so every value is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
  uint64_t x;
  do {
    x = next_u64();
  } while (x >= limit);
  return lo + int64_t(x % range);
}

double RngStream::normal() {
  double u1;
  do {
    u1 = uniform();
  } while (u1 <= 0.0);
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double RngStream::gamma(double shape) {
  GREENSED_CHECK(shape > 0.0, "gamma shape {}", shape);
  if (shape < 1.0) {
    // Boost: Gamma(a) = Gamma(a + 1) * U^(1/a).
    double u;
    do {
      u = uniform();
    } while (u <= 0.0);
    return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

double RngStream::beta(double a, double b) {
  const double x = gamma(a);
  const double y = gamma(b);
  if (x + y == 0.0) return uniform() < a / (a + b) ? 1.0 : 0.0;  // both underflowed (tiny shapes)
  return x / (x + y);
}

std::vector<int> RngStream::permutation(int n) {
  std::vector<int> p(n);
  std::iota(p.begin(), p.end(), 0);
  shuffle(std::span<int>(p));
  return p;
}

}  // namespace greensed::core
