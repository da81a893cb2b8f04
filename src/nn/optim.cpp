#include "greensed/nn/optim.hpp"

#include <algorithm>
#include <cmath>

#include "greensed/core/cpu.hpp"
#include "greensed/core/error.hpp"
#include "greensed/nn/parallel.hpp"

namespace greensed::nn {
namespace {

// Elementwise updates run over slices of this many values on the process's threads (each value's
// arithmetic is the same whichever thread runs it, so the result does not depend on the count).
constexpr int64_t kSlice = 1 << 16;

template <class Body>
void over_slices(size_t n, Body body) {
  const int64_t n_slices = (int64_t(n) + kSlice - 1) / kSlice;
  parallel_for(n_slices, core::num_threads(), [&](int64_t s, int) {
    body(size_t(s * kSlice), size_t(std::min<int64_t>(int64_t(n), (s + 1) * kSlice)));
  });
}

}  // namespace

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
  // The same float operations as PyTorch 1.13's single-tensor Adam on the CPU, rounding for
  // rounding: the Python-side constants are computed in double and rounded once (1 - beta2 is
  // 0.001f there, while 1.0f - 0.999f is 0.00099998713f: a 1.3e-5 relative bias on every v
  // update), exp_avg.mul_(b1).add_(g, alpha=1-b1) is one fused multiply-add (ATen's vectorised
  // add), addcmul is v*b2 + ((1-b2)*g)*g, denom = sqrt(v) / sqrt(bc2) + eps, and addcdiv is
  // p + (-step_size * m) / denom. optim.cpp is compiled without fp contraction so nothing else
  // fuses.
  const float b1 = float(beta1_), b2 = float(beta2_);
  const float one_minus_b1 = float(1.0 - beta1_), one_minus_b2 = float(1.0 - beta2_);
  const float neg_step_size = float(-(lr / bc1));
  const float sqrt_bc2 = float(std::sqrt(bc2));
  const float eps = float(eps_);
  float* m = state_.m.data();
  float* v = state_.v.data();
  over_slices(params.size(), [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) {
      const float g = grads[i];
      m[i] = std::fma(g, one_minus_b1, m[i] * b1);
      v[i] = v[i] * b2 + one_minus_b2 * g * g;
      const float denom = std::sqrt(v[i]) / sqrt_bc2 + eps;
      params[i] = params[i] + neg_step_size * m[i] / denom;
    }
  });
}

void ema_update(std::span<float> teacher, std::span<const float> student, double alpha) {
  GREENSED_CHECK(teacher.size() == student.size(), "EMA over {} vs {} values", teacher.size(),
                 student.size());
  // As the recipe's teacher.mul_(alpha).add_(student, alpha=1 - alpha): both constants rounded
  // once from double, the add one fused multiply-add (ATen's vectorised add).
  const float a = float(alpha), one_minus = float(1.0 - alpha);
  over_slices(teacher.size(), [&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) teacher[i] = std::fma(student[i], one_minus, teacher[i] * a);
  });
}

}  // namespace greensed::nn
