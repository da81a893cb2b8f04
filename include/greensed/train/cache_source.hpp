// The data loader's FeatureSource backed by the feature cache: a clip's linear mel is read from the
// cache (memory map) or, on a miss, computed from the audio and stored, so training works with or
// without a prior `greensed features` run.
//
// Length: the cache pads clips up to 10 s (626 frames). A longer clip is cropped to 626 frames:
// at a random frame for training (the reference crops samples at random, spec desed_baseline
// §1.2; greensed crops at frame = hop-sample granularity), at frame 0 for evaluation. The returned
// crop's onset (seconds) shifts the clip's labels; its first frame goes into the step trace.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "greensed/core/rng.hpp"
#include "greensed/data/loader.hpp"
#include "greensed/features/cache.hpp"

namespace greensed::train {

class CacheFeatureSource : public data::FeatureSource {
 public:
  // `crop_rng` = nullptr: deterministic start-at-0 crops (evaluation).
  CacheFeatureSource(features::FeatureCache& cache, int n_frames, core::RngStream* crop_rng);

  int n_mels() const override;
  int n_frames() const override { return n_frames_; }
  data::ClipCrop load(const std::string& clip_path, std::span<float> out_linear_mel) override;

  int64_t computed() const { return computed_; }  // cache misses filled by this source

 private:
  features::FeatureCache& cache_;
  int n_frames_;
  core::RngStream* crop_rng_;
  int64_t computed_ = 0;
  std::mutex mutex_;
};

}  // namespace greensed::train
