// Frame scores -> median filter -> 50 thresholds, against scipy and the decoded-table sizes of the
// reference pipeline, and sed_scores_eval's PSD-ROC (case_s_scores_pipeline, see its README).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>

#include "fixture_util.hpp"
#include "greensed/core/error.hpp"
#include "greensed/metrics/decode.hpp"
#include "greensed/metrics/sed_scores.hpp"

namespace greensed::metrics::testing {
namespace {

class ScoresPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = case_dir("case_s_scores_pipeline");
    expected_ = load_json(dir_ + "/expected.json");
    clips_ = read_scores_dir(dir_ + "/scores");
    const int windows[] = {7};
    filtered_ = postprocess_scores(clips_, windows);
  }
  std::string dir_;
  nlohmann::json expected_;
  std::vector<ClipScores> clips_, filtered_;
};

TEST_F(ScoresPipeline, MedianFilterEqualsScipy) {
  ASSERT_EQ(clips_.size(), 40u);
  int checked = 0;
  for (const auto& clip : filtered_) {
    if (!expected_["median_filtered"].contains(clip.audio_id)) continue;
    const auto& rows = expected_["median_filtered"][clip.audio_id];
    ASSERT_EQ(int(rows.size()), clip.n_frames());
    for (int t = 0; t < clip.n_frames(); ++t) {
      for (int k = 0; k < clip.n_classes(); ++k) {
        EXPECT_EQ(clip.at(t, k), rows[t][k].get<double>()) << clip.audio_id << " t=" << t;
      }
    }
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST_F(ScoresPipeline, DecodedTableSizesAtEveryThreshold) {
  auto thresholds = desed_test_thresholds();
  thresholds.push_back(0.5);
  const auto tables = decode_tables(filtered_, thresholds);
  for (size_t i = 0; i < thresholds.size(); ++i) {
    const std::string key = fmt::format("{}", thresholds[i]);  // Python repr of the double
    ASSERT_TRUE(expected_["n_detections"].contains(key)) << key;
    EXPECT_EQ(tables[i].events.size(), expected_["n_detections"][key].get<size_t>()) << key;
  }
}

TEST_F(ScoresPipeline, SedScoresPsdsRocAndPerClass) {
  const EventTable gt = read_event_table(dir_ + "/gt.tsv");
  const Durations durations = read_durations(dir_ + "/durations.tsv");
  for (const auto& [name, params] :
       {std::pair<std::string, PsdsParams>{"psds1", PsdsParams::scenario1()},
        {"psds2", PsdsParams::scenario2()}}) {
    const auto r = desed_sed_scores_psds(filtered_, gt, durations, params);
    expect_exact(expected_[name + "_sed_scores"], r.value, name);
    const auto& roc = expected_[name + "_sed_scores_roc"];
    ASSERT_EQ(roc["efpr"].size(), r.efpr.size()) << name;
    for (size_t j = 0; j < r.efpr.size(); ++j) {
      expect_exact(roc["efpr"][j], r.efpr[j], name + " efpr");
      expect_exact(roc["etpr"][j], r.etpr[j], name + " etpr");
    }
    for (size_t c = 0; c < r.classes.size(); ++c) {
      expect_exact(expected_[name + "_sed_scores_per_class"][r.classes[c]], r.per_class[c],
                   name + " " + r.classes[c]);
    }
  }
}

TEST_F(ScoresPipeline, SedScoresRejectsMismatches) {
  EventTable gt = read_event_table(dir_ + "/gt.tsv");
  const Durations durations = read_durations(dir_ + "/durations.tsv");
  EXPECT_THROW(sed_scores_psds(filtered_, gt, durations, 0.7, 0.7, 0.3, 0.0, 1.0, 100.0),
               core::InputError);  // cttc given with alpha_ct = 0
  gt.events.push_back({"unknown_clip.wav", "Dog", 1.0, 2.0, 99});
  try {
    desed_sed_scores_psds(filtered_, gt, durations, PsdsParams::scenario1());
    ADD_FAILURE() << "expected an InputError";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(":99: clip 'unknown_clip.wav' has ground truth but no "
                                         "score file"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace greensed::metrics::testing
