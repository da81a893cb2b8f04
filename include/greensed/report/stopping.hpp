// Stopping policies, evaluated after each epoch on the epoch log so far. The same code decides live
// in `greensed train` and in `greensed report --replay` on a finished run's epochs.csv.
//
// Monitored quantities (spec desed_baseline §4.7, §10):
//   objective  = val_obj, the recipe's val/obj_metric (patience, relative improvement);
//   F1         = val_synth_f1_teacher, the teacher's synthetic-validation intersection F1 that the
//                "Performance above all?" tables report (target F1, F1 gained per kWh).
// Epochs without validation (NaN) never trigger a policy.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <cmath>

#include "greensed/core/config.hpp"
#include "greensed/report/epochs.hpp"

namespace greensed::report {

struct StopDecision {
  bool stop = false;
  std::string policy;  // "patience", "energy_budget", "target_f1", "f1_gain_per_kwh",
                       // "relative_improvement"
  std::string reason;  // a sentence with the numbers that decided it
};

// `patience` is the effective patience (stopping.patience, or training.early_stop_patience when 0).
// `next_epoch_kwh` is the meter's prediction of the next epoch's energy (for the budget policy).
// `run_kwh_so_far` is what the whole run has used (set-up, validation, checkpoints, earlier
// processes of a resumed run: the meter's run window); the budget is checked against it. NaN (a
// replay from epochs.csv, which has no run figure) falls back to the sum of the epochs.
StopDecision decide_stop(const std::vector<EpochRecord>& history,
                         const core::StoppingConfig& policy, int patience, double next_epoch_kwh,
                         double run_kwh_so_far = std::nan(""));

// The PyTorch Lightning EarlyStopping rule (mode max, min_delta 0): the number of validated epochs
// since the objective last strictly improved.
int epochs_without_improvement(const std::vector<EpochRecord>& history);

// The budget policy's estimate of the next epoch's energy: the mean kWh of the epochs so far, the
// first (warm-up) epoch excluded once there are two or more; 0 before any epoch.
double predicted_next_epoch_kwh(const std::vector<EpochRecord>& history);

struct ReplayResult {
  std::string name;      // the policy as written
  int stop_epoch = 0;    // last epoch trained under the policy
  bool stopped = false;  // false: the policy never fired within the run
  std::string reason;
  double kwh_used = 0, kwh_saved = 0;
  double f1_reached = 0, f1_lost = 0;  // best monitored F1 up to stop_epoch, and the shortfall
  double f1_full = 0, kwh_full = 0;
};

// Parses a policy written as on the command line: "patience=10", "energy_budget_kwh=0.02",
// "target_f1=0.4", "min_f1_gain_per_kwh=5,gain_window=3",
// "min_relative_improvement=0.01,gain_window=5". Keys are those of the `stopping` config section;
// InputError names the bad part.
core::StoppingConfig parse_policy(const std::string& text, int* patience);

// Replays a policy on a finished run's epochs; the energy prediction for the budget policy is the
// mean kWh of the epochs so far (the first, warm-up epoch excluded once there are two or more).
ReplayResult replay_policy(const std::vector<EpochRecord>& epochs, const std::string& policy_text);

}  // namespace greensed::report
