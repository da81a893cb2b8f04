#include "greensed/data/loader.hpp"

#include <chrono>
#include <filesystem>

#include "greensed/core/error.hpp"

namespace greensed::data {
namespace {

std::string join_path(const std::string& folder, const std::string& name) {
  return (std::filesystem::path(folder) / name).string();
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

BatchLoader::BatchLoader(const StrongSet& strong, const WeakSet& weak,
                         const UnlabeledSet& unlabeled, FeatureSource& source,
                         LoaderOptions options, const LoaderState* resume)
    : strong_(strong),
      weak_(weak),
      unlabeled_(unlabeled),
      source_(source),
      options_(std::move(options)),
      sampler_({int(strong.clips.size()), int(weak.clips.size()), int(unlabeled.files.size())},
               options_.batch_sizes, options_.seed),
      mixup_rng_(core::make_stream(options_.seed, core::RngStreamId::kMixup)) {
  GREENSED_CHECK(options_.batch_sizes.size() == 3, "loader needs 3 batch sizes, got {}",
                 options_.batch_sizes.size());
  GREENSED_CHECK(options_.prefetch >= 1, "prefetch {}", options_.prefetch);
  if (resume) {
    sampler_.restore(resume->sampler);
    mixup_rng_ = core::RngStream(resume->mixup);
  }
  steps_per_epoch_ = sampler_.steps_per_epoch();
  worker_ = std::thread([this] { run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  space_cv_.notify_all();
  ready_cv_.notify_all();
  worker_.join();
}

void BatchLoader::run() {
  for (;;) {
    std::unique_ptr<Batch> batch;
    {
      std::unique_lock lock(mutex_);
      space_cv_.wait(lock, [&] { return stop_ || int(ready_.size()) < options_.prefetch; });
      if (stop_) return;
      if (!free_.empty()) {
        batch = std::move(free_.front());
        free_.pop_front();
      }
    }
    if (!batch) batch = std::make_unique<Batch>();
    try {
      prepare(*batch);
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
      ready_cv_.notify_all();
      return;
    }
    {
      std::lock_guard lock(mutex_);
      ready_.push_back(std::move(batch));
    }
    ready_cv_.notify_one();
  }
}

void BatchLoader::prepare(Batch& b) {
  const auto draw = sampler_.next();
  const int F = source_.n_mels(), T = source_.n_frames(), TL = options_.encoder.n_frames();
  const size_t row = size_t(F) * T, label_row = size_t(kNumClasses) * TL;
  b.epoch = draw.epoch;
  b.step = draw.step;
  b.n_strong = options_.batch_sizes[0];
  b.n_weak = options_.batch_sizes[1];
  b.n_unlabeled = options_.batch_sizes[2];
  b.n_mels = F;
  b.n_frames = T;
  b.n_label_frames = TL;
  b.features.resize(size_t(b.rows()) * row);
  b.strong_labels.resize(size_t(b.n_strong) * label_row);
  b.weak_labels.resize(size_t(b.n_weak) * kNumClasses);
  b.clips.clear();
  b.first_frames.clear();

  double load_seconds = 0.0;
  auto load = [&](const std::string& path, int r) {
    b.clips.push_back(path);
    const auto t0 = std::chrono::steady_clock::now();
    const ClipCrop crop =
        source_.load(path, std::span<float>(b.features.data() + size_t(r) * row, row));
    load_seconds += seconds_since(t0);
    b.first_frames.push_back(crop.first_frame);
    return crop.onset_s;
  };
  int r = 0;
  for (int i = 0; i < b.n_strong; ++i, ++r) {
    const StrongClip& clip = strong_.clips[draw.indices[0][i]];
    const double crop = load(join_path(strong_.folder, clip.filename), r);
    const auto events = crop_events(clip.events, crop, options_.audio_len);
    options_.encoder.encode_strong(
        events, std::span<float>(b.strong_labels.data() + i * label_row, label_row));
  }
  for (int i = 0; i < b.n_weak; ++i, ++r) {
    const WeakClip& clip = weak_.clips[draw.indices[1][i]];
    load(join_path(weak_.folder, clip.filename), r);
    ManyHotEncoder::encode_weak(
        clip.labels, std::span<float>(b.weak_labels.data() + size_t(i) * kNumClasses, kNumClasses));
  }
  for (int i = 0; i < b.n_unlabeled; ++i, ++r) {
    load(join_path(unlabeled_.folder, unlabeled_.files[draw.indices[2][i]]), r);
  }

  b.mixup = MixupDraw{};
  if (options_.mixup != MixupMode::kNone) {
    b.mixup = draw_mixup(mixup_rng_, b.n_weak, b.n_strong);
    if (b.mixup.applied) {
      mixup_rows(std::span<float>(b.features.data() + size_t(b.n_strong) * row, b.n_weak * row),
                 row, b.weak_labels, kNumClasses, b.mixup.lambda_weak, b.mixup.perm_weak,
                 options_.mixup);
      mixup_rows(std::span<float>(b.features.data(), b.n_strong * row), row, b.strong_labels,
                 label_row, b.mixup.lambda_strong, b.mixup.perm_strong, options_.mixup);
    }
  }
  b.state_after = {sampler_.state(), mixup_rng_.state()};
  std::lock_guard lock(mutex_);
  stats_.load_seconds += load_seconds;
}

std::unique_ptr<Batch> BatchLoader::next() {
  const auto t0 = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  const bool waited = ready_.empty() && !error_;
  ready_cv_.wait(lock, [&] { return !ready_.empty() || error_; });
  if (ready_.empty() && error_) std::rethrow_exception(error_);
  auto batch = std::move(ready_.front());
  ready_.pop_front();
  ++stats_.batches;
  if (waited) {
    ++stats_.waits;
    stats_.wait_seconds += seconds_since(t0);
  }
  lock.unlock();
  space_cv_.notify_one();
  return batch;
}

void BatchLoader::recycle(std::unique_ptr<Batch> batch) {
  if (!batch) return;
  std::lock_guard lock(mutex_);
  free_.push_back(std::move(batch));
}

LoaderStats BatchLoader::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace greensed::data
