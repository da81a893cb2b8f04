// The tables of the "Performance above all?" study (DESIGN.md job 2), from finished runs.
//
// Per run (monitored F1 = teacher synthetic-validation intersection F1, see stopping.hpp):
//   max_f1, wall_s, total_kwh, wh_per_epoch, wh_per_minute               (Table 1)
//   kwh_at_f1_040  first epoch with F1 >= 0.40 (NaN if never reached)
//   kwh_at_95      first epoch with F1 >= 0.95 · max_f1
//   kwh_at_max     first epoch reaching max_f1
//   extra_95_to_max = kwh_at_max − kwh_at_95                                 (Table 2)
// Per batch size: mean and sample standard deviation (ddof = 1) over seeds; std is NaN for one run.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "greensed/report/epochs.hpp"

namespace greensed::report {

struct RunSummary {
  std::string dir;
  int batch_size = 0;  // total batch (synthetic + weak + unlabelled)
  long long seed = 0;
  int n_epochs = 0;
  double max_f1 = 0, wall_s = 0, total_kwh = 0, wh_per_epoch = 0, wh_per_minute = 0;
  double kwh_at_f1_040 = 0, kwh_at_95 = 0, kwh_at_max = 0, extra_95_to_max = 0;
};

RunSummary summarize_run(const std::vector<EpochRecord>& epochs, int batch_size, long long seed,
                         const std::string& dir);

struct MeanStd {
  double mean = 0, std = 0;
  int n = 0;  // runs with a finite value
};
MeanStd mean_std(const std::vector<double>& values);  // NaN values are left out

struct BatchRow {
  int batch_size = 0;
  int n_runs = 0;
  MeanStd max_f1, wall_s, total_kwh, wh_per_epoch, wh_per_minute;
  MeanStd kwh_at_f1_040, kwh_at_95, kwh_at_max, extra_95_to_max;
};
std::vector<BatchRow> aggregate_by_batch(const std::vector<RunSummary>& runs);

std::string table1_markdown(const std::vector<BatchRow>& rows);
std::string table2_markdown(const std::vector<BatchRow>& rows);
std::string tables_csv(const std::vector<BatchRow>& rows);
std::string runs_csv(const std::vector<RunSummary>& runs);

}  // namespace greensed::report
