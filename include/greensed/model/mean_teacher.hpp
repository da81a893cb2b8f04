// One mean-teacher training step of the 2022 recipe (spec desed_baseline §4.2, §4.5, §4.6), in
// its execution order:
//   student forward (train mode) → BCE strong on the strong rows, BCE weak on the weak rows →
//   teacher forward (TRAIN mode: dropout on, batch statistics, its own running statistics
//   updated; no gradient) → consistency MSE over ALL rows, strong and weak →
//   L = L_strong + L_weak + w·(L_cs + L_cw) → EMA: teacher = α·teacher + (1 − α)·student with the
//   student's weights BEFORE this step's update (parameters only) → zero_grad → backward → Adam.
// The batch is laid out [strong rows | weak rows | unlabelled rows] (e.g. 12 | 12 | 24).
#pragma once

#include <cstdint>

#include "greensed/core/config.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/model/crnn.hpp"
#include "greensed/nn/optim.hpp"

namespace greensed::model {

struct StepBatch {
  const float* features = nullptr;  // [B, F, T] scaled log-mel
  int batch = 0, n_mels = 0, n_frames = 0;
  int n_strong = 0, n_weak = 0;          // rows [0, n_strong) strong, then n_weak weak rows
  const float* strong_labels = nullptr;  // [n_strong, K, T']
  const float* weak_labels = nullptr;    // [n_weak, K]
};

struct StepLosses {
  double strong = 0, weak = 0;                          // supervised BCE terms
  double consistency_strong = 0, consistency_weak = 0;  // MSE terms (before the weight)
  double total = 0;                                     // L = strong + weak + w·(cs + cw)
};

class MeanTeacher {
 public:
  // Student initialised from `seed` (stream kInit); the teacher is an exact copy.
  MeanTeacher(const core::NetConfig& net, uint64_t seed);

  // One step; `step_index` k is 1-based (the EMA uses α_k = min(1 − 1/(k+1), ema_factor)).
  StepLosses step(const StepBatch& batch, int64_t step_index, double lr, double consistency_weight,
                  double ema_factor);

  Crnn& student() { return student_; }
  Crnn& teacher() { return teacher_; }
  nn::Adam& adam() { return adam_; }
  core::RngStream& student_dropout() { return student_dropout_; }
  core::RngStream& teacher_dropout() { return teacher_dropout_; }
  // Turns dropout off in both models' train-mode forwards (golden comparisons with PyTorch).
  void set_dropout_enabled(bool enabled) { dropout_enabled_ = enabled; }

 private:
  Crnn student_, teacher_;
  nn::Adam adam_;
  core::RngStream student_dropout_, teacher_dropout_;
  bool dropout_enabled_ = true;
  std::vector<float> grad_strong_, grad_weak_, teacher_strong_, teacher_weak_;
};

// Multiply-accumulates of one forward pass of the matrix products (convolutions, GLU linears,
// GRU input and recurrent products, heads) for one clip of n_frames × n_mels.
double forward_macs_per_clip(const core::NetConfig& net, int n_mels, int n_frames);

}  // namespace greensed::model
