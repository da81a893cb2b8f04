// Post-processing and decoding: median filter against scipy.ndimage.median_filter (reflect mode,
// odd/even/over-long windows), strict thresholds, frame times, and numpy's arange values.
#include <gtest/gtest.h>

#include <random>

#include "fixture_util.hpp"
#include "greensed/core/error.hpp"
#include "greensed/metrics/decode.hpp"

namespace greensed::metrics::testing {
namespace {

std::vector<double> flatten(const nlohmann::json& rows) {
  std::vector<double> v;
  for (const auto& row : rows) {
    for (const auto& x : row) v.push_back(x.get<double>());
  }
  return v;
}

TEST(MedianFilter, MatchesScipyReflectForAnyWindow) {
  const auto j = load_json(case_dir("median_filter") + "/scipy_median_filter.json");
  for (const auto& c : j["cases"]) {
    const int w = c["window"].get<int>();
    const auto in = flatten(c["input"]);
    const auto expected = flatten(c["output"]);
    const int n_frames = int(c["input"].size());
    std::vector<double> out(in.size()), ref(in.size());
    const int windows[] = {w};
    median_filter(in, out, n_frames, 2, windows);
    median_filter_reference(in, ref, n_frames, 2, windows);
    EXPECT_EQ(out, expected) << "window " << w << " over " << n_frames << " frames";
    EXPECT_EQ(ref, expected) << "window " << w << " over " << n_frames << " frames";
  }
}

TEST(MedianFilter, FastEqualsReferencePerClassWindows) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int T = 156, K = 10;
  std::vector<double> in(size_t(T) * K), out(in.size()), ref(in.size());
  for (auto& x : in) x = std::round(u(rng) * 20) / 20;  // many ties
  const std::vector<int> windows = {3, 9, 9, 5, 1, 7, 2, 12, 31, 400};
  median_filter(in, out, T, K, windows);
  median_filter_reference(in, ref, T, K, windows);
  EXPECT_EQ(out, ref);
  // float buffers (training) give the float image of the same medians
  std::vector<float> fin(in.begin(), in.end()), fout(in.size());
  median_filter(fin, fout, T, K, windows);
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(fout[i], float(ref[i]));
  // window 1 is the identity
  const int one[] = {1};
  median_filter(in, out, T, K, one);
  EXPECT_EQ(out, in);
}

TEST(MedianFilter, RejectsWrongWindowCount) {
  std::vector<double> in(12), out(12);
  const int windows[] = {3, 3, 3};
  EXPECT_THROW(median_filter(in, out, 6, 2, windows), core::InternalError);
}

TEST(Decode, FrameGridOfDesed) {
  const FrameGrid grid;
  EXPECT_EQ(grid.n_frames(), 156);
  EXPECT_EQ(grid.frame_to_time(1), 0.064);
  EXPECT_EQ(grid.frame_to_time(156), (156.0 * 4) / 62.5);
  EXPECT_EQ(grid.frame_to_time(157), 10.0);  // 10.048 s is clipped to audio_len
}

TEST(Decode, ContiguousRegionsStrictThresholdClassOrder) {
  const FrameGrid grid;
  const std::vector<std::string> classes = {"Dog", "Cat"};
  // [T=6, K=2]: Dog active at frames 0-1 and 5 (run to the end), Cat only where > 0.5.
  const std::vector<double> s = {0.9, 0.5, 0.6, 0.51, 0.1, 0.50, 0.2, 0.7, 0.3, 0.7, 0.8, 0.2};
  std::vector<Event> events;
  decode_events(s, 6, classes, 0.5, "a.wav", grid, events);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].label, "Dog");
  EXPECT_EQ(events[0].onset, 0.0);
  EXPECT_EQ(events[0].offset, grid.frame_to_time(2));
  EXPECT_EQ(events[1].label, "Dog");
  EXPECT_EQ(events[1].onset, grid.frame_to_time(5));
  EXPECT_EQ(events[1].offset, grid.frame_to_time(6));
  EXPECT_EQ(events[2].label, "Cat");  // 0.51 at frame 1, 0.50 at frame 2 is not > 0.5
  EXPECT_EQ(events[2].onset, grid.frame_to_time(1));
  EXPECT_EQ(events[2].offset, grid.frame_to_time(2));
  EXPECT_EQ(events[3].onset, grid.frame_to_time(3));
  EXPECT_EQ(events[3].offset, grid.frame_to_time(5));
  EXPECT_EQ(events[3].filename, "a.wav");
}

TEST(Decode, FloatScoresCompareInFloat) {
  // numpy compares a float32 array with a Python float in float32: float(0.1) is not > 0.1.
  const FrameGrid grid;
  const std::vector<float> s = {0.1f, 0.1f};
  std::vector<Event> events;
  decode_events(s, 2, {"Dog"}, 0.1, "a.wav", grid, events);
  EXPECT_TRUE(events.empty());
  const std::vector<double> d = {double(0.1f), double(0.1f)};
  decode_events(d, 2, {"Dog"}, 0.1, "a.wav", grid, events);
  EXPECT_EQ(events.size(), 1u);  // in float64 the same score is above 0.1
}

TEST(Thresholds, EqualNumpyArangeValues) {
  const auto j = load_json(case_dir("case_s_scores_pipeline") + "/expected.json");
  const auto th = desed_test_thresholds();
  ASSERT_EQ(th.size(), 50u);
  for (size_t i = 0; i < th.size(); ++i) EXPECT_EQ(th[i], j["thresholds"][i].get<double>()) << i;
  EXPECT_EQ(th[2], 0.049999999999999996);
  EXPECT_EQ(th[49], 0.9899999999999999);
}

}  // namespace
}  // namespace greensed::metrics::testing
