#include "greensed/model/mean_teacher.hpp"

#include <algorithm>
#include <cstring>

#include "greensed/core/error.hpp"
#include "greensed/nn/loss.hpp"

namespace greensed::model {

MeanTeacher::MeanTeacher(const core::NetConfig& net, uint64_t seed)
    : student_(net),
      teacher_(net),
      adam_(student_.n_params()),
      student_dropout_(core::make_stream(seed, core::RngStreamId::kDropoutStudent)),
      teacher_dropout_(core::make_stream(seed, core::RngStreamId::kDropoutTeacher)) {
  student_.share_workspace(teacher_);  // the teacher never runs during the student's backward
  core::RngStream init = core::make_stream(seed, core::RngStreamId::kInit);
  student_.init_parameters(init);
  std::copy(student_.params().begin(), student_.params().end(), teacher_.params().begin());
  std::copy(student_.bn_stats().begin(), student_.bn_stats().end(), teacher_.bn_stats().begin());
}

StepLosses MeanTeacher::step(const StepBatch& in, int64_t step_index, double lr,
                             double consistency_weight, double ema_factor) {
  const int b = in.batch, k = student_.n_classes(), to = student_.frames_out(in.n_frames);
  GREENSED_CHECK(in.n_strong + in.n_weak <= b, "{} strong + {} weak rows in a batch of {}",
                 in.n_strong, in.n_weak, b);
  const Mode mode = Mode::kTrain;
  // A train-mode forward without a dropout stream runs without dropout (golden comparisons).
  core::RngStream* s_rng = dropout_enabled_ ? &student_dropout_ : nullptr;
  core::RngStream* t_rng = dropout_enabled_ ? &teacher_dropout_ : nullptr;

  const int64_t n_strong_all = int64_t(b) * k * to, n_weak_all = int64_t(b) * k;
  StepLosses losses;
  student_.forward(in.features, b, in.n_mels, in.n_frames, mode, s_rng, true);
  grad_strong_.assign(n_strong_all, 0.0f);
  grad_weak_.assign(n_weak_all, 0.0f);
  const float* s_strong = student_.strong();
  const float* s_weak = student_.weak();
  if (in.n_strong > 0) {
    losses.strong = nn::bce_mean(s_strong, in.strong_labels, int64_t(in.n_strong) * k * to, 1.0f,
                                 grad_strong_.data());
  }
  if (in.n_weak > 0) {
    losses.weak =
        nn::bce_mean(s_weak + int64_t(in.n_strong) * k, in.weak_labels, int64_t(in.n_weak) * k,
                     1.0f, grad_weak_.data() + int64_t(in.n_strong) * k);
  }
  teacher_.forward(in.features, b, in.n_mels, in.n_frames, mode, t_rng, false);
  const float w = float(consistency_weight);
  losses.consistency_strong =
      nn::mse_mean(s_strong, teacher_.strong(), n_strong_all, w, grad_strong_.data());
  losses.consistency_weak = nn::mse_mean(s_weak, teacher_.weak(), n_weak_all, w, grad_weak_.data());
  losses.total = losses.strong + losses.weak +
                 consistency_weight * (losses.consistency_strong + losses.consistency_weak);
  // EMA before the update (PyTorch Lightning's on_before_zero_grad hook).
  nn::ema_update(teacher_.params(), student_.params(), nn::ema_alpha(step_index, ema_factor));
  student_.zero_grad();
  student_.backward(grad_strong_.data(), grad_weak_.data());
  adam_.step(student_.params(), student_.grads(), lr);
  return losses;
}

double forward_macs_per_clip(const core::NetConfig& net, int n_mels, int n_frames) {
  double macs = 0.0;
  int c_in = net.n_in_channel, t = n_frames, f = n_mels;
  for (size_t i = 0; i < net.nb_filters.size(); ++i) {
    const double c = net.nb_filters[i];
    macs += c * t * f * c_in * 9.0 + c * c * t * f;  // conv + GLU linear
    c_in = net.nb_filters[i];
    t /= net.pooling[i][0], f /= net.pooling[i][1];
  }
  const double h = net.n_RNN_cell;
  for (int l = 0; l < 2; ++l) {
    const double in = l == 0 ? double(c_in) * f : 2.0 * h;
    macs += 2.0 * t * 3.0 * h * (in + h);
  }
  macs += 2.0 * t * 2.0 * h * net.nclass;
  return macs;
}

}  // namespace greensed::model
