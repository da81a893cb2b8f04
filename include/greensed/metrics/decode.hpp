// Post-processing and decoding of frame scores into events, as the DESED baseline does
// (spec/desed_baseline.md §5.3, spec/metrics.md §2).
//
// Pipeline per clip, scores S of shape [T, K] row-major (T frames, K classes):
//   median filter along time per class (scipy.ndimage.median_filter, size (w, 1), mode 'reflect')
//   -> S > threshold (strict) -> contiguous runs -> events [frame_to_time(start),
//   frame_to_time(end)).
// The 2022 recipe thresholds first and then filters the booleans; for a strict '>' and odd windows
// the two orders give the same events (the median of an odd window is one of its inputs).
// float scores compare against float(threshold), as numpy does for a float32 array (spec §2.3).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "greensed/core/config.hpp"
#include "greensed/metrics/events.hpp"
#include "greensed/metrics/scores.hpp"

namespace greensed::metrics {

// The encoder's time grid: fs 16000, hop 256, net pooling 4, 10 s clips -> 64 ms frames, T = 156.
struct FrameGrid {
  int sample_rate = 16000;
  int hop_length = 256;
  int net_pooling = 4;
  double audio_len = 10.0;

  int n_frames() const;  // int(int(audio_len * fs / hop) / net_pooling) = 156
  // ManyHotEncoder._frame_to_time: clip((frame * net_pooling) / (fs / hop), 0, audio_len).
  double frame_to_time(long frame) const;
};

// THE frame grid of a config (feats.sample_rate, feats.hop_length, data.net_subsample,
// data.audio_max_len): the labels' encoder, training's validation and test, and `greensed infer`.
FrameGrid frame_grid(const core::Config& config);

// scipy.ndimage.median_filter(x, size=(w, 1), mode='reflect') on [T, K]: output t of class k is
// element rank w/2 (0-based) of the sorted inputs t - w/2 ... t - w/2 + w - 1 (the upper median
// for even w), with the signal mirrored at the edges (... x1 x0 | x0 x1 ... x_{T-1} | x_{T-1} ...).
// `windows` holds one window length per class, or a single length for all; w = 1 is the identity.
// out = (does not accumulate); in and out must not alias.
void median_filter(std::span<const float> in, std::span<float> out, int n_frames, int n_classes,
                   std::span<const int> windows);
void median_filter(std::span<const double> in, std::span<double> out, int n_frames, int n_classes,
                   std::span<const int> windows);
// Plain-loop twin (sorts every window) used by the tests.
void median_filter_reference(std::span<const double> in, std::span<double> out, int n_frames,
                             int n_classes, std::span<const int> windows);

// Appends the events of one clip, class by class in `classes` order, then in time order
// (dcase_util find_contiguous_regions). Frame t ends at frame_to_time(t + 1).
void decode_events(std::span<const float> filtered, int n_frames,
                   const std::vector<std::string>& classes, double threshold,
                   const std::string& filename, const FrameGrid& grid, std::vector<Event>& out);
void decode_events(std::span<const double> filtered, int n_frames,
                   const std::vector<std::string>& classes, double threshold,
                   const std::string& filename, const FrameGrid& grid, std::vector<Event>& out);
// One clip, raw network output [T, K] -> events: median filter (`windows`), then threshold.
// The training loop's path (float32 scores, as the recipe's torch tensors).
void decode_clip(std::span<const float> scores, int n_frames,
                 const std::vector<std::string>& classes, std::span<const int> windows,
                 double threshold, const std::string& filename, const FrameGrid& grid,
                 std::vector<Event>& out);
// Same with explicit frame boundaries (n_frames + 1 timestamps), for sed_scores_eval score files.
void decode_events(std::span<const double> filtered, std::span<const double> timestamps,
                   const std::vector<std::string>& classes, double threshold,
                   const std::string& filename, std::vector<Event>& out);

// Median-filtered copies of score tables (median_filter along frames with `windows`).
std::vector<ClipScores> postprocess_scores(const std::vector<ClipScores>& clips,
                                           std::span<const int> windows);
// One event table per threshold, every clip decoded with its own frame boundaries; events are
// named audio_id + ".wav" as DESED does.
std::vector<EventTable> decode_tables(const std::vector<ClipScores>& filtered,
                                      std::span<const double> thresholds);

// numpy.arange(start, stop, step) element values: start + i * ((start + step) - start).
std::vector<double> numpy_arange(double start, double stop, double step);
// The 50 DESED test thresholds np.arange(1/(2*50), 1, 1/50) = 0.01, 0.03, ..., 0.9899999999999999.
std::vector<double> desed_test_thresholds(int n_thresholds = 50);

}  // namespace greensed::metrics
