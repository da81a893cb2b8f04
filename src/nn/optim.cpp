#include "greensed/nn/optim.hpp"

#include <algorithm>
#include <cmath>

#include "greensed/core/error.hpp"

namespace greensed::nn {

Adam::Adam(int64_t n_params, double beta1, double beta2, double eps)
    : beta1_(beta1), beta2_(beta2), eps_(eps) {
  state_.m.assign(n_params, 0.0f);
  state_.v.assign(n_params, 0.0f);
}

void Adam::step(std::span<float> params, std::span<const float> grads, double lr) {
  GREENSED_CHECK(params.size() == state_.m.size() && grads.size() == params.size(),
                 "Adam over {} values got {} params and {} grads", state_.m.size(), params.size(),
                 grads.size());
  state_.step += 1;
  const double bc1 = 1.0 - std::pow(beta1_, double(state_.step));
  const double bc2 = 1.0 - std::pow(beta2_, double(state_.step));
  // The same float operations as PyTorch's single-tensor Adam (1.13): step_size = lr / bc1,
  // denom = √v / √bc2 + eps.
  const float b1 = float(beta1_), b2 = float(beta2_);
  const float step_size = float(lr / bc1);
  const float sqrt_bc2 = float(std::sqrt(bc2));
  const float eps = float(eps_);
  float* m = state_.m.data();
  float* v = state_.v.data();
  const size_t n = params.size();
  for (size_t i = 0; i < n; ++i) {
    const float g = grads[i];
    m[i] = m[i] * b1 + (1.0f - b1) * g;
    v[i] = v[i] * b2 + (1.0f - b2) * g * g;
    const float denom = std::sqrt(v[i]) / sqrt_bc2 + eps;
    params[i] += -step_size * (m[i] / denom);
  }
}

void ema_update(std::span<float> teacher, std::span<const float> student, double alpha) {
  GREENSED_CHECK(teacher.size() == student.size(), "EMA over {} vs {} values", teacher.size(),
                 student.size());
  const float a = float(alpha), one_minus = float(1.0 - alpha);
  for (size_t i = 0; i < teacher.size(); ++i) teacher[i] = a * teacher[i] + one_minus * student[i];
}

}  // namespace greensed::nn
