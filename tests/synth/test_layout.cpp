// Event layouts: Scaper's placement rules, DESED's label post-processing, determinism.
#include <gtest/gtest.h>

#include "greensed/synth/generate.hpp"
#include "greensed/synth/layout.hpp"

namespace {

using namespace greensed;
using data::Event;

TEST(PostProcess, MinimumDurationAndMerges) {
  // Cat (2): 0.1 s event extended to 0.25 s; Dog (4): gap 0.1 s < 0.15 merged; Dishes (3): onsets
  // 0.3 s apart (< 0.40) merged; Speech (8): an event ending inside the previous one removed.
  const std::vector<Event> in = {{1.0, 1.1, 2}, {2.0, 3.0, 4}, {3.1, 4.0, 4}, {5.0, 5.6, 3},
                                 {5.3, 6.0, 3}, {7.0, 9.0, 8}, {7.5, 8.0, 8}, {9.9, 9.95, 0}};
  const auto out = synth::post_process_labels(in, 10.0);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].label, 2);
  EXPECT_DOUBLE_EQ(out[0].offset, 1.25);
  EXPECT_EQ(out[1].label, 4);
  EXPECT_DOUBLE_EQ(out[1].onset, 2.0);
  EXPECT_DOUBLE_EQ(out[1].offset, 4.0);
  EXPECT_EQ(out[2].label, 3);
  EXPECT_DOUBLE_EQ(out[2].offset, 6.0);
  EXPECT_EQ(out[3].label, 8);
  EXPECT_DOUBLE_EQ(out[3].offset, 9.0);
  // The 0.05 s alarm at 9.9 s cannot be extended within the clip: dropped.
}

TEST(PostProcess, ClipsAndRoundsToMilliseconds) {
  const auto out = synth::post_process_labels({{-0.5, 2.12345, 1}, {8.0, 12.0, 9}}, 10.0);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_DOUBLE_EQ(out[0].onset, 0.0);
  EXPECT_DOUBLE_EQ(out[0].offset, 2.123);
  EXPECT_DOUBLE_EQ(out[1].offset, 10.0);
}

TEST(Layout, ScaperRulesHold) {
  auto rng = core::make_stream(1, core::RngStreamId::kTest);
  for (int i = 0; i < 500; ++i) {
    const auto layout = synth::sample_strong_layout(rng);
    ASSERT_FALSE(layout.sources.empty());
    for (const auto& s : layout.sources) {
      EXPECT_GE(s.onset, 0.0);
      EXPECT_LE(s.onset + s.duration, 10.0 + 1e-9);  // never cut at the clip end: moved earlier
      EXPECT_GE(s.duration, 0.25);
    }
    EXPECT_LE(synth::max_polyphony(layout.sources), 3);
    for (size_t a = 0; a < layout.labels.size(); ++a) {
      EXPECT_LE(layout.labels[a].offset, 10.0);
      for (size_t b = a + 1; b < layout.labels.size(); ++b) {
        if (layout.labels[a].label != layout.labels[b].label) continue;
        const bool disjoint = layout.labels[a].offset < layout.labels[b].onset ||
                              layout.labels[b].offset < layout.labels[a].onset;
        EXPECT_TRUE(disjoint) << "same-class overlap in clip " << i;
      }
    }
  }
}

TEST(Layout, TruncnormStaysInBounds) {
  auto rng = core::make_stream(2, core::RngStreamId::kTest);
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const double x = synth::truncnorm(rng, 5.0, 2.0, 0.25, 10.0);
    ASSERT_GE(x, 0.25);
    ASSERT_LE(x, 10.0);
    sum += x;
  }
  EXPECT_NEAR(sum / 20000, 5.0, 0.05);
}

TEST(Plan, SizesNamesAndDeterminism) {
  synth::SynthOptions o;
  o.seed = 9;
  o.n_synth_train = 5;
  o.n_synth_val = 3;
  o.n_weak = 4;
  o.n_unlabeled = 6;
  o.n_test = 10;
  const auto a = synth::plan_dataset(o);
  ASSERT_EQ(a.size(), 28u);
  EXPECT_EQ(a[0].filename, "0.wav");
  EXPECT_EQ(a[5].filename, "0.wav");  // validation restarts at 0
  EXPECT_EQ(a[8].filename.rfind("Y", 0), 0u);
  EXPECT_NE(a[8].weak_labels, 0u);
  int n_empty = 0, n_short = 0;
  for (const auto& c : a) {
    if (c.set != synth::SetId::kTest) continue;
    n_empty += c.layout.labels.empty();
    n_short += c.layout.duration < 9.95;
  }
  EXPECT_GE(n_empty, 2);  // small subsets keep the event-less and short-clip quirks
  EXPECT_GE(n_short, 2);
  // Deterministic, and clip i does not depend on how many clips are planned.
  const auto b = synth::plan_dataset(o);
  o.n_synth_train = 50;
  const auto c = synth::plan_dataset(o);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(a[i].layout.labels.size(), b[i].layout.labels.size());
    ASSERT_EQ(a[i].layout.labels.size(), c[i].layout.labels.size());
    for (size_t k = 0; k < a[i].layout.labels.size(); ++k) {
      EXPECT_EQ(a[i].layout.labels[k].onset, c[i].layout.labels[k].onset);
    }
  }
  o.n_test = 0;
  o.n_synth_train = o.n_synth_val = o.n_weak = o.n_unlabeled = 0;
  const auto all = synth::plan_dataset(o);
  EXPECT_EQ(all.size(), 1168u);  // the whole real validation layout
  size_t n_events = 0;
  for (const auto& c : all) n_events += c.layout.labels.size();
  EXPECT_EQ(n_events, 4224u);
}

TEST(Render, DeterministicAndLevelled) {
  synth::SynthOptions o;
  o.n_synth_train = 2;
  o.n_synth_val = o.n_weak = o.n_unlabeled = 0;
  o.n_test = 1;
  const auto plan = synth::plan_dataset(o);
  const synth::SourceLibrary none;
  const auto x = synth::render_clip(plan[0], o, none);
  const auto y = synth::render_clip(plan[0], o, none);
  EXPECT_EQ(x, y);
  EXPECT_EQ(x.size(), 160000u);
  const auto z = synth::render_clip(plan[1], o, none);
  EXPECT_NE(x, z);
  // Events at ref_db + 6..30 LU over a -50 LUFS background: the mixture is louder than -50 LUFS.
  const double l = synth::integrated_loudness(x);
  EXPECT_GT(l, -50.0);
  EXPECT_LT(l, -15.0);
}

}  // namespace
