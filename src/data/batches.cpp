#include "greensed/data/batches.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

#include "greensed/core/config.hpp"
#include "greensed/core/error.hpp"

namespace greensed::data {

BatchSampler::BatchSampler(std::vector<int> subset_sizes, std::vector<int> batch_sizes,
                           uint64_t seed)
    : subset_sizes_(std::move(subset_sizes)),
      batch_sizes_(std::move(batch_sizes)),
      rng_(core::make_stream(seed, core::RngStreamId::kBatchOrder)) {
  GREENSED_CHECK(!subset_sizes_.empty() && subset_sizes_.size() == batch_sizes_.size(),
                 "{} subsets vs {} batch sizes", subset_sizes_.size(), batch_sizes_.size());
  steps_per_epoch_ = INT_MAX;
  for (size_t i = 0; i < subset_sizes_.size(); ++i) {
    GREENSED_CHECK(batch_sizes_[i] > 0, "batch size {} of subset {}", batch_sizes_[i], i);
    if (subset_sizes_[i] < batch_sizes_[i]) {
      throw core::InputError(fmt::format(
          "training subset {} has {} clips, fewer than its {} rows per batch; generate or add "
          "more clips, or lower training.batch_size",
          i, subset_sizes_[i], batch_sizes_[i]));
    }
    steps_per_epoch_ = std::min(steps_per_epoch_, subset_sizes_[i] / batch_sizes_[i]);
  }
}

void BatchSampler::start_epoch() {
  epoch_rng_ = rng_.state();
  permutations_.clear();
  for (int n : subset_sizes_) permutations_.push_back(rng_.permutation(n));
  next_step_ = 0;
}

BatchSampler::Draw BatchSampler::next() {
  if (!started_) {
    start_epoch();
    started_ = true;
  } else if (next_step_ == steps_per_epoch_) {
    ++epoch_;
    start_epoch();
  }
  Draw draw;
  draw.epoch = epoch_;
  draw.step = next_step_;
  for (size_t s = 0; s < subset_sizes_.size(); ++s) {
    const auto first = permutations_[s].begin() + size_t(next_step_) * batch_sizes_[s];
    draw.indices.emplace_back(first, first + batch_sizes_[s]);
  }
  ++next_step_;
  return draw;
}

void BatchSampler::restore(const State& state) {
  GREENSED_CHECK(state.next_step >= 0 && state.next_step <= steps_per_epoch_,
                 "restored step {} of {}", state.next_step, steps_per_epoch_);
  rng_ = core::RngStream(state.epoch_rng);
  epoch_ = state.epoch;
  start_epoch();
  next_step_ = state.next_step;
  started_ = true;
}

std::vector<int> batch_sizes_from_config(const std::vector<int>& training_batch_size) {
  if (training_batch_size.size() == 1) return core::batch_composition(training_batch_size[0]);
  if (training_batch_size.size() != 3) {
    throw core::InputError(fmt::format(
        "training.batch_size: must be [synthetic, weak, unlabelled] (e.g. [12, 12, 24]) or one "
        "total divisible by 4; found {} values",
        training_batch_size.size()));
  }
  return training_batch_size;
}

MixupMode parse_mixup_mode(const std::string& value) {
  if (value == "soft") return MixupMode::kSoft;
  if (value == "hard") return MixupMode::kHard;
  if (value == "none" || value.empty()) return MixupMode::kNone;
  throw core::InputError(
      fmt::format("training.mixup: must be one of: soft, hard, none; found '{}'", value));
}

MixupDraw draw_mixup(core::RngStream& rng, int n_weak, int n_strong, double alpha) {
  MixupDraw draw;
  draw.applied = rng.uniform() < 0.5;
  if (!draw.applied) return draw;
  draw.lambda_weak = rng.beta(alpha, alpha);
  draw.perm_weak = rng.permutation(n_weak);
  draw.lambda_strong = rng.beta(alpha, alpha);
  draw.perm_strong = rng.permutation(n_strong);
  return draw;
}

void mixup_rows(std::span<float> x, size_t x_row, std::span<float> y, size_t y_row, double lambda,
                std::span<const int> perm, MixupMode mode) {
  const size_t n = perm.size();
  GREENSED_CHECK(x.size() == n * x_row && y.size() == n * y_row,
                 "mixup x {} (rows of {}) y {} (rows of {}) for {} rows", x.size(), x_row, y.size(),
                 y_row, n);
  if (mode == MixupMode::kNone || n == 0) return;
  const std::vector<float> x0(x.begin(), x.end());
  const std::vector<float> y0(y.begin(), y.end());
  const float l = float(lambda), m = float(1.0 - lambda);
  for (size_t i = 0; i < n; ++i) {
    const size_t j = size_t(perm[i]);
    GREENSED_CHECK(j < n, "mixup permutation entry {} of {}", j, n);
    const float* a = x0.data() + i * x_row;
    const float* b = x0.data() + j * x_row;
    float* out = x.data() + i * x_row;
    for (size_t k = 0; k < x_row; ++k) out[k] = l * a[k] + m * b[k];
    const float* ya = y0.data() + i * y_row;
    const float* yb = y0.data() + j * y_row;
    float* yo = y.data() + i * y_row;
    for (size_t k = 0; k < y_row; ++k) {
      const float v = mode == MixupMode::kSoft ? l * ya[k] + m * yb[k] : ya[k] + yb[k];
      yo[k] = std::clamp(v, 0.0f, 1.0f);
    }
  }
}

}  // namespace greensed::data
