// PSDS from tables on disk, the DESED test workload: 1168 validation clips, 10 classes, 50
// operating points. Data: bench/metrics/run_psds_bench.sh makes it (GREENSED_BENCH_METRICS_DATA
// points to it) and times psds_eval and sed_scores_eval on the same files in the same run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "greensed/metrics/psds_eval.hpp"
#include "greensed/metrics/sed_scores.hpp"
#include "greensed/metrics/tsv.hpp"

namespace m = greensed::metrics;

namespace {

std::string data_dir() {
  const char* dir = std::getenv("GREENSED_BENCH_METRICS_DATA");
  return dir != nullptr ? dir : "";
}

std::vector<std::string> detection_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/detections")) {
    files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Read ground truth, durations and the 50 tables, match them, PSDS1 (psds_eval semantics).
void BM_Psds1FromTablesOnDisk(benchmark::State& state) {
  const std::string dir = data_dir();
  if (dir.empty()) {
    state.SkipWithError("set GREENSED_BENCH_METRICS_DATA (bench/metrics/run_psds_bench.sh)");
    return;
  }
  const auto files = detection_files(dir);
  double value = 0.0;
  size_t n_events = 0;
  for (auto _ : state) {
    const auto gt = m::read_event_table(dir + "/gt.tsv");
    const auto durations = m::read_durations(dir + "/durations.tsv");
    const auto p = m::PsdsParams::scenario1();
    m::PsdsEval eval(gt, durations, p.criteria);
    n_events = 0;
    for (const auto& f : files) {
      const auto table = m::read_event_table(f);
      n_events += table.events.size();
      eval.add_operating_point(table);
    }
    value = eval.psds(p.alpha_ct, p.alpha_st, p.max_efpr).value;
    benchmark::DoNotOptimize(value);
  }
  state.counters["psds1"] = value;
  state.counters["operating_points"] = double(files.size());
  state.counters["detections"] = double(n_events);
}
BENCHMARK(BM_Psds1FromTablesOnDisk)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Threshold-free PSDS1 from the post-processed score files (sed_scores_eval semantics).
void BM_SedScoresPsds1FromScoresOnDisk(benchmark::State& state) {
  const std::string dir = data_dir();
  if (dir.empty()) {
    state.SkipWithError("set GREENSED_BENCH_METRICS_DATA (bench/metrics/run_psds_bench.sh)");
    return;
  }
  double value = 0.0;
  for (auto _ : state) {
    const auto gt = m::read_event_table(dir + "/gt.tsv");
    const auto durations = m::read_durations(dir + "/durations.tsv");
    const auto scores = m::read_scores_dir(dir + "/filtered");
    value = m::desed_sed_scores_psds(scores, gt, durations, m::PsdsParams::scenario1()).value;
    benchmark::DoNotOptimize(value);
  }
  state.counters["psds1"] = value;
}
BENCHMARK(BM_SedScoresPsds1FromScoresOnDisk)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
