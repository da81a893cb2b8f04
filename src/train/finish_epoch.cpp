// Finishing an epoch: validation, the epochs.csv row (losses, schedule, metrics, times, kWh and the
// meter's projection), the checkpoints (last, best objective, best F1, first F1 ≥ 0.40) and the
// stopping policies.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>

#include "greensed/core/fault.hpp"
#include "greensed/report/epochs.hpp"
#include "greensed/train/evaluation.hpp"
#include "run.hpp"

namespace greensed::train {

void TrainingRun::finish_epoch(int epoch, const EpochTrained& trained) {
  const bool validate_now =
      epoch % config_.training.validation_interval == 0 || epoch == config_.training.n_epochs;
  report::EpochRecord row = epoch_row(epoch, trained, validate_now);
  add_energy(row, trained.epoch_window);

  state_.epoch = epoch;
  state_.adam_t = mt_.adam().state().step;
  state_.dropout_student = mt_.student_dropout().state();
  state_.dropout_teacher = mt_.teacher_dropout().state();
  state_.crop = crop_rng_.state();
  state_.epochs.push_back(row);
  if (meter_) state_.meter_json = meter_->serialize();
  const std::vector<std::string> saved = update_bests_and_stop(row, validate_now);
  const nn::AdamState& adam = mt_.adam().state();
  for (const auto& name : saved) {
    save_checkpoint(run_dir_ + "/checkpoints/" + name + ".safetensors", mt_.student(),
                    mt_.teacher(), adam.m, adam.v, state_);
  }
  if (std::find(saved.begin(), saved.end(), "last") != saved.end()) {
    mt_.set_last_good_checkpoint(fmt::format("{} (epoch {})", last_path_, epoch));
  }
  report::append_epoch(run_dir_ + "/epochs.csv", row);
  spdlog::info(
      "[train] epoch {}/{}: loss {:.4f} (strong {:.4f}, weak {:.4f}, cons {:.5f}) lr {:.3g} | F1 "
      "synth student {:.4f} teacher {:.4f}, weak {:.4f}, obj {:.4f} | {:.1f} s, {:.6f} kWh (total "
      "{:.6f}){}",
      epoch, config_.training.n_epochs, row.loss_total, row.loss_strong, row.loss_weak,
      row.loss_cons_strong + row.loss_cons_weak, row.lr, row.val_synth_f1_student,
      row.val_synth_f1_teacher, row.val_weak_f1_student, row.val_obj, row.wall_s, row.kwh,
      row.kwh_cumulative,
      saved.empty() ? "" : " [saved " + fmt::format("{}", fmt::join(saved, ", ")) + "]");
  if (stop_.stop) {
    spdlog::info("[train] stopping after epoch {}: {} ({})", epoch, stop_.policy, stop_.reason);
  }
}

// The row's losses and schedule, then validation (when due) and the times.
report::EpochRecord TrainingRun::epoch_row(int epoch, const EpochTrained& trained,
                                           bool validate_now) {
  report::EpochRecord row;
  row.epoch = epoch;
  row.step = state_.step;
  row.lr = trained.last.lr;
  row.consistency_weight = trained.last.consistency_weight;
  const StepLosses& m = trained.means;
  row.loss_total = m.total, row.loss_strong = m.strong, row.loss_weak = m.weak;
  row.loss_cons_strong = m.cons_strong, row.loss_cons_weak = m.cons_weak;
  row.teacher_loss_strong = m.teacher_strong, row.teacher_loss_weak = m.teacher_weak;
  const auto t_val = Clock::now();
  const double nan = std::nan("");
  row.val_synth_f1_student = row.val_synth_f1_teacher = row.val_weak_f1_student =
      row.val_weak_f1_teacher = row.val_obj = nan;
  if (validate_now) {
    core::fault_point("validation");  // the fault-injection tests' kill during validation
    const int val_win =
        meter_ ? meter_->begin("validation", energy::WindowKind::kPhase, epoch) : -1;
    const ValidationMetrics vm = validate(mt_.student(), mt_.teacher(), *eval_source_,
                                          sets_.synth_val, sets_.weak_val, config_);
    if (meter_) meter_->end(val_win);
    row.val_synth_f1_student = vm.synth_f1_student;
    row.val_synth_f1_teacher = vm.synth_f1_teacher;
    row.val_weak_f1_student = vm.weak_f1_student;
    row.val_weak_f1_teacher = vm.weak_f1_teacher;
    row.val_obj = vm.obj;
  }
  row.val_s = seconds_since(t_val);
  row.train_s = trained.train_s;
  row.wall_s = seconds_since(trained.started);
  state_.wall_cumulative_s += row.wall_s;
  row.wall_cumulative_s = state_.wall_cumulative_s;
  return row;
}

// kWh per component of the epoch window, the cumulative total and the meter's projection.
void TrainingRun::add_energy(report::EpochRecord& row, int epoch_window) {
  double predicted = std::nan("");
  if (meter_) {
    const energy::WindowReport er = meter_->end(epoch_window);
    row.kwh_cpu = kwh_of(er.cpu_uj), row.kwh_dram = kwh_of(er.dram_uj);
    row.kwh_gpu = kwh_of(er.gpu_uj), row.kwh_ram = kwh_of(er.ram_uj);
    row.kwh = er.total_kwh_pue;
    const energy::Prediction p = meter_->predict(config_.training.n_epochs);
    if (p.available) {
      constexpr double kJPerKwh = 3.6e6;
      const double pue = config_.energy.pue;
      predicted = p.energy_j.value / kJPerKwh * pue;
      spdlog::info("[energy] projected run: {:.6f} kWh [{:.6f}, {:.6f}] ({}), {:.0f} s", predicted,
                   p.energy_j.low / kJPerKwh * pue, p.energy_j.high / kJPerKwh * pue, p.band,
                   p.duration_s.value);
    }
  }
  row.kwh_cumulative =
      (state_.epochs.empty() ? 0.0 : state_.epochs.back().kwh_cumulative) + row.kwh;
  row.predicted_total_kwh = predicted;
}

// Best objective / best F1 / first F1 ≥ 0.40 bookkeeping, the stopping decision, and the names of
// the checkpoints this epoch writes.
std::vector<std::string> TrainingRun::update_bests_and_stop(const report::EpochRecord& row,
                                                            bool validate_now) {
  std::vector<std::string> saved;
  const int epoch = row.epoch;
  if (validate_now && row.val_obj > state_.best_obj) {
    state_.best_obj = row.val_obj;
    state_.best_epoch = epoch;
    saved.push_back("best");
  }
  if (validate_now && row.val_synth_f1_teacher > state_.best_f1) {
    state_.best_f1 = row.val_synth_f1_teacher;
    state_.best_f1_epoch = epoch;
    saved.push_back("best_f1");
  }
  constexpr double kF1Milestone = 0.40;  // the "first F1 ≥ 0.40" checkpoint (spec)
  if (validate_now && state_.first_f1_040_epoch == 0 && row.val_synth_f1_teacher >= kF1Milestone) {
    state_.first_f1_040_epoch = epoch;
    saved.push_back("f1_040");
  }
  stop_ = report::decide_stop(state_.epochs, config_.stopping, patience_,
                              report::predicted_next_epoch_kwh(state_.epochs),
                              meter_ ? meter_->run_report().total_kwh_pue : std::nan(""));
  if (stop_.stop) {
    state_.stop_policy = stop_.policy;
    state_.stop_reason = stop_.reason;
  }
  if (epoch % config_.run.checkpoint_every_epochs == 0 || epoch == config_.training.n_epochs ||
      stop_.stop) {
    saved.push_back("last");
  }
  return saved;
}

}  // namespace greensed::train
