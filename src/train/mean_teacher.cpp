#include "greensed/train/mean_teacher.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "greensed/core/error.hpp"
#include "greensed/nn/loss.hpp"

namespace greensed::train {
namespace {

ConsistencyLoss consistency_of(const std::string& self_sup_loss) {
  GREENSED_CHECK(self_sup_loss == "mse" || self_sup_loss == "bce",
                 "training.self_sup_loss '{}' passed config validation", self_sup_loss);
  return self_sup_loss == "bce" ? ConsistencyLoss::kBce : ConsistencyLoss::kMse;
}

double consistency_term(ConsistencyLoss kind, const float* student, const float* teacher, int64_t n,
                        float weight, float* grad) {
  return kind == ConsistencyLoss::kMse ? nn::mse_mean(student, teacher, n, weight, grad)
                                       : nn::bce_mean(student, teacher, n, weight, grad);
}

}  // namespace

void StepLosses::add(const StepLosses& o) {
  strong += o.strong, weak += o.weak, cons_strong += o.cons_strong, cons_weak += o.cons_weak;
  total += o.total, teacher_strong += o.teacher_strong, teacher_weak += o.teacher_weak;
}

void StepLosses::scale(double f) {
  strong *= f, weak *= f, cons_strong *= f, cons_weak *= f;
  total *= f, teacher_strong *= f, teacher_weak *= f;
}

MeanTeacher::MeanTeacher(const core::Config& config)
    : student_(config.net),
      teacher_(config.net),
      adam_(student_.n_params()),
      student_dropout_(
          core::make_stream(uint64_t(config.training.seed), core::RngStreamId::kDropoutStudent)),
      teacher_dropout_(
          core::make_stream(uint64_t(config.training.seed), core::RngStreamId::kDropoutTeacher)),
      consistency_(consistency_of(config.training.self_sup_loss)),
      gradient_clip_(config.training.gradient_clip) {
  student_.share_workspace(teacher_);  // the teacher never runs during the student's backward
  core::RngStream init =
      core::make_stream(uint64_t(config.training.seed), core::RngStreamId::kInit);
  student_.init_parameters(init);
  copy_student_to_teacher();
}

void MeanTeacher::copy_student_to_teacher() {
  std::copy(student_.params().begin(), student_.params().end(), teacher_.params().begin());
  std::copy(student_.bn_stats().begin(), student_.bn_stats().end(), teacher_.bn_stats().begin());
  std::copy(student_.bn_batches_tracked().begin(), student_.bn_batches_tracked().end(),
            teacher_.bn_batches_tracked().begin());
}

void MeanTeacher::check_finite(const StepLosses& l, int64_t k) const {
  for (const auto& [term, value] : {std::pair<const char*, double>{"loss_strong", l.strong},
                                    {"loss_weak", l.weak},
                                    {"loss_cons_strong", l.cons_strong},
                                    {"loss_cons_weak", l.cons_weak}}) {
    if (!std::isfinite(value)) {
      throw DivergedError(fmt::format(
          "training diverged at step {}: {} is {} (nothing of this step was applied); the last "
          "good checkpoint is {}; lower opt.lr, set training.gradient_clip, or check the input "
          "features",
          k, term, std::isnan(value) ? std::string("NaN") : fmt::format("{}", value), last_good_));
    }
  }
}

StepLosses MeanTeacher::step(const StepBatch& in, int64_t k, const StepSchedule& schedule) {
  const int b = in.batch, n_classes = student_.n_classes();
  const int t_out = student_.frames_out(in.n_frames);
  GREENSED_CHECK(in.n_strong >= 0 && in.n_weak >= 0 && in.n_strong + in.n_weak <= b,
                 "{} strong + {} weak rows in a batch of {}", in.n_strong, in.n_weak, b);
  // A train-mode forward without a dropout stream runs without dropout (golden comparisons).
  core::RngStream* s_rng = dropout_enabled_ ? &student_dropout_ : nullptr;
  core::RngStream* t_rng = dropout_enabled_ ? &teacher_dropout_ : nullptr;
  const int64_t n_strong_all = int64_t(b) * n_classes * t_out, n_weak_all = int64_t(b) * n_classes;
  const int64_t n_strong_rows = int64_t(in.n_strong) * n_classes * t_out;
  const int64_t n_weak_rows = int64_t(in.n_weak) * n_classes;
  const int64_t weak_offset = int64_t(in.n_strong) * n_classes;

  StepLosses l;
  student_.forward(in.features, b, in.n_mels, in.n_frames, model::Mode::kTrain, s_rng, true);
  grad_strong_.assign(size_t(n_strong_all), 0.0f);
  grad_weak_.assign(size_t(n_weak_all), 0.0f);
  const float* s_strong = student_.strong();
  const float* s_weak = student_.weak();
  if (in.n_strong > 0) {
    l.strong = nn::bce_mean(s_strong, in.strong_labels, n_strong_rows, 1.0f, grad_strong_.data());
  }
  if (in.n_weak > 0) {
    l.weak = nn::bce_mean(s_weak + weak_offset, in.weak_labels, n_weak_rows, 1.0f,
                          grad_weak_.data() + weak_offset);
  }
  teacher_.forward(in.features, b, in.n_mels, in.n_frames, model::Mode::kTrain, t_rng, false);
  const float* t_strong = teacher_.strong();
  const float* t_weak = teacher_.weak();
  const double w = schedule.consistency_weight;
  l.cons_strong = consistency_term(consistency_, s_strong, t_strong, n_strong_all, float(w),
                                   grad_strong_.data());
  l.cons_weak =
      consistency_term(consistency_, s_weak, t_weak, n_weak_all, float(w), grad_weak_.data());
  if (in.n_strong > 0) {
    l.teacher_strong = nn::bce_mean(t_strong, in.strong_labels, n_strong_rows, 0.0f, nullptr);
  }
  if (in.n_weak > 0) {
    l.teacher_weak = nn::bce_mean(t_weak + weak_offset, in.weak_labels, n_weak_rows, 0.0f, nullptr);
  }
  l.total = l.strong + l.weak + w * (l.cons_strong + l.cons_weak);
  check_finite(l, k);

  // EMA before the update (PyTorch Lightning's on_before_zero_grad hook).
  nn::ema_update(teacher_.params(), student_.params(), schedule.ema_alpha);
  student_.zero_grad();
  student_.backward(grad_strong_.data(), grad_weak_.data());
  if (gradient_clip_ > 0) clip_gradients(student_.grads(), gradient_clip_);
  adam_.step(student_.params(), student_.grads(), schedule.lr);
  return l;
}

void clip_gradients(std::span<float> grads, double max_norm) {
  double sum = 0;
  for (float g : grads) sum += double(g) * g;
  const double coef = max_norm / (std::sqrt(sum) + 1e-6);
  if (coef < 1.0) {
    for (float& g : grads) g = float(g * coef);
  }
}

}  // namespace greensed::train
