// THE mean-teacher training step of the 2022 recipe (spec desed_baseline §4.2, §4.5, §4.6): the one
// `greensed train` runs, `greensed bench step` times and the golden test compares with PyTorch.
// In execution order:
//   student forward (train mode) → BCE strong on the strong rows, BCE weak on the weak rows →
//   teacher forward (TRAIN mode: dropout on, batch statistics, its own running statistics
//   updated; no gradient) → consistency over ALL rows, strong and weak (training.self_sup_loss:
//   MSE, or BCE against the teacher's outputs) → the teacher's own supervised BCE (reported only)
//   → every student term must be finite → L = L_strong + L_weak + w·(L_cs + L_cw) → EMA:
//   teacher = α·teacher + (1 − α)·student with the student's weights BEFORE this step's update
//   (parameters only) → zero_grad → backward → gradient clipping (training.gradient_clip, global
//   L2 norm, as Lightning's gradient_clip_val) → Adam at the step's learning rate.
// The batch is laid out [strong rows | weak rows | unlabelled rows] (e.g. 12 | 12 | 24); a subset
// may be empty. Student and teacher share one workspace (the teacher never runs during the
// student's backward).
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "greensed/core/config.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/model/crnn.hpp"
#include "greensed/nn/optim.hpp"
#include "greensed/train/schedules.hpp"

namespace greensed::train {

// One step's input: the NETWORK input (features::network_input applied), and the labels.
struct StepBatch {
  const float* features = nullptr;  // [B, F, T] scaled log-mel
  int batch = 0, n_mels = 0, n_frames = 0;
  int n_strong = 0, n_weak = 0;          // rows [0, n_strong) strong, then n_weak weak rows
  const float* strong_labels = nullptr;  // [n_strong, K, T']
  const float* weak_labels = nullptr;    // [n_weak, K]
};

// The terms of one step, before the consistency weight; `total` is the student's loss.
struct StepLosses {
  double strong = 0, weak = 0;            // student's supervised BCE terms (0 for an empty subset)
  double cons_strong = 0, cons_weak = 0;  // consistency terms (MSE or BCE, before the weight)
  double total = 0;                       // L = strong + weak + w·(cons_strong + cons_weak)
  double teacher_strong = 0, teacher_weak = 0;  // the teacher's supervised BCE (epochs.csv)

  void add(const StepLosses& o);
  void scale(double factor);  // sums → means
};

enum class ConsistencyLoss { kMse, kBce };  // training.self_sup_loss (validated by core::config)

// A student loss term that is not finite: training diverged. Not bad input (the same config may
// train with another seed or learning rate) and not a greensed bug: `greensed train` exits with
// its own code (cli kExitDiverged = 4) so a sweep script can tell it apart.
class DivergedError : public std::runtime_error {
 public:
  explicit DivergedError(const std::string& message) : std::runtime_error(message) {}
};

class MeanTeacher {
 public:
  // Student initialised from training.seed (stream kInit), the teacher its exact copy; the
  // consistency loss, gradient clipping and dropout streams from the config.
  explicit MeanTeacher(const core::Config& config);

  // One step k (1-based) at `schedule` (schedule_at(config, steps_per_epoch, k)). Throws
  // DivergedError naming k, the term and the last good checkpoint (set_last_good_checkpoint)
  // before anything is updated.
  StepLosses step(const StepBatch& batch, int64_t k, const StepSchedule& schedule);

  // The teacher becomes an exact copy of the student (parameters and BatchNorm buffers).
  void copy_student_to_teacher();
  // Named in the divergence message (e.g. "runs/x/checkpoints/last.safetensors (epoch 3)").
  void set_last_good_checkpoint(std::string description) { last_good_ = std::move(description); }

  model::Crnn& student() { return student_; }
  model::Crnn& teacher() { return teacher_; }
  nn::Adam& adam() { return adam_; }
  core::RngStream& student_dropout() { return student_dropout_; }
  core::RngStream& teacher_dropout() { return teacher_dropout_; }
  // Turns dropout off in both models' train-mode forwards (golden comparisons with PyTorch).
  void set_dropout_enabled(bool enabled) { dropout_enabled_ = enabled; }

 private:
  void check_finite(const StepLosses& losses, int64_t k) const;

  model::Crnn student_, teacher_;
  nn::Adam adam_;
  core::RngStream student_dropout_, teacher_dropout_;
  ConsistencyLoss consistency_;
  double gradient_clip_;
  bool dropout_enabled_ = true;
  std::string last_good_ = "none (no epoch finished yet)";
  std::vector<float> grad_strong_, grad_weak_;
};

// PyTorch Lightning's gradient_clip_val (norm): scales all gradients so their global L2 norm is at
// most max_norm (coefficient max_norm / (norm + 1e-6), applied when below 1).
void clip_gradients(std::span<float> grads, double max_norm);

}  // namespace greensed::train
