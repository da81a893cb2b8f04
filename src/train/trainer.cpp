#include "greensed/train/trainer.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>

#include "greensed/core/fs.hpp"
#include "greensed/energy/writers.hpp"
#include "greensed/train/evaluation.hpp"
#include "run.hpp"
#include "trace.hpp"

namespace greensed::train {
namespace {

namespace fs = std::filesystem;

nlohmann::json finite_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

TrainResult run_training(const core::Config& config, const TrainOptions& options) {
  // ---- open or resume the run
  TrainingRun run(config, options);
  while (run.more_epochs()) {
    const int epoch = run.next_epoch();
    // ---- one training epoch
    const EpochTrained trained = run.train_epoch(epoch);
    if (trained.interrupted) break;
    // ---- validation, records, checkpoints, stopping
    run.finish_epoch(epoch, trained);
  }
  // ---- test of the best checkpoint on devtest, then the summary
  return run.finish();
}

// Devtest metrics (student and teacher) of checkpoints/best.safetensors, into summary["test"].
void TrainingRun::test_best(nlohmann::json& summary) {
  const std::string best = run_dir_ + "/checkpoints/best.safetensors";
  if (interrupted_ || sets_.test.clips.empty() || !fs::exists(best)) return;
  const int test_win = meter_ ? meter_->begin("test", energy::WindowKind::kPhase) : -1;
  model::Crnn best_student(config_.net), best_teacher(config_.net);
  mt_.student().share_workspace(best_student);  // the training models are idle now
  mt_.student().share_workspace(best_teacher);
  load_checkpoint(best, best_student, best_teacher, nullptr, nullptr);
  std::vector<std::string> paths, names;
  for (const auto& clip : sets_.test.clips) {
    if (clip.events.empty()) continue;  // dropped by the reference's dropna (spec §1.3)
    paths.push_back((fs::path(sets_.test.folder) / clip.filename).string());
    names.push_back(clip.filename);
  }
  std::vector<ClipScores> s_scores, t_scores;
  predict(best_student, best_teacher, *eval_source_, paths, names, config_.training.batch_size_val,
          config_.scaler.normtype, s_scores, t_scores);
  for (int m = 0; m < 2; ++m) {
    const char* who = m == 0 ? "student" : "teacher";
    const TestMetrics tm = test_scores(m == 0 ? s_scores : t_scores, sets_.test, config_);
    summary["test"][who] = {{"psds1", tm.psds1},
                            {"psds2", tm.psds2},
                            {"intersection_f1", tm.intersection_f1},
                            {"event_f1", tm.event_f1},
                            {"n_clips", tm.n_clips}};
    spdlog::info(
        "[train] devtest {} (best epoch {}): PSDS1 {:.4f} PSDS2 {:.4f} intersection F1 {:.4f} "
        "event F1 {:.4f}",
        who, state_.best_epoch, tm.psds1, tm.psds2, tm.intersection_f1, tm.event_f1);
  }
  if (meter_) summary["test"]["kwh"] = meter_->end(test_win).total_kwh_pue;
}

nlohmann::json TrainingRun::summary_json() const {
  nlohmann::json summary;
  summary["run_dir"] = run_dir_;
  summary["config"] = config_.source_path;
  summary["epochs_done"] = state_.epoch;
  summary["n_epochs"] = config_.training.n_epochs;
  summary["steps"] = state_.step;
  summary["steps_per_epoch"] = steps_per_epoch_;
  summary["batch_size"] = n_rows_;
  summary["seed"] = config_.training.seed;
  summary["best_epoch"] = state_.best_epoch;
  summary["best_obj"] = finite_or_null(state_.best_obj);
  summary["best_f1_teacher"] = finite_or_null(state_.best_f1);
  summary["best_f1_epoch"] = state_.best_f1_epoch;
  summary["first_f1_040_epoch"] = state_.first_f1_040_epoch;
  summary["stop_policy"] = state_.stop_policy;
  summary["stop_reason"] = state_.stop_reason;
  if (!options_.init_from.empty()) summary["init_from"] = options_.init_from;
  if (auto history = config_history(run_dir_); !history.empty()) {
    summary["config_history"] = std::move(history);  // changes made on resume (config.yaml)
  }
  return summary;
}

// The test phase, the meter's outputs and summary.json; the command's result.
TrainResult TrainingRun::finish() {
  nlohmann::json summary = summary_json();
  test_best(summary);
  TrainResult result;
  result.run_dir = run_dir_;
  result.epochs_done = state_.epoch;
  result.interrupted = interrupted_;
  result.stop_policy = state_.stop_policy;
  result.stop_reason = state_.stop_reason;
  result.best_obj = std::isfinite(state_.best_obj) ? state_.best_obj : 0.0;
  result.best_f1 = std::isfinite(state_.best_f1) ? state_.best_f1 : 0.0;
  result.best_epoch = state_.best_epoch;
  result.kwh_epochs = state_.epochs.empty() ? 0.0 : state_.epochs.back().kwh_cumulative;
  if (meter_) {
    meter_->stop();
    const energy::WindowReport r = meter_->run_report();
    result.kwh_run = r.total_kwh_pue;
    result.cpu_method = r.cpu_method;
    result.ram_method = r.ram_method;
    result.gpu_method = r.gpu_method;
    result.cpu_label = energy::method_label(*meter_, energy::Component::kCpu);
    result.ram_label = energy::method_label(*meter_, energy::Component::kRam);
    result.gpu_label = energy::method_label(*meter_, energy::Component::kGpu);
    const energy::EpochAccounting acc = meter_->epoch_accounting();
    result.kwh_training_call = kwh_of(acc.training_call_uj()) * config_.energy.pue;
    energy::write_outputs(*meter_, run_dir_);
    summary["energy"] = {
        {"kwh_epochs", result.kwh_epochs},
        {"kwh_run", result.kwh_run},
        {"kwh_training_call", result.kwh_training_call},
        {"cpu", result.cpu_label},
        {"ram", result.ram_label},
        {"gpu", result.gpu_label},
        {"estimate", energy::component_estimated(*meter_, energy::Component::kCpu) ||
                         energy::component_estimated(*meter_, energy::Component::kRam) ||
                         energy::component_estimated(*meter_, energy::Component::kGpu)},
        {"kwh_cpu", kwh_of(r.cpu_uj)},
        {"kwh_ram", kwh_of(r.ram_uj)},
        {"kwh_gpu", kwh_of(r.gpu_uj)},
        {"cpu_method", r.cpu_method},
        {"ram_method", r.ram_method},
        {"gpu_method", r.gpu_method},
        {"codecarbon_2_3_4_kwh", r.cc_total_kwh},
        {"emissions_kg", r.emissions_kg},
        {"pue", config_.energy.pue}};
  }
  summary["wall_s_epochs"] = state_.wall_cumulative_s;
  summary["wall_s_this_process"] = seconds_since(t_run_);
  summary["status"] = interrupted_ ? "interrupted" : "finished";
  core::write_file_atomic(run_dir_ + "/summary.json", summary.dump(2) + "\n");
  return result;
}

}  // namespace greensed::train
