// DESED classes and the reference's label encoder (spec desed_baseline.md §5).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "greensed/data/tables.hpp"
#include "greensed/metrics/decode.hpp"

namespace greensed::data {

inline constexpr int kNumClasses = 10;  // K

// The encoder's class order (local/classes_dict.py): index 0..9.
inline constexpr std::array<std::string_view, kNumClasses> kClassNames = {
    "Alarm_bell_ringing",         "Blender", "Cat",           "Dishes", "Dog",
    "Electric_shaver_toothbrush", "Frying",  "Running_water", "Speech", "Vacuum_cleaner"};

// Index of a class name, or -1. Exact match (the DESED tables are clean).
int class_index(std::string_view name);
// "Alarm_bell_ringing, Blender, ..." for error messages.
std::string known_classes_list();

// ManyHotEncoder(labels, audio_len=10, frame_len=2048, frame_hop=256, net_pooling=4, fs=16000).
//   n_frames = int(int(audio_len*fs/hop)/net_pooling) = 156 (T_label);
//   phi(t) = clip(t*fs/hop/net_pooling, 0, n_frames) = clip(15.625 t, 0, 156);
//   an event sets frames [int(phi(onset)), ceil(phi(offset))) (onset truncated, offset rounded up,
//   end exclusive); frame i -> time clip(i*hop*net_pooling/fs, 0, audio_len) = 0.064 i s.
class ManyHotEncoder {
 public:
  explicit ManyHotEncoder(double audio_len = 10.0, int fs = 16000, int frame_hop = 256,
                          int net_pooling = 4);
  explicit ManyHotEncoder(const metrics::FrameGrid& grid)
      : ManyHotEncoder(grid.audio_len, grid.sample_rate, grid.hop_length, grid.net_pooling) {}

  int n_frames() const { return n_frames_; }
  double frame_seconds() const { return double(frame_hop_) * net_pooling_ / fs_; }  // 0.064 s
  double time_to_frame(double t) const;  // phi(t), clipped to [0, n_frames]
  int onset_frame(double t) const;       // int(phi(t))
  int offset_frame(double t) const;      // int(ceil(phi(t)))
  double frame_to_time(int frame) const;

  // out [K, T_label] (= [10, 156]) is overwritten: zeros, then 1 on every event's frames.
  void encode_strong(std::span<const Event> events, std::span<float> out) const;
  // out [K] is overwritten with the multi-hot vector of `labels` (bit c = class c).
  static void encode_weak(uint32_t labels, std::span<float> out);

 private:
  metrics::FrameGrid grid_;  // n_frames and frame_to_time (one formula for labels and decoding)
  double audio_len_;
  int fs_, frame_hop_, net_pooling_, n_frames_;
};

// The reference's `process_labels` for a clip cropped at `crop_onset` seconds to `audio_len`:
// shift by -crop_onset, clamp to [0, audio_len], drop events with onset >= offset.
std::vector<Event> crop_events(std::span<const Event> events, double crop_onset, double audio_len);

// The weak set's split into training and validation clips.
struct WeakSplit {
  std::vector<int> train;       // indices into the weak table, in sampled order
  std::vector<int> validation;  // the rest, in table order
};

// Seeded 90/10 split (pandas `sample(frac, random_state)` semantics: n_train = round(frac * n),
// the training clips in sampled order, the rest in table order). The permutation comes from
// core::RngStream(seed, RngStreamId::kWeakSplit), so it is deterministic but not pandas' numbers.
WeakSplit split_weak(int n_clips, double train_fraction, uint64_t seed);

// Split from a list file: one filename per line (an optional `filename` header line; blank lines
// and lines starting with '#' ignored). Every name must be in `clips`; the rest is validation.
WeakSplit split_weak_from_file(const std::vector<WeakClip>& clips, const std::string& list_path);
// The same on text already read (core::split_lines: a UTF-8 byte-order mark and CRLF line ends are
// fine); `origin` names it in messages.
WeakSplit parse_weak_split(const std::vector<WeakClip>& clips, std::string_view text,
                           const std::string& origin);

}  // namespace greensed::data
