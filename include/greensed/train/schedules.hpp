// The 2022 recipe's schedules (spec desed_baseline §4.4, §4.6, §13 items 1-2), as pure functions of
// the global step k = 1, 2, ... (the scheduler's step_num during step k).
#pragma once

#include <cstdint>

#include "greensed/core/config.hpp"

namespace greensed::train {

// What step k runs at. schedule_at is THE function of the config every caller uses (the trainer,
// bench step, the golden test, the trace).
struct StepSchedule {
  double lr = 0;                  // Adam's learning rate
  double consistency_weight = 0;  // w_k
  double ema_alpha = 0;           // α_k of the teacher update
};

// Step k of a run with `steps_per_epoch` steps per epoch: opt.lr, training.const_max,
// training.ema_factor, warm-up over training.n_epochs_warmup epochs.
StepSchedule schedule_at(const core::Config& config, int64_t steps_per_epoch, int64_t k);

// asteroid ExponentialWarmup factor: f(s) = exp(-5·(1 − min(max(s, 0), R)/R)²); f = 1 when R = 0.
double exp_rampup(int64_t step, int64_t rampup_steps);

// Learning rate Adam uses at step k. Step 1 runs at max_lr: Adam was built with lr 1e-3 and the
// scheduler has not stepped yet (the recipe's first-step quirk). From k = 2 on: max_lr·f(k).
double learning_rate(int64_t k, double max_lr, int64_t rampup_steps);

// Weight of the consistency losses at step k: const_max·f(k) (f at the scheduler's step_num = k).
double consistency_weight(int64_t k, double const_max, int64_t rampup_steps);

// EMA factor of the teacher update at step k: min(1 − 1/(k + 1), ema_factor).
double ema_alpha(int64_t k, double ema_factor);

// Warm-up length in steps: n_epochs_warmup · steps per epoch.
inline int64_t rampup_steps(int n_epochs_warmup, int64_t steps_per_epoch) {
  return int64_t(n_epochs_warmup) * steps_per_epoch;
}

}  // namespace greensed::train
