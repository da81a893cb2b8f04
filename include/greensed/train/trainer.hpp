// `greensed train`: the 2022 mean-teacher recipe (spec desed_baseline §4.2, in execution order):
//   features → MixUp (loader) → dB + scaler → student and teacher forward (both in train mode) →
//   strong BCE on synthetic rows, weak BCE on weak rows, MSE consistency on all rows × 2·f(k) →
//   EMA of the teacher (before the update) → backward → Adam at the warm-up learning rate.
// Every epoch: validation (student and teacher), checkpoints (last, best objective, best F1, first
// F1 ≥ 0.40), one epochs.csv row with losses, schedule, metrics, wall time and kWh per component,
// the meter's projection of the whole run, and the stopping policies. At the end the best
// checkpoint is tested on the devtest set. A killed run resumes from its last checkpoint.
#pragma once

#include <atomic>
#include <string>

#include "greensed/core/config.hpp"

namespace greensed::train {

struct TrainOptions {
  std::string run_dir;  // "" = <run.dir>/<run.name or the config file's stem>
  bool resume = false;  // continue from checkpoints/last.safetensors when it exists
  // Set (by SIGINT/SIGTERM handlers) to stop after the current step: the checkpoint and the rows
  // are written, and the run can be resumed.
  const std::atomic<int>* stop_requested = nullptr;
  bool progress_line = false;  // redraw a live progress line on stderr (a terminal)
};

struct TrainResult {
  std::string run_dir;
  int epochs_done = 0;
  bool interrupted = false;
  std::string stop_policy, stop_reason;
  double kwh_epochs = 0;  // sum of the epoch windows (training + validation)
  double kwh_run = 0;     // the whole run: set-up, epochs, test
  std::string cpu_method, ram_method, gpu_method;
  double best_obj = 0, best_f1 = 0;
  int best_epoch = 0;
};

std::string resolve_run_dir(const core::Config& config, const std::string& explicit_dir);

TrainResult run_training(const core::Config& config, const TrainOptions& options);

}  // namespace greensed::train
