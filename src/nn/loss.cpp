#include "greensed/nn/loss.hpp"

#include <algorithm>
#include <cmath>

namespace greensed::nn {

double bce_mean(const float* p, const float* y, int64_t n, float scale, float* grad_p) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double lp = std::max(std::log(double(p[i])), -100.0);
    const double lq = std::max(std::log(1.0 - double(p[i])), -100.0);
    sum -= double(y[i]) * lp + (1.0 - double(y[i])) * lq;
  }
  if (grad_p != nullptr) {
    const float k = scale / float(n);
    for (int64_t i = 0; i < n; ++i) {
      grad_p[i] += k * (p[i] - y[i]) / std::max(p[i] * (1.0f - p[i]), 1e-12f);
    }
  }
  return sum / double(n);
}

double mse_mean(const float* p, const float* target, int64_t n, float scale, float* grad_p) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = double(p[i]) - target[i];
    sum += d * d;
  }
  if (grad_p != nullptr) {
    const float k = 2.0f * scale / float(n);
    for (int64_t i = 0; i < n; ++i) grad_p[i] += k * (p[i] - target[i]);
  }
  return sum / double(n);
}

}  // namespace greensed::nn
