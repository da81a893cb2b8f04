// The in-memory API the training loop uses every epoch: raw frame scores -> decode_clip ->
// PsdsEval on an EventTable built in memory, checked against the reference pipeline's numbers;
// plus validation and merging of overlapping events.
#include <gtest/gtest.h>

#include "fixture_util.hpp"
#include "greensed/core/error.hpp"
#include "greensed/metrics/decode.hpp"
#include "greensed/metrics/psds_eval.hpp"

namespace greensed::metrics::testing {
namespace {

TEST(InMemory, DecodeClipThenIntersectionF1MatchesReference) {
  const std::string dir = case_dir("case_s_scores_pipeline");
  const auto expected = load_json(dir + "/expected.json");
  const auto clips = read_scores_dir(dir + "/scores");
  const FrameGrid grid;
  EventTable detections;
  detections.source = "epoch 1 validation";
  const int windows[] = {7};
  for (const auto& clip : clips) {
    ASSERT_EQ(clip.n_frames(), grid.n_frames());
    // Scores with two decimals are exact in float64; the training path sees the same values.
    const std::vector<double>& s = clip.scores;
    std::vector<double> filtered(s.size());
    median_filter(s, filtered, clip.n_frames(), clip.n_classes(), windows);
    decode_events(filtered, clip.n_frames(), clip.classes, 0.5, clip.audio_id + ".wav", grid,
                  detections.events);
  }
  const EventTable gt = read_event_table(dir + "/gt.tsv");
  const Durations durations = read_durations(dir + "/durations.tsv");
  const PsdsEval eval(gt, durations, {0.5, 0.5, 0.3});
  expect_exact(expected["intersection_f1_macro"], desed_intersection_f1(eval, detections), "F1");
  EXPECT_EQ(detections.events.size(), expected["n_detections"]["0.5"].get<size_t>());
  // The float path (decode_clip) compares in float32; on these scores it decodes the same events.
  std::vector<Event> from_float;
  for (const auto& clip : clips) {
    const std::vector<float> f(clip.scores.begin(), clip.scores.end());
    decode_clip(f, clip.n_frames(), clip.classes, windows, 0.5, clip.audio_id + ".wav", grid,
                from_float);
  }
  ASSERT_EQ(from_float.size(), detections.events.size());
  for (size_t i = 0; i < from_float.size(); ++i) {
    EXPECT_EQ(from_float[i].onset, detections.events[i].onset);
    EXPECT_EQ(from_float[i].offset, detections.events[i].offset);
  }
}

EventTable table(std::vector<Event> events) {
  EventTable t;
  t.source = "memory";
  t.events = std::move(events);
  return t;
}

TEST(InMemory, ValidateRejectsOverlapButNotTouchingOrDuplicates) {
  EXPECT_NO_THROW(validate_events(table({{"a.wav", "Dog", 1, 2},
                                         {"a.wav", "Dog", 2, 3},
                                         {"a.wav", "Dog", 1, 2},
                                         {"a.wav", "Cat", 1.5, 2.5}})));
  try {
    validate_events(
        table({{"a.wav", "Dog", 1, 3}, {"b.wav", "Dog", 1, 3}, {"a.wav", "Dog", 2, 2}}));
    ADD_FAILURE() << "a zero-length event inside a same-class event must be flagged";
  } catch (const core::InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "memory: Dog event 2-2 s in a.wav overlaps the Dog event 1-3 s on another event; "
              "psds_eval rejects overlapping events of one class (merge them, or pass "
              "--merge-overlaps)");
  }
  EXPECT_THROW(validate_events(table({{"a.wav", "Dog", 3, 2}})), core::InputError);
}

TEST(InMemory, MergeOverlapsBuildsUnions) {
  EventTable t = table({{"a.wav", "Dog", 1, 3},
                        {"a.wav", "Dog", 2.5, 4},
                        {"a.wav", "Dog", 4, 5},
                        {"a.wav", "Cat", 0, 1},
                        {"a.wav", "Dog", 3.5, 3.8}});
  merge_overlapping_events(t);
  ASSERT_EQ(t.events.size(), 3u);
  EXPECT_EQ(t.events[0].label, "Dog");  // groups in first-seen order: Dog, then Cat
  EXPECT_EQ(t.events[0].onset, 1.0);
  EXPECT_EQ(t.events[0].offset, 4.0);
  EXPECT_EQ(t.events[1].onset, 4.0);  // touching is not overlapping
  EXPECT_EQ(t.events[1].offset, 5.0);
  EXPECT_EQ(t.events[2].label, "Cat");
  EXPECT_NO_THROW(validate_events(t));
}

TEST(InMemory, DuplicateOperatingPointIsSkipped) {
  const std::string dir = case_dir("case_a_basic");
  PsdsEval eval(read_event_table(dir + "/gt.tsv"), read_durations(dir + "/durations.tsv"));
  EventTable t = read_event_table(dir + "/detections/th_0.500.tsv");
  EXPECT_TRUE(eval.add_operating_point(t));
  std::reverse(t.events.begin(), t.events.end());  // same rows in another order
  EXPECT_FALSE(eval.add_operating_point(t));
  t.events.push_back({"a1.wav", "Dog", 3.0, 3.0});  // zero-length rows do not count
  EXPECT_FALSE(eval.add_operating_point(t));
  t.events.back().offset = 3.5;
  EXPECT_TRUE(eval.add_operating_point(t));
  EXPECT_EQ(eval.operating_points().size(), 2u);
}

}  // namespace
}  // namespace greensed::metrics::testing
