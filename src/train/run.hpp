// One training run, phase by phase (the banners of run_training):
//   - TrainingRun(...): open or resume the run: directory, data, models, loader, meter
//     (run_open.cpp);
//   - train_epoch(e): one training epoch: batches → network input → MeanTeacher::step
//     (epoch.cpp);
//   - finish_epoch(e): validation, the epochs.csv row, checkpoints, stopping (finish_epoch.cpp);
//   - test_best(): devtest metrics of the best checkpoint (trainer.cpp);
//   - finish(): energy outputs, summary.json, the result (trainer.cpp).
// The members are the run's state; each phase reads and updates them.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "greensed/core/config.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/data/datasets.hpp"
#include "greensed/data/loader.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/system.hpp"
#include "greensed/features/cache.hpp"
#include "greensed/features/db_scaler.hpp"
#include "greensed/report/stopping.hpp"
#include "greensed/train/cache_source.hpp"
#include "greensed/train/checkpoint.hpp"
#include "greensed/train/mean_teacher.hpp"
#include "greensed/train/run_dir.hpp"
#include "greensed/train/trainer.hpp"

namespace greensed::train {

using Clock = std::chrono::steady_clock;

class TraceWriter;

// What one epoch's train phase produced.
struct EpochTrained {
  StepLosses means;   // per-step means of every term
  StepSchedule last;  // the schedule of the epoch's last step
  int steps_done = 0;
  Clock::time_point started;
  double train_s = 0;
  int epoch_window = -1;  // the meter's open epoch window (-1 without a meter)
  bool interrupted = false;
};

class TrainingRun {
 public:
  TrainingRun(const core::Config& config, const TrainOptions& options);  // run_open.cpp
  ~TrainingRun();

  // Epochs left to run: from state.epoch + 1 until n_epochs, an interruption or a stop.
  bool more_epochs() const;
  int next_epoch() const { return state_.epoch + 1; }

  EpochTrained train_epoch(int epoch);                        // epoch.cpp
  void finish_epoch(int epoch, const EpochTrained& trained);  // finish_epoch.cpp
  void test_best(nlohmann::json& summary);                    // trainer.cpp
  TrainResult finish();                                       // trainer.cpp

 private:
  // run_open.cpp
  void open_run_dir();
  void init_models();
  void open_loader();
  void open_meter();
  // epoch.cpp
  void report_progress(int epoch, int steps_done, const EpochTrained& so_far,
                       Clock::time_point t_epoch, bool epoch_done) const;
  // finish_epoch.cpp
  report::EpochRecord epoch_row(int epoch, const EpochTrained& trained, bool validate_now);
  void add_energy(report::EpochRecord& row, int epoch_window);
  std::vector<std::string> update_bests_and_stop(const report::EpochRecord& row, bool validate_now);
  // trainer.cpp
  nlohmann::json summary_json() const;

  const core::Config& config_;
  const TrainOptions& options_;
  const Clock::time_point t_run_ = Clock::now();
  std::shared_ptr<RunDirLock> lock_;  // held for the whole run
  std::string run_dir_, last_path_;
  std::string resume_path_;  // the checkpoint resumed from ("" when starting)
  bool resuming_ = false;

  data::DesedSets sets_;
  std::unique_ptr<features::FeatureCache> cache_;
  int n_frames_ = 0;  // the network's input frames (626 for 10 s)
  features::NormType norm_{};
  core::RngStream crop_rng_;
  std::unique_ptr<CacheFeatureSource> train_source_, eval_source_;

  MeanTeacher mt_;
  TrainState state_;
  std::unique_ptr<data::BatchLoader> loader_;
  int steps_per_epoch_ = 0, n_rows_ = 0, patience_ = 0;

  std::unique_ptr<energy::SystemEnv> env_;
  std::unique_ptr<energy::Meter> meter_;
  std::unique_ptr<TraceWriter> trace_;

  bool interrupted_ = false;
  report::StopDecision stop_;
};

double kwh_of(int64_t uj);
double seconds_since(Clock::time_point t0);

}  // namespace greensed::train
