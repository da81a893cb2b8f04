// One training epoch: the loader's batches → network input → MeanTeacher::step, with the step
// trace and the progress callback.
#include <spdlog/spdlog.h>

#include "greensed/core/error.hpp"
#include "greensed/core/fault.hpp"
#include "run.hpp"
#include "trace.hpp"

namespace greensed::train {

EpochTrained TrainingRun::train_epoch(int epoch) {
  const auto t_epoch = Clock::now();
  EpochTrained out;
  out.started = t_epoch;
  out.epoch_window = meter_ ? meter_->begin("epoch", energy::WindowKind::kEpoch, epoch) : -1;
  const int train_window = meter_ ? meter_->begin("train", energy::WindowKind::kPhase, epoch) : -1;
  const int t_out = mt_.student().frames_out(n_frames_);
  StepLosses sums;
  auto t_progress = Clock::now();
  for (int s = 0; s < steps_per_epoch_; ++s) {
    std::unique_ptr<data::Batch> batch = loader_->next();
    const int64_t k = state_.step + 1;
    GREENSED_CHECK(batch->n_label_frames == t_out, "labels have {} frames, the model gives {}",
                   batch->n_label_frames, t_out);
    features::network_input(batch->features, batch->rows(), norm_);
    const StepBatch in{batch->features.data(),
                       batch->rows(),
                       batch->n_mels,
                       batch->n_frames,
                       batch->n_strong,
                       batch->n_weak,
                       batch->strong_labels.data(),
                       batch->weak_labels.data()};
    out.last = schedule_at(config_, steps_per_epoch_, k);
    const DropoutPositions dropout{mt_.student_dropout().state(), mt_.teacher_dropout().state()};
    const StepLosses losses = mt_.step(in, k, out.last);
    if (trace_) trace_->write(epoch, k, *batch, out.last, losses, dropout);
    state_.step = k;
    state_.loader = batch->state_after;
    loader_->recycle(std::move(batch));
    sums.add(losses);
    ++out.steps_done;
    core::fault_point("step");  // the fault-injection tests' mid-epoch kill

    if (options_.on_progress && seconds_since(t_progress) >= options_.progress_interval_s) {
      t_progress = Clock::now();
      report_progress(epoch, out.steps_done, out, t_epoch, false);
    }
    if (options_.stop_requested != nullptr && options_.stop_requested->load() != 0) {
      out.interrupted = true;
      break;
    }
  }
  if (options_.on_progress) report_progress(epoch, out.steps_done, out, t_epoch, true);
  out.train_s = seconds_since(t_epoch);
  if (meter_) meter_->end(train_window);
  if (out.steps_done > 0) sums.scale(1.0 / out.steps_done);
  out.means = sums;
  if (out.interrupted) {
    // Mid-epoch: the checkpoint of the last finished epoch stays the resume point; the partial
    // epoch is discarded, its steps are re-run on resume from that epoch's loader state.
    interrupted_ = true;
    if (meter_) meter_->end(out.epoch_window);
    spdlog::warn(
        "[train] interrupted in epoch {} after {} step(s); resume with --resume (continues after "
        "epoch {})",
        epoch, out.steps_done, state_.epoch);
  }
  return out;
}

void TrainingRun::report_progress(int epoch, int steps_done, const EpochTrained& so_far,
                                  Clock::time_point t_epoch, bool epoch_done) const {
  Progress p;
  p.epoch = epoch;
  p.n_epochs = config_.training.n_epochs;
  p.step = steps_done;
  p.steps_per_epoch = steps_per_epoch_;
  p.global_step = state_.step;
  const double elapsed = seconds_since(t_epoch);
  p.clips_per_s = elapsed > 0 ? double(steps_done) * n_rows_ / elapsed : 0.0;
  p.eta_s = steps_done > 0 ? (steps_per_epoch_ - steps_done) * elapsed / steps_done : 0.0;
  p.epoch_done = epoch_done;
  if (meter_) {
    const energy::WindowReport r = meter_->report(so_far.epoch_window);
    p.has_energy = true;
    p.watts = r.duration_s > 0 ? double(r.total_uj) / 1e6 / r.duration_s : 0.0;
    p.kwh_run = kwh_of(meter_->run_report().total_uj);
  }
  options_.on_progress(p);
}

}  // namespace greensed::train
