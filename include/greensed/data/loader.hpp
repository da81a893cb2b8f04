// The background batch loader: while the training step computes on batch k, a worker thread
// prepares batch k+1 (features from a FeatureSource, encoded labels, MixUp), so in steady state
// the step never waits on disk. Double buffered: at most `prefetch` prepared batches wait.
//
// Shapes: B = rows of the batch (strong, weak, unlabelled in that order), F mel bins, T frames,
// K = 10 classes, T_label = 156 encoder frames.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "greensed/data/batches.hpp"
#include "greensed/data/datasets.hpp"
#include "greensed/data/labels.hpp"

namespace greensed::data {

// Where a clip longer than the training length was cropped (all 0 when it was not).
struct ClipCrop {
  int64_t first_frame = 0;  // the first feature frame kept
  double onset_s = 0.0;     // the same in seconds, by which the clip's labels are shifted
};

// Where features come from; training wires it to the feature cache, tests use a fake. Called from
// the loader thread only (one call at a time).
class FeatureSource {
 public:
  virtual ~FeatureSource() = default;
  virtual int n_mels() const = 0;    // F
  virtual int n_frames() const = 0;  // T
  // Fills out [F, T] with the clip's LINEAR-magnitude mel spectrogram, padded or cropped to the
  // training length, and says where it was cropped.
  virtual ClipCrop load(const std::string& clip_path, std::span<float> out_linear_mel) = 0;
};

// Resume point: restoring it makes the loader produce the batch that followed.
struct LoaderState {
  BatchSampler::State sampler;
  core::RngState mixup;
};

struct Batch {
  int64_t epoch = 0;
  int step = 0;  // within the epoch
  int n_strong = 0, n_weak = 0, n_unlabeled = 0;
  int n_mels = 0, n_frames = 0, n_label_frames = 0;
  std::vector<float> features;        // [B, F, T], linear mel (MixUp already applied)
  std::vector<float> strong_labels;   // [n_strong, K, T_label]
  std::vector<float> weak_labels;     // [n_weak, K]
  std::vector<std::string> clips;     // [B] paths, in row order
  std::vector<int64_t> first_frames;  // [B] crop start frame per row (0 = not cropped)
  MixupDraw mixup;
  LoaderState state_after;  // checkpoint this after the step on this batch to resume exactly

  int rows() const { return n_strong + n_weak + n_unlabeled; }
};

struct LoaderOptions {
  std::vector<int> batch_sizes = {12, 12, 24};  // [strong, weak, unlabelled]
  uint64_t seed = 42;                           // training.seed
  MixupMode mixup = MixupMode::kSoft;
  double audio_len = 10.0;
  ManyHotEncoder encoder;
  int prefetch = 1;  // prepared batches waiting besides the one being consumed
};

struct LoaderStats {
  int64_t batches = 0;
  int64_t waits = 0;          // next() calls that found no batch ready
  double wait_seconds = 0.0;  // time next() spent blocked
  double load_seconds = 0.0;  // worker time in FeatureSource::load
};

class BatchLoader {
 public:
  // The sets must outlive the loader. `resume` continues a checkpointed run.
  BatchLoader(const StrongSet& strong, const WeakSet& weak, const UnlabeledSet& unlabeled,
              FeatureSource& source, LoaderOptions options, const LoaderState* resume = nullptr);
  ~BatchLoader();  // stops the worker and joins it
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int steps_per_epoch() const { return steps_per_epoch_; }
  // The next batch (blocks until ready). Rethrows an exception raised by the worker.
  std::unique_ptr<Batch> next();
  // Hands a consumed batch back so its buffers are reused.
  void recycle(std::unique_ptr<Batch> batch);
  LoaderStats stats() const;

 private:
  void run();
  void prepare(Batch& batch);

  const StrongSet& strong_;
  const WeakSet& weak_;
  const UnlabeledSet& unlabeled_;
  FeatureSource& source_;
  LoaderOptions options_;
  BatchSampler sampler_;
  core::RngStream mixup_rng_;
  int steps_per_epoch_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable ready_cv_, space_cv_;
  std::deque<std::unique_ptr<Batch>> ready_, free_;
  std::exception_ptr error_;
  bool stop_ = false;
  LoaderStats stats_;
  std::thread worker_;
};

}  // namespace greensed::data
