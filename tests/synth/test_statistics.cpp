// A generated strong set against the real DESED validation statistics
// (src/synth/tables/validation_class_stats.tsv, a copy of the project's derived table).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "greensed/synth/generate.hpp"

namespace {

using namespace greensed;

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

TEST(Statistics, StrongSetMatchesRealValidation) {
  synth::SynthOptions o;
  o.seed = 2022;
  o.n_synth_train = 3000;
  o.n_synth_val = o.n_weak = o.n_unlabeled = 0;
  o.n_test = 1;
  const auto plan = synth::plan_dataset(o);
  std::array<int, data::kNumClasses> count{};
  std::array<std::vector<double>, data::kNumClasses> durations;
  std::array<int, data::kNumClasses> clips_with{};
  int n_events = 0, n_clips = 0;
  for (const auto& c : plan) {
    if (c.set != synth::SetId::kSynthTrain) continue;
    ++n_clips;
    uint32_t present = 0;
    for (const auto& e : c.layout.labels) {
      ++count[e.label];
      ++n_events;
      durations[e.label].push_back(e.offset - e.onset);
      present |= 1u << e.label;
    }
    for (int k = 0; k < data::kNumClasses; ++k) clips_with[k] += (present >> k) & 1u;
  }
  // The embedded table is the real validation set's statistics.
  const auto& real = synth::real_stats();
  EXPECT_EQ(real.classes[8].n_events, 1752);
  int n_real = 0;
  for (const auto& k : real.classes) n_real += k.n_events;  // 4224
  for (int k = 0; k < data::kNumClasses; ++k) {
    const double share = double(count[k]) / n_events;
    const double real_share = double(real.classes[k].n_events) / n_real;
    const double med = median(durations[k]);
    const double real_med = real.classes[k].dur_quantiles[2];
    std::printf("%-27s share %.3f (real %.3f)  clips %.3f (real %.3f)  median %.2f s (real %.2f)\n",
                std::string(data::kClassNames[k]).c_str(), share, real_share,
                double(clips_with[k]) / n_clips, real.classes[k].frac_clips, med, real_med);
    // Bounds: each class's share of all events within a factor 1.3 of the real share, the share of
    // clips containing it within a factor 1.35, the median duration within a factor 1.25.
    const double clip_share = double(clips_with[k]) / n_clips;
    EXPECT_GT(share, real_share / 1.3) << data::kClassNames[k];
    EXPECT_LT(share, real_share * 1.3) << data::kClassNames[k];
    EXPECT_GT(clip_share, real.classes[k].frac_clips / 1.35) << data::kClassNames[k];
    EXPECT_LT(clip_share, real.classes[k].frac_clips * 1.35) << data::kClassNames[k];
    EXPECT_GT(med, real_med / 1.25) << data::kClassNames[k];
    EXPECT_LT(med, real_med * 1.25) << data::kClassNames[k];
  }
  const double events_per_clip = double(n_events) / n_clips;
  std::printf("events per clip %.2f (real 3.62)\n", events_per_clip);
  EXPECT_NEAR(events_per_clip, 4224.0 / 1168.0, 0.75);
}

}  // namespace
