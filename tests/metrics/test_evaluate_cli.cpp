// greensed evaluate end to end: the psds_eval README value on its DCASE 2019 example data, the
// scores pipeline against the reference libraries, and the messages for bad inputs.
#include <gtest/gtest.h>

#include "support/run_command.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "fixture_util.hpp"

namespace greensed::metrics::testing {
namespace {

using Result = greensed::test::CommandResult;

Result run(const std::string& args) {
  return greensed::test::run_greensed("evaluate " + args);
}

std::string inputs(const std::string& dir) {
  return "--ground-truth " + dir + "/gt.tsv --durations " + dir + "/durations.tsv";
}

std::string json_path(const std::string& name) {
  return ::testing::TempDir() + "/greensed_evaluate_" + name + ".json";
}

TEST(EvaluateCli, PsdsEvalReadmeValueOnDcase2019Example) {
  const std::string dir = case_dir("external_psds_eval_dcase2019_example");
  std::string tables;
  for (const char* th :
       {"0.100", "0.200", "0.300", "0.400", "0.500", "0.600", "0.700", "0.800", "0.900", "1.000"}) {
    tables += " " + dir + "/detections/th_" + th + ".tsv";
  }
  const auto r = run(inputs(dir) + " --detections" + tables +
                     " --psds-params 0.5,0.5,0.3,0,0,100 --json " + json_path("ext"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto out = load_json(json_path("ext"));
  const auto expected = load_json(dir + "/expected.json");
  // The psds_eval README documents 0.40867 for these parameters.
  EXPECT_NEAR(out["psds_custom"].get<double>(), 0.40867, 5e-6);
  expect_value(expected["psds_eval"]["psds"]["psds_eval_readme"]["value"],
               out["psds_custom"].get<double>(), "psds_custom");
  expect_value(expected["psds_eval"]["psds"]["psds1"]["value"], out["psds1"].get<double>(),
               "psds1");
  expect_value(expected["psds_eval"]["psds"]["psds2"]["value"], out["psds2"].get<double>(),
               "psds2");
  const auto& f1 = expected["psds_eval"]["intersection_f1"];
  expect_value(
      f1["dtc0.5_gtc0.5_cttc0.3"]["desed_compute_per_intersection_macro_f1_at_f1_threshold"],
      out["intersection_f1_macro"].get<double>(), "F1 0.5");
  expect_value(
      f1["dtc0.7_gtc0.7_cttc0.3"]["desed_compute_per_intersection_macro_f1_at_f1_threshold"],
      out["intersection_f1_macro_0.7"].get<double>(), "F1 0.7");
  expect_value(expected["sed_eval"]["event_based"]["macro_f1"], out["event_f1_macro"].get<double>(),
               "event F1");
  expect_value(expected["sed_eval"]["segment_based"]["macro_f1"],
               out["segment_f1_macro"].get<double>(), "segment F1");
  EXPECT_NE(r.output.find("psds_custom"), std::string::npos) << r.output;
  EXPECT_TRUE(out["per_class"].contains("Speech"));
  EXPECT_FALSE(out.contains("psds1_sed_scores"));
}

TEST(EvaluateCli, ScoresPipelineMatchesReferenceLibraries) {
  const std::string dir = case_dir("case_s_scores_pipeline");
  const auto r = run(inputs(dir) + " --scores " + dir + "/scores --median-filter 7 --json " +
                     json_path("scores"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto out = load_json(json_path("scores"));
  const auto expected = load_json(dir + "/expected.json");
  for (const char* key :
       {"intersection_f1_macro", "intersection_f1_macro_0.7", "psds1", "psds2", "event_f1_macro",
        "segment_f1_macro", "psds1_sed_scores", "psds2_sed_scores"}) {
    ASSERT_TRUE(out[key].is_number()) << key;
    expect_value(expected[key], out[key].get<double>(), key);
  }
  for (const auto& [cls, v] : expected["psds2_sed_scores_per_class"].items()) {
    expect_value(v, out["per_class"][cls]["psds2_sed_scores"].get<double>(), cls);
  }
}

struct BadInput {
  std::string table, message;
};

void PrintTo(const BadInput& b, std::ostream* os) {
  *os << b.table;
}

class EvaluateCliErrors : public ::testing::TestWithParam<BadInput> {};

TEST_P(EvaluateCliErrors, NamesFileLineAndRule) {
  const std::string dir = case_dir("errors");
  const auto r = run(inputs(dir) + " --detections " + dir + "/" + GetParam().table);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(dir + "/" + GetParam().table + GetParam().message), std::string::npos)
      << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    BadInputs, EvaluateCliErrors,
    ::testing::Values(
        BadInput{"missing_column_th_0.5.tsv",
                 ":1: missing column 'offset' (header has: event_label, onset, filename); expected "
                 "the tab-separated columns filename, onset, offset, event_label"},
        BadInput{"onset_after_offset_th_0.5.tsv",
                 ":3: onset 5.5 is after offset 5.0 (Cat event in a.wav); every event needs onset "
                 "<= offset"},
        BadInput{"unknown_class_th_0.5.tsv",
                 ":3: unknown class 'Dogg' (ground-truth classes: Cat, Dog); fix the label or add "
                 "events of that class to the ground truth"},
        BadInput{"not_in_durations_th_0.5.tsv", ":3: clip 'c.wav' is not in the durations file"},
        BadInput{"overlap_th_0.5.tsv",
                 ":4: Dog event 2.5-4 s in a.wav overlaps the Dog event 1-3 s on line 2; psds_eval "
                 "rejects overlapping events of one class (merge them, or pass --merge-overlaps)"}),
    [](const auto& info) {
      std::string name = info.param.table.substr(0, info.param.table.find("_th_"));
      return name;
    });

TEST(EvaluateCli, MergeOverlapsAcceptsOverlappingEvents) {
  const std::string dir = case_dir("errors");
  const auto r = run(inputs(dir) + " --detections " + dir +
                     "/overlap_th_0.5.tsv --merge-overlaps --json " + json_path("merge"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto out = load_json(json_path("merge"));
  // Dog 1-3 and 2.5-4 merge into 1-4: DTC 2/3 passes 0.5 but not 0.7; Cat 5-6 is exact.
  EXPECT_EQ(out["intersection_f1_macro"].get<double>(), 1.0);
  EXPECT_EQ(out["per_class"]["Dog"]["intersection_f1_0.7"], nullptr);
}

TEST(EvaluateCli, NeedsDetectionsOrScores) {
  const std::string dir = case_dir("errors");
  const auto r = run(inputs(dir));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("give either --detections FILE... or --scores DIR"), std::string::npos)
      << r.output;
}

TEST(EvaluateCli, MissingF1TableGivesNull) {
  const std::string dir = case_dir("case_a_basic");
  const auto r = run(inputs(dir) + " --detections " + dir + "/detections/th_0.300.tsv " + dir +
                     "/detections/th_0.700.tsv --json " + json_path("nof1"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto out = load_json(json_path("nof1"));
  EXPECT_TRUE(out["intersection_f1_macro"].is_null());
  EXPECT_TRUE(out["event_f1_macro"].is_null());
  EXPECT_TRUE(out["psds1"].is_number());
}

// Inputs written into a fresh folder per test.
class EvaluateCliInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("greensed_evaluate_inputs_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    write("durations.tsv", "filename\tduration\na.wav\t10.0\nb.wav\t10.0\n");
    write("det_th_0.5.tsv",
          "filename\tonset\toffset\tevent_label\na.wav\t1.0\t3.0\tDog\n"
          "a.wav\t5.0\t6.0\tCat\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  Result evaluate(const std::string& gt = "gt.tsv") const {
    return run("--ground-truth " + path(gt) + " --durations " + path("durations.tsv") +
               " --detections " + path("det_th_0.5.tsv") + " --json " + path("out.json"));
  }
  std::filesystem::path dir_;
};

// Issue 15 item 7: exact duplicate ground-truth rows counted twice (n_gt 154 -> 308).
TEST_F(EvaluateCliInputs, ExactDuplicateGroundTruthRowsAreMergedWithAWarning) {
  write("gt.tsv",
        "filename\tonset\toffset\tevent_label\na.wav\t1.0\t3.0\tDog\n"
        "a.wav\t5.0\t6.0\tCat\na.wav\t1.0\t3.0\tDog\nb.wav\t\t\t\n");
  const auto r = evaluate();
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find(path("gt.tsv") + ": 1 exact duplicate row(s) merged (line 4 repeats "
                                           "line 2), as greensed train does"),
            std::string::npos)
      << r.output;
  const auto out = load_json(path("out.json"));
  EXPECT_EQ(out["per_class"]["Dog"]["n_gt"], 1);
  EXPECT_EQ(out["intersection_f1_macro"].get<double>(), 1.0);
}

// Issue 15 items 7 and 14: negative onsets and events past the clip's end, as train rejects them.
TEST_F(EvaluateCliInputs, NegativeTimesAndEventsPastTheClipEndAreRejected) {
  write("gt.tsv", "filename\tonset\toffset\tevent_label\na.wav\t-0.5\t3.0\tDog\n");
  auto r = evaluate();
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(path("gt.tsv") +
                          ":2: onset -0.5 is negative; times are seconds from the clip start"),
            std::string::npos)
      << r.output;
  write("gt.tsv",
        "filename\tonset\toffset\tevent_label\na.wav\t1.0\t3.0\tDog\n"
        "a.wav\t10.5\t11.0\tCat\n");
  r = evaluate();
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(path("gt.tsv") +
                          ":3: Cat event 10.5-11 s of a.wav starts at or after "
                          "the clip's end (10 s in " +
                          path("durations.tsv") + ")"),
            std::string::npos)
      << r.output;
}

// Issue 15 item 13: a header-only ground truth blamed the detections ("unknown class").
TEST_F(EvaluateCliInputs, HeaderOnlyGroundTruthIsNamed) {
  write("gt.tsv", "filename\tonset\toffset\tevent_label\n");
  const auto r = evaluate();
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(path("gt.tsv") + ": the ground truth has no events (0 clip(s) listed"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("det_th_0.5.tsv:"), std::string::npos) << r.output;
}

// Issue 15 item 13: an invisible UTF-8 byte-order mark hid the 'filename' column.
TEST_F(EvaluateCliInputs, ByteOrderMarkIsIgnored) {
  write("gt.tsv",
        "\xEF\xBB\xBF"
        "filename\tonset\toffset\tevent_label\r\n"
        "a.wav\t1.0\t3.0\tDog\r\na.wav\t5.0\t6.0\tCat\r\n");
  const auto r = evaluate();
  EXPECT_EQ(r.code, 0) << r.output;
}

// Issue 15 item 13: a score file missing a class column was reported against another file.
TEST_F(EvaluateCliInputs, ScoreFileMissingAClassColumnIsTheOneNamed) {
  const std::string src = case_dir("case_s_scores_pipeline");
  std::filesystem::copy(src + "/scores", dir_ / "scores");
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "scores"))
    names.push_back(e.path().string());
  std::sort(names.begin(), names.end());
  // Drop the 'Speech' column from the FIRST file in name order.
  std::ifstream in(names.front());
  std::string line, out;
  int speech = -1;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string x; std::getline(ls, x, '\t');) f.push_back(x);
    if (speech < 0) speech = int(std::find(f.begin(), f.end(), "Speech") - f.begin());
    f.erase(f.begin() + speech);
    for (size_t i = 0; i < f.size(); ++i) out += (i ? "\t" : "") + f[i];
    out += "\n";
  }
  in.close();
  std::ofstream(names.front()) << out;
  const auto r = run("--ground-truth " + src + "/gt.tsv --durations " + src +
                     "/durations.tsv --scores " + path("scores"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find(names.front() + ":1: no column for class 'Speech'"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace greensed::metrics::testing
