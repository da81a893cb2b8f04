#include <gtest/gtest.h>

#include <cmath>

#include "greensed/report/tables.hpp"

namespace greensed::report {
namespace {

std::vector<EpochRecord> run_of(std::vector<double> f1, double kwh_per_epoch, double s_per_epoch) {
  std::vector<EpochRecord> rows;
  for (size_t i = 0; i < f1.size(); ++i) {
    EpochRecord r;
    r.epoch = int(i) + 1;
    r.val_synth_f1_teacher = f1[i];
    r.kwh = kwh_per_epoch;
    r.kwh_cumulative = kwh_per_epoch * (i + 1);
    r.wall_cumulative_s = s_per_epoch * (i + 1);
    rows.push_back(r);
  }
  return rows;
}

TEST(Tables, RunSummaryByHand) {
  // F1 0.1, 0.38, 0.41, 0.5, 0.48; 0.002 kWh and 60 s per epoch.
  const auto s = summarize_run(run_of({0.1, 0.38, 0.41, 0.5, 0.48}, 0.002, 60), 16, 1, "r");
  EXPECT_DOUBLE_EQ(s.max_f1, 0.5);
  EXPECT_DOUBLE_EQ(s.wall_s, 300);
  EXPECT_DOUBLE_EQ(s.total_kwh, 0.010);
  EXPECT_DOUBLE_EQ(s.wh_per_epoch, 2.0);
  EXPECT_DOUBLE_EQ(s.wh_per_minute, 2.0);    // 10 Wh over 5 minutes
  EXPECT_DOUBLE_EQ(s.kwh_at_f1_040, 0.006);  // epoch 3
  EXPECT_DOUBLE_EQ(s.kwh_at_95, 0.008);      // 0.95 · 0.5 = 0.475 first reached at epoch 4
  EXPECT_DOUBLE_EQ(s.kwh_at_max, 0.008);
  EXPECT_DOUBLE_EQ(s.extra_95_to_max, 0.0);
}

TEST(Tables, NeverReachingFortyPercentIsNaN) {
  const auto s = summarize_run(run_of({0.1, 0.2, 0.3}, 0.001, 10), 8, 1, "r");
  EXPECT_TRUE(std::isnan(s.kwh_at_f1_040));
  EXPECT_DOUBLE_EQ(s.kwh_at_95, 0.003);  // 0.285 reached at epoch 3
}

TEST(Tables, AggregateMeanAndSampleStd) {
  std::vector<RunSummary> runs = {
      summarize_run(run_of({0.2, 0.4}, 0.001, 10), 8, 1, "a"),
      summarize_run(run_of({0.2, 0.6}, 0.003, 10), 8, 2, "b"),
      summarize_run(run_of({0.5}, 0.002, 10), 16, 1, "c"),
  };
  const auto rows = aggregate_by_batch(runs);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].batch_size, 8);
  EXPECT_EQ(rows[0].n_runs, 2);
  EXPECT_DOUBLE_EQ(rows[0].max_f1.mean, 0.5);
  EXPECT_NEAR(rows[0].max_f1.std, std::sqrt(0.02), 1e-15);  // ddof = 1: ((0.1)² + (0.1)²) / 1
  EXPECT_DOUBLE_EQ(rows[0].total_kwh.mean, 0.004);
  EXPECT_TRUE(std::isnan(rows[1].max_f1.std));
  const std::string t1 = table1_markdown(rows);
  EXPECT_NE(t1.find("| 8 | 2 | 50.0 ± 14.1 |"), std::string::npos) << t1;
  EXPECT_NE(t1.find("| 16 | 1 | 50.0 |"), std::string::npos) << t1;
}

}  // namespace
}  // namespace greensed::report

#include "greensed/report/svg.hpp"

namespace greensed::report {
namespace {

TEST(Svg, NiceTicks) {
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  const auto t = nice_ticks(0, 0.0137);
  EXPECT_DOUBLE_EQ(t.front(), 0);
  EXPECT_GE(t.back(), 0.0137);
  EXPECT_LE(t.size(), 8u);
}

TEST(Svg, ChartsAreWellFormedAndEscapeLabels) {
  const std::string line =
      svg_line_chart({{"batch <8>", {0, 1, 2}, {0.1, std::nan(""), 0.3}}}, "F1 & kWh", "kWh", "F1");
  EXPECT_EQ(line.rfind("<svg", 0), 0u);
  EXPECT_NE(line.find("batch &lt;8&gt;"), std::string::npos);
  EXPECT_NE(line.find("F1 &amp; kWh"), std::string::npos);
  EXPECT_EQ(line.substr(line.size() - 7), "</svg>\n");
  const std::string bars =
      svg_bar_chart({"8", "16"}, {{"Wh/epoch", {}, {1.5, 2.5}}}, "t", "batch", "Wh");
  // Two bars and one legend box in the first colour.
  size_t n = 0;
  for (size_t at = bars.find("fill=\"#1f77b4\""); at != std::string::npos;
       at = bars.find("fill=\"#1f77b4\"", at + 1)) {
    ++n;
  }
  EXPECT_EQ(n, 3u);
}

}  // namespace
}  // namespace greensed::report
