// The on-disk feature cache: the LINEAR mel spectrogram of every clip, so that training can MixUp
// before the dB step (spec desed_baseline §2.4) and never decodes audio twice.
//
// What a clip's entry holds: the clip decoded, mixed to mono, resampled to feats.sample_rate, and
// zero-padded at the end to data.audio_max_len (10 s → 626 frames), as the reference does for every
// clip ≤ 10 s. Longer clips are stored whole (not cropped): the data loader crops frames (training)
// or takes frames [0, 626) (evaluation). n_samples records the length before padding.
//
// On disk (one directory):
//   index.json          {source path → size, mtime_ns, settings hash, file, n_mels, n_frames,
//                        n_samples}; written atomically (core::write_file_atomic)
//   mel/<16 hex>.mel    32-byte header (magic "GSMEL001", u32 n_mels, u32 0, i64 n_frames,
//                        u64 settings hash) then float32 [F, T] row-major; memory-mappable.
// An entry is fresh when the source file's size and mtime (ns) and the settings hash all match;
// anything else is recomputed. Clip files are written to a temporary name and renamed (a killed
// run never leaves half a file; they are not fsynced, a truncated file after a power cut fails the
// size check and is recomputed); the index is flushed every 64 new clips (at most every 2 s) and by
// flush()/the destructor, so a killed run resumes with what it had flushed. One process should
// write a cache directory at a time (a second writer's index would overwrite the first's).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "greensed/core/config.hpp"
#include "greensed/features/mel.hpp"

namespace greensed::features {

struct CacheSettings {
  MelSettings mel;
  int64_t pad_to_samples = 160000;  // data.audio_max_len · feats.sample_rate

  uint64_t hash() const;
  std::string text() const;
};

CacheSettings cache_settings_from(const core::Config& config);

// THE network input length in frames of `seconds` of audio (default data.audio_max_len) at the
// config's sample rate and hop: MelSettings::n_frames (1 + samples / hop, 626 for 10 s).
int network_input_frames(const core::Config& config, double seconds = 0.0);

// A clip's linear mel, [F, T] row-major float32. Either a read-only memory map of the cache file or
// an owned buffer; cheap to copy (shared ownership).
class CachedMel {
 public:
  CachedMel() = default;
  CachedMel(std::vector<float> values, int n_mels, int64_t n_frames, int64_t n_samples);

  int n_mels() const { return n_mels_; }
  int64_t n_frames() const { return n_frames_; }
  int64_t n_samples() const { return n_samples_; }  // audio length before padding
  const float* data() const { return data_; }
  std::span<const float> values() const { return {data_, size_t(n_mels_) * size_t(n_frames_)}; }

 private:
  friend class FeatureCache;
  std::shared_ptr<const void> owner_;
  const float* data_ = nullptr;
  int n_mels_ = 0;
  int64_t n_frames_ = 0;
  int64_t n_samples_ = 0;
};

// Copies frames [first_frame, first_frame + n_frames) of `mel` into out [F, n_frames] (row-major,
// row stride n_frames); frames beyond the clip are 0 (linear silence, −50 dB after the dB step).
// The data loader's frame-domain crop for clips longer than 10 s (first_frame = round(start / hop))
// and its evaluation read (first_frame 0).
void copy_frames(const CachedMel& mel, int64_t first_frame, int64_t n_frames, float* out);

// audio::load_mono → pad to settings.pad_to_samples → linear mel. Throws core::InputError for bad
// audio (naming the file and the reason). Used by the cache and by `greensed infer`.
CachedMel compute_clip_mel(const std::string& path, const CacheSettings& settings,
                           const MelExtractor& extractor);

// One entry of index.json.
struct CacheIndexEntry {
  int64_t size = 0;      // the source file's size in bytes
  int64_t mtime_ns = 0;  // and modification time
  uint64_t settings = 0;
  std::string file;  // mel/<16 hex>.mel, relative to the cache directory
  int n_mels = 0;
  int64_t n_frames = 0;
  int64_t n_samples = 0;
};

// Parses index.json: the format and version, every entry's fields with their types and ranges,
// and its file name (mel/<16 hex digits>.mel: an index never points outside its cache). Throws
// core::InputError naming `origin` and the entry for anything else.
std::unordered_map<std::string, CacheIndexEntry> parse_cache_index(std::string_view text,
                                                                   const std::string& origin);

class FeatureCache {
 public:
  // Opens (or creates on first store) the cache in `dir`. A missing index is an empty cache; an
  // unreadable or corrupt index is logged and treated as empty (everything is recomputed).
  FeatureCache(std::string dir, const CacheSettings& settings);
  ~FeatureCache();  // flushes the index if it changed (errors logged, not thrown)
  FeatureCache(const FeatureCache&) = delete;
  FeatureCache& operator=(const FeatureCache&) = delete;

  const std::string& dir() const { return dir_; }
  const CacheSettings& settings() const { return settings_; }
  const MelExtractor& extractor() const { return extractor_; }

  // The cached mel of `source_path` when its entry is fresh and its file intact; a stat and an
  // mmap. Thread-safe.
  std::optional<CachedMel> lookup(const std::string& source_path) const;
  // Whether lookup would succeed without mapping the file (stat only). Thread-safe.
  bool is_fresh(const std::string& source_path) const;
  // Computes the clip's mel, stores it and records it in the index. Thread-safe (callers on
  // several threads compute in parallel). Throws core::InputError for bad audio; the cache is then
  // unchanged.
  CachedMel compute_and_store(const std::string& source_path);
  // lookup(), else compute_and_store().
  CachedMel get(const std::string& source_path);

  // Writes index.json atomically now (if anything changed).
  void flush();

  int64_t n_computed() const { return n_computed_.load(); }  // clips computed by this object
  int64_t n_hits() const { return n_hits_.load(); }          // lookups answered from disk
  size_t n_entries() const;

  // The index key of a path: its absolute, symlink-resolved form.
  static std::string key_of(const std::string& source_path);

 private:
  using Entry = CacheIndexEntry;
  const Entry* fresh_entry(const std::string& key, int64_t size, int64_t mtime_ns) const;
  void load_index();
  void maybe_flush();
  void flush_locked();  // caller holds flush_mutex_

  std::string dir_;
  CacheSettings settings_;
  uint64_t settings_hash_ = 0;
  MelExtractor extractor_;
  mutable std::shared_mutex mutex_;  // guards entries_, n_unflushed_, last_flush_s_
  std::unordered_map<std::string, Entry> entries_;
  int64_t n_unflushed_ = 0;
  double last_flush_s_ = 0.0;
  std::mutex flush_mutex_;
  std::atomic<int64_t> n_computed_{0};
  mutable std::atomic<int64_t> n_hits_{0};
};

}  // namespace greensed::features
