#include "greensed/train/schedules.hpp"

#include <algorithm>
#include <cmath>

namespace greensed::train {

double exp_rampup(int64_t step, int64_t rampup_steps) {
  if (rampup_steps == 0) return 1.0;
  const double s = double(std::clamp<int64_t>(step, 0, rampup_steps));
  const double phase = 1.0 - s / double(rampup_steps);
  return std::exp(-5.0 * phase * phase);
}

double learning_rate(int64_t k, double max_lr, int64_t rampup_steps) {
  return k <= 1 ? max_lr : max_lr * exp_rampup(k, rampup_steps);
}

double consistency_weight(int64_t k, double const_max, int64_t rampup_steps) {
  return const_max * exp_rampup(k, rampup_steps);
}

double ema_alpha(int64_t k, double ema_factor) {
  return std::min(1.0 - 1.0 / double(k + 1), ema_factor);
}

StepSchedule schedule_at(const core::Config& config, int64_t steps_per_epoch, int64_t k) {
  const int64_t rampup = rampup_steps(config.training.n_epochs_warmup, steps_per_epoch);
  StepSchedule s;
  s.lr = learning_rate(k, config.opt.lr, rampup);
  s.consistency_weight = consistency_weight(k, config.training.const_max, rampup);
  s.ema_alpha = ema_alpha(k, config.training.ema_factor);
  return s;
}

}  // namespace greensed::train
