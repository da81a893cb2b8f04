// epochs.csv: one row per finished epoch of a training run, written by train and read by report
// (tables, policy replay) and by `greensed train --resume`. Rows are appended whole; NaN marks a
// value not computed in that epoch (e.g. no validation when validation_interval > 1).
#pragma once

#include <string>
#include <vector>

namespace greensed::report {

struct EpochRecord {
  int epoch = 0;  // 1-based
  long step = 0;  // global step at the end of the epoch
  double lr = 0;  // learning rate of the epoch's last step
  double consistency_weight = 0;
  // Training losses, means over the epoch's steps.
  double loss_total = 0, loss_strong = 0, loss_weak = 0, loss_cons_strong = 0, loss_cons_weak = 0;
  double teacher_loss_strong = 0, teacher_loss_weak = 0;
  // Validation (synthetic validation intersection F1 at the configured DTC/GTC, weak macro F1).
  double val_synth_f1_student = 0, val_synth_f1_teacher = 0;
  double val_weak_f1_student = 0, val_weak_f1_teacher = 0;
  double val_obj = 0;  // student weak F1 + student synthetic F1 (the recipe's val/obj_metric)
  // Wall-clock seconds.
  double wall_s = 0, train_s = 0, val_s = 0, wall_cumulative_s = 0;
  // Energy of the epoch's window per component (kWh, PUE not applied) and totals (PUE applied).
  double kwh_cpu = 0, kwh_dram = 0, kwh_gpu = 0, kwh_ram = 0;
  double kwh = 0, kwh_cumulative = 0;
  double predicted_total_kwh = 0;  // NaN before the meter can predict
};

// The column names, in file order.
const std::vector<std::string>& epoch_columns();

std::string epochs_csv_header();
std::string epochs_csv_row(const EpochRecord& r);

// Appends one row (writes the header first if the file does not exist). Whole rows only.
void append_epoch(const std::string& path, const EpochRecord& r);
// Rewrites the file with exactly these rows (used when resuming drops rows past the checkpoint).
void write_epochs(const std::string& path, const std::vector<EpochRecord>& rows);
// Reads by header name; InputError naming the file and line for a malformed row.
std::vector<EpochRecord> read_epochs(const std::string& path);
// Same from text; `origin` names it in messages.
std::vector<EpochRecord> parse_epochs(const std::string& text, const std::string& origin);

}  // namespace greensed::report
