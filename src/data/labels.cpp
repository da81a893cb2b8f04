#include "greensed/data/labels.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/core/text.hpp"

namespace greensed::data {

int class_index(std::string_view name) {
  for (int c = 0; c < kNumClasses; ++c) {
    if (kClassNames[c] == name) return c;
  }
  return -1;
}

std::string known_classes_list() {
  std::string out;
  for (auto name : kClassNames) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

ManyHotEncoder::ManyHotEncoder(double audio_len, int fs, int frame_hop, int net_pooling)
    : grid_{fs, frame_hop, net_pooling, audio_len},
      audio_len_(audio_len),
      fs_(fs),
      frame_hop_(frame_hop),
      net_pooling_(net_pooling) {
  GREENSED_CHECK(audio_len > 0 && fs > 0 && frame_hop > 0 && net_pooling > 0,
                 "encoder audio_len {} fs {} hop {} pooling {}", audio_len, fs, frame_hop,
                 net_pooling);
  n_frames_ = grid_.n_frames();
}

// Same operation order as the reference (_time_to_frame): samples, frames, pooled frames.
double ManyHotEncoder::time_to_frame(double t) const {
  const double samples = t * fs_;
  const double frame = samples / frame_hop_;
  return std::clamp(frame / net_pooling_, 0.0, double(n_frames_));
}

int ManyHotEncoder::onset_frame(double t) const {
  return int(time_to_frame(t));
}
int ManyHotEncoder::offset_frame(double t) const {
  return int(std::ceil(time_to_frame(t)));
}

double ManyHotEncoder::frame_to_time(int frame) const {
  return grid_.frame_to_time(frame);
}

void ManyHotEncoder::encode_strong(std::span<const Event> events, std::span<float> out) const {
  GREENSED_CHECK(out.size() == size_t(kNumClasses) * n_frames_, "strong target size {} vs {}x{}",
                 out.size(), kNumClasses, n_frames_);
  std::fill(out.begin(), out.end(), 0.0f);
  for (const Event& e : events) {
    GREENSED_CHECK(e.label >= 0 && e.label < kNumClasses, "event label {}", e.label);
    const int first = onset_frame(e.onset);
    const int last = offset_frame(e.offset);  // exclusive
    float* row = out.data() + size_t(e.label) * n_frames_;
    for (int t = first; t < last; ++t) row[t] = 1.0f;
  }
}

void ManyHotEncoder::encode_weak(uint32_t labels, std::span<float> out) {
  GREENSED_CHECK(out.size() == size_t(kNumClasses), "weak target size {}", out.size());
  for (int c = 0; c < kNumClasses; ++c) out[c] = (labels >> c) & 1u ? 1.0f : 0.0f;
}

std::vector<Event> crop_events(std::span<const Event> events, double crop_onset, double audio_len) {
  std::vector<Event> out;
  for (Event e : events) {
    e.onset = std::clamp(e.onset - crop_onset, 0.0, audio_len);
    e.offset = std::clamp(e.offset - crop_onset, 0.0, audio_len);
    if (e.onset < e.offset) out.push_back(e);
  }
  return out;
}

WeakSplit split_weak(int n_clips, double train_fraction, uint64_t seed) {
  GREENSED_CHECK(n_clips >= 0 && train_fraction >= 0.0 && train_fraction <= 1.0,
                 "split_weak n {} fraction {}", n_clips, train_fraction);
  auto rng = core::make_stream(seed, core::RngStreamId::kWeakSplit);
  const std::vector<int> order = rng.permutation(n_clips);
  const int n_train = int(std::lround(train_fraction * n_clips));
  WeakSplit split;
  split.train.assign(order.begin(), order.begin() + n_train);
  std::vector<bool> in_train(n_clips, false);
  for (int i : split.train) in_train[i] = true;
  for (int i = 0; i < n_clips; ++i) {
    if (!in_train[i]) split.validation.push_back(i);
  }
  return split;
}

WeakSplit split_weak_from_file(const std::vector<WeakClip>& clips, const std::string& list_path) {
  return parse_weak_split(clips, core::read_file(list_path), list_path);
}

WeakSplit parse_weak_split(const std::vector<WeakClip>& clips, std::string_view text,
                           const std::string& origin) {
  std::unordered_map<std::string, int> index;
  for (int i = 0; i < int(clips.size()); ++i) index.emplace(clips[i].filename, i);
  WeakSplit split;
  std::vector<bool> in_train(clips.size(), false);
  const std::vector<std::string_view> lines = core::split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int line = int(i) + 1;
    std::string_view name = lines[i];
    if (const size_t tab = name.find('\t'); tab != std::string_view::npos)
      name = name.substr(0, tab);
    name = core::trim(name);
    if (name.empty() || name[0] == '#' || (line == 1 && name == "filename")) continue;
    const auto it = index.find(std::string(name));
    if (it == index.end()) {
      throw core::InputError(
          fmt::format("{}:{}: clip '{}' is not in the weak table; list only "
                      "clips of data.weak_tsv",
                      origin, line, name));
    }
    if (in_train[it->second]) {
      throw core::InputError(fmt::format("{}:{}: clip '{}' is listed twice", origin, line, name));
    }
    in_train[it->second] = true;
    split.train.push_back(it->second);
  }
  for (int i = 0; i < int(clips.size()); ++i) {
    if (!in_train[i]) split.validation.push_back(i);
  }
  return split;
}

}  // namespace greensed::data
