#include "greensed/train/cache_source.hpp"

#include <algorithm>
#include <cstring>

#include "greensed/core/error.hpp"

namespace greensed::train {

CacheFeatureSource::CacheFeatureSource(features::FeatureCache& cache, int n_frames,
                                       core::RngStream* crop_rng)
    : cache_(cache), n_frames_(n_frames), crop_rng_(crop_rng) {}

int CacheFeatureSource::n_mels() const {
  return cache_.settings().mel.n_mels;
}

data::ClipCrop CacheFeatureSource::load(const std::string& clip_path, std::span<float> out) {
  const int n_mels = this->n_mels();
  GREENSED_CHECK(out.size() == size_t(n_mels) * size_t(n_frames_), "out has {} values for [{}, {}]",
                 out.size(), n_mels, n_frames_);
  std::optional<features::CachedMel> hit = cache_.lookup(clip_path);
  if (!hit) {
    hit = cache_.compute_and_store(clip_path);
    std::lock_guard lock(mutex_);
    ++computed_;
  }
  const features::CachedMel& mel = *hit;
  GREENSED_CHECK(mel.n_mels() == n_mels, "{}: cached mel has {} bands, expected {}", clip_path,
                 mel.n_mels(), n_mels);
  const int64_t available = mel.n_frames();
  int64_t start = 0;
  if (available > n_frames_ && crop_rng_ != nullptr) {
    std::lock_guard lock(mutex_);
    start = crop_rng_->randint(0, available - n_frames_);
  }
  features::copy_frames(mel, start, n_frames_, out.data());  // zeros past the clip
  const auto& mel_settings = cache_.settings().mel;
  // Onset of the crop in seconds, rounded to 3 decimals as the reference rounds start/fs.
  const double onset = double(start) * mel_settings.hop_length / mel_settings.sample_rate;
  return {start, std::round(onset * 1000.0) / 1000.0};
}

}  // namespace greensed::train
