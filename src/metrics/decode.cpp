#include "greensed/metrics/decode.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "greensed/core/error.hpp"

namespace greensed::metrics {
namespace {

// scipy's 'reflect' boundary: the signal repeats mirrored with period 2n.
inline long reflect_index(long i, long n) {
  const long period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

int window_of(std::span<const int> windows, int k, int n_classes) {
  GREENSED_CHECK(windows.size() == 1 || int(windows.size()) == n_classes,
                 "median_filter: {} window lengths for {} classes (give 1 or one per class)",
                 windows.size(), n_classes);
  const int w = windows.size() == 1 ? windows[0] : windows[size_t(k)];
  GREENSED_CHECK(w >= 1, "median_filter: window length must be >= 1, found {}", w);
  return w;
}

template <typename T>
void median_filter_impl(std::span<const T> in, std::span<T> out, int n_frames, int n_classes,
                        std::span<const int> windows, bool reference) {
  GREENSED_CHECK(in.size() == size_t(n_frames) * size_t(n_classes) && out.size() == in.size(),
                 "median_filter: buffers {} / {} for [{}, {}]", in.size(), out.size(), n_frames,
                 n_classes);
  std::vector<T> window;
  for (int k = 0; k < n_classes; ++k) {
    const int w = window_of(windows, k, n_classes);
    const int half = w / 2;
    window.resize(size_t(w));
    for (int t = 0; t < n_frames; ++t) {
      for (int j = 0; j < w; ++j) {
        const long src = reflect_index(long(t) - half + j, n_frames);
        window[size_t(j)] = in[size_t(src) * n_classes + size_t(k)];
      }
      if (reference) {
        std::sort(window.begin(), window.end());
      } else {
        std::nth_element(window.begin(), window.begin() + half, window.end());
      }
      out[size_t(t) * n_classes + size_t(k)] = window[size_t(half)];
    }
  }
}

template <typename T, typename TimeOf>
void decode_impl(std::span<const T> filtered, int n_frames, const std::vector<std::string>& classes,
                 double threshold, const std::string& filename, TimeOf time_of,
                 std::vector<Event>& out) {
  const size_t n_classes = classes.size();
  GREENSED_CHECK(filtered.size() == size_t(n_frames) * n_classes,
                 "decode_events: {} scores for [{}, {}]", filtered.size(), n_frames, n_classes);
  const T th = static_cast<T>(threshold);
  for (size_t k = 0; k < n_classes; ++k) {
    int start = -1;
    for (int t = 0; t <= n_frames; ++t) {
      const bool active = t < n_frames && filtered[size_t(t) * n_classes + k] > th;
      if (active && start < 0) start = t;
      if (!active && start >= 0) {
        out.push_back({filename, classes[k], time_of(start), time_of(t), 0});
        start = -1;
      }
    }
  }
}

}  // namespace

FrameGrid frame_grid(const core::Config& config) {
  FrameGrid grid;
  grid.sample_rate = config.feats.sample_rate;
  grid.hop_length = config.feats.hop_length;
  grid.net_pooling = config.data.net_subsample;
  grid.audio_len = config.data.audio_max_len;
  return grid;
}

int FrameGrid::n_frames() const {
  return int(int(audio_len * sample_rate / hop_length) / net_pooling);
}

double FrameGrid::frame_to_time(long frame) const {
  const double t = double(frame * net_pooling) / (double(sample_rate) / double(hop_length));
  return std::clamp(t, 0.0, audio_len);
}

void median_filter(std::span<const float> in, std::span<float> out, int n_frames, int n_classes,
                   std::span<const int> windows) {
  median_filter_impl<float>(in, out, n_frames, n_classes, windows, false);
}
void median_filter(std::span<const double> in, std::span<double> out, int n_frames, int n_classes,
                   std::span<const int> windows) {
  median_filter_impl<double>(in, out, n_frames, n_classes, windows, false);
}
void median_filter_reference(std::span<const double> in, std::span<double> out, int n_frames,
                             int n_classes, std::span<const int> windows) {
  median_filter_impl<double>(in, out, n_frames, n_classes, windows, true);
}

void decode_events(std::span<const float> filtered, int n_frames,
                   const std::vector<std::string>& classes, double threshold,
                   const std::string& filename, const FrameGrid& grid, std::vector<Event>& out) {
  decode_impl<float>(
      filtered, n_frames, classes, threshold, filename,
      [&](int f) { return grid.frame_to_time(f); }, out);
}
void decode_events(std::span<const double> filtered, int n_frames,
                   const std::vector<std::string>& classes, double threshold,
                   const std::string& filename, const FrameGrid& grid, std::vector<Event>& out) {
  decode_impl<double>(
      filtered, n_frames, classes, threshold, filename,
      [&](int f) { return grid.frame_to_time(f); }, out);
}
void decode_clip(std::span<const float> scores, int n_frames,
                 const std::vector<std::string>& classes, std::span<const int> windows,
                 double threshold, const std::string& filename, const FrameGrid& grid,
                 std::vector<Event>& out) {
  std::vector<float> filtered(scores.size());
  median_filter(scores, filtered, n_frames, int(classes.size()), windows);
  decode_events(std::span<const float>(filtered), n_frames, classes, threshold, filename, grid,
                out);
}

void decode_events(std::span<const double> filtered, std::span<const double> timestamps,
                   const std::vector<std::string>& classes, double threshold,
                   const std::string& filename, std::vector<Event>& out) {
  GREENSED_CHECK(!timestamps.empty(), "decode_events: no timestamps for {}", filename);
  decode_impl<double>(
      filtered, int(timestamps.size()) - 1, classes, threshold, filename,
      [&](int f) { return timestamps[size_t(f)]; }, out);
}

std::vector<ClipScores> postprocess_scores(const std::vector<ClipScores>& clips,
                                           std::span<const int> windows) {
  std::vector<ClipScores> out = clips;
  for (size_t i = 0; i < clips.size(); ++i) {
    median_filter(clips[i].scores, out[i].scores, clips[i].n_frames(), clips[i].n_classes(),
                  windows);
  }
  return out;
}

std::vector<EventTable> decode_tables(const std::vector<ClipScores>& filtered,
                                      std::span<const double> thresholds) {
  std::vector<EventTable> tables(thresholds.size());
  for (size_t j = 0; j < thresholds.size(); ++j) {
    tables[j].source = fmt::format("scores decoded at {}", thresholds[j]);
    for (const ClipScores& clip : filtered) {
      const std::string filename = clip.audio_id + ".wav";
      tables[j].clips.push_back(filename);
      decode_events(clip.scores, clip.timestamps, clip.classes, thresholds[j], filename,
                    tables[j].events);
    }
  }
  return tables;
}

std::vector<double> numpy_arange(double start, double stop, double step) {
  GREENSED_CHECK(step != 0.0, "numpy_arange: zero step");
  const double len = std::ceil((stop - start) / step);
  const long n = len > 0 ? long(len) : 0;
  std::vector<double> values(static_cast<size_t>(n), 0.0);
  if (n > 0) values[0] = start;
  if (n > 1) values[1] = start + step;
  const double delta = (start + step) - start;
  for (long i = 2; i < n; ++i) values[size_t(i)] = start + double(i) * delta;
  return values;
}

std::vector<double> desed_test_thresholds(int n_thresholds) {
  return numpy_arange(1.0 / (2.0 * n_thresholds), 1.0, 1.0 / n_thresholds);
}

}  // namespace greensed::metrics
