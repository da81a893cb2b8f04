// Adam exactly as torch.optim.Adam (betas 0.9/0.999, eps 1e-8, weight_decay 0, amsgrad off, the
// learning rate passed per step), and the mean-teacher EMA (spec desed_baseline §4.5, §4.6).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace greensed::nn {

struct AdamState {
  std::vector<float> m, v;  // first and second moments, the layout of the parameters
  int64_t step = 0;
};

class Adam {
 public:
  explicit Adam(int64_t n_params, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
  // step += 1; m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²;
  // θ −= (lr / (1 − β1^step))·m / (√v / √(1 − β2^step) + eps).
  void step(std::span<float> params, std::span<const float> grads, double lr);
  AdamState& state() { return state_; }
  const AdamState& state() const { return state_; }

 private:
  double beta1_, beta2_, eps_;
  AdamState state_;
};

// α of step k: train::schedule_at (greensed/train/schedules.hpp).
// teacher = α·teacher + (1 − α)·student over PARAMETERS only (BatchNorm running statistics are
// buffers and are not averaged, as in the recipe).
void ema_update(std::span<float> teacher, std::span<const float> student, double alpha);

}  // namespace greensed::nn
