// `greensed train`: the 2022 mean-teacher recipe (spec desed_baseline §4.2, in execution order):
//   features → MixUp (loader) → network input (dB + scaler) → train::MeanTeacher::step (student
//   and teacher forward in train mode, strong BCE on synthetic rows, weak BCE on weak rows,
//   consistency on all rows × w_k, EMA of the teacher before the update, backward, Adam at the
//   warm-up learning rate).
// Every epoch: validation (student and teacher), checkpoints (last, best objective, best F1, first
// F1 ≥ 0.40), one epochs.csv row with losses, schedule, metrics, wall time and kWh per component,
// the meter's projection of the whole run, and the stopping policies. At the end the best
// checkpoint is tested on the devtest set. A killed run resumes from its last checkpoint.
// The phases live in train/run.hpp (TrainingRun); run_training chains them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "greensed/core/config.hpp"

namespace greensed::train {

// Where a running epoch stands (for the command's progress line).
struct Progress {
  int epoch = 0, n_epochs = 0;
  int step = 0, steps_per_epoch = 0;  // steps done in this epoch
  int64_t global_step = 0;
  double clips_per_s = 0, eta_s = 0;  // this epoch's training rate, time left in its train phase
  bool has_energy = false;
  double watts = 0;         // mean power of this epoch so far
  double kwh_run = 0;       // the whole run so far
  bool epoch_done = false;  // the train phase of `epoch` ended (a live line may be cleared)
};

struct TrainOptions {
  std::string run_dir;  // "" = <run.dir>/<run.name or the config file's stem>
  bool resume = false;  // continue from checkpoints/last.safetensors when it exists
  // Continue from this checkpoint instead (relative to the run directory, or as given).
  std::string resume_from;
  // A resumed run may change keys that change what is trained (recorded in config.yaml's history
  // and summary.json); without it such a change is an InputError.
  bool allow_config_change = false;
  // Set (by SIGINT/SIGTERM handlers) to stop after the current step: the checkpoint and the rows
  // are written, and the run can be resumed.
  const std::atomic<int>* stop_requested = nullptr;
  // Called at most every progress_interval_s during an epoch's train phase, and once when it ends.
  std::function<void(const Progress&)> on_progress;
  double progress_interval_s = 1.0;
  // Student weights to start from (a safetensors file with the recipe's names, `sed_student.`
  // prefixed or a bare CRNN state_dict); the teacher starts as its exact copy. "" = seeded init.
  std::string init_from;
  // One JSON object per training step (train/trace.hpp), "" = none.
  std::string trace_path;
};

struct TrainResult {
  std::string run_dir;
  int epochs_done = 0;
  bool interrupted = false;
  std::string stop_policy, stop_reason;
  double kwh_epochs = 0;  // sum of the epoch windows (training + validation)
  double kwh_run = 0;     // the whole run: set-up, epochs, test
  // First epoch start to last epoch end (epochs + checkpoints between them): the window of the
  // DCASE recipe's CodeCarbon training tracker (energy::EpochAccounting).
  double kwh_training_call = 0;
  std::string cpu_method, ram_method, gpu_method;
  // "ESTIMATE by cpu-load-tdp", "measured by rapl-powercap", "none" (energy::method_label).
  std::string cpu_label, ram_label, gpu_label;
  double best_obj = 0, best_f1 = 0;
  int best_epoch = 0;
};

std::string resolve_run_dir(const core::Config& config, const std::string& explicit_dir);

// Throws DivergedError (train/mean_teacher.hpp) when a loss term stops being finite.
TrainResult run_training(const core::Config& config, const TrainOptions& options);

}  // namespace greensed::train
