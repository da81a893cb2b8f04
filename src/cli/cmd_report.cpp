// greensed report: the study tables, plots and stopping-policy replay from finished runs.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/report/epochs.hpp"
#include "greensed/report/stopping.hpp"
#include "greensed/report/svg.hpp"
#include "greensed/report/tables.hpp"

namespace greensed::cli {
namespace {

namespace fs = std::filesystem;

struct Run {
  std::string dir;
  std::vector<report::EpochRecord> epochs;
  report::RunSummary summary;
  // How the run's energy was obtained (summary.json "energy"): e.g. "cpu: ESTIMATE by
  // cpu-load-tdp; ram: ESTIMATE by ram-per-gib-v2; gpu: none"; "" when not recorded.
  std::string energy_how;
  bool estimate = false;
};

// The energy provenance of a run from its summary.json (a run still going, or from an older
// greensed, has none: said in the report, never guessed).
void read_energy_how(const fs::path& dir, Run* run) {
  const fs::path p = dir / "summary.json";
  if (!fs::exists(p)) return;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(core::read_file(p.string()));
  } catch (const std::exception& e) {
    throw core::InputError(
        fmt::format("{}: not JSON ({}); rerun or remove the run", p.string(), e.what()));
  }
  if (!j.contains("energy") || !j["energy"].is_object()) return;
  const auto& e = j["energy"];
  std::string how;
  for (const char* c : {"cpu", "ram", "gpu"}) {
    std::string label = e.value(c, std::string());
    if (label.empty()) label = e.value(std::string(c) + "_method", std::string("?"));
    how += fmt::format("{}{}: {}", how.empty() ? "" : "; ", c, label);
    if (label.rfind("ESTIMATE", 0) == 0) run->estimate = true;
  }
  if (e.contains("estimate") && e["estimate"].is_boolean())
    run->estimate |= e["estimate"].get<bool>();
  run->energy_how = how;
}

bool is_run_dir(const fs::path& p) {
  return fs::exists(p / "epochs.csv");
}

// A run directory, or a sweep directory whose runs sit one or two levels below.
std::vector<fs::path> find_runs(const fs::path& root) {
  if (!fs::is_directory(root)) {
    throw core::InputError(
        fmt::format("{}: not a directory (pass run or sweep directories)", root.string()));
  }
  if (is_run_dir(root)) return {root};
  std::vector<fs::path> runs;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_directory() && is_run_dir(e.path()) && e.path().parent_path() != root.parent_path()) {
      runs.push_back(e.path());
    }
  }
  std::sort(runs.begin(), runs.end());
  if (runs.empty()) {
    throw core::InputError(fmt::format(
        "{}: holds no run (a run directory has epochs.csv; finish a `greensed train` first)",
        root.string()));
  }
  return runs;
}

Run load_run(const fs::path& dir) {
  Run run;
  run.dir = dir.string();
  run.epochs = report::read_epochs((dir / "epochs.csv").string());
  int batch = 0;
  long long seed = 0;
  const fs::path config = dir / "config.yaml";
  if (fs::exists(config)) {
    const auto c = core::load_config(config.string()).config;
    batch = std::accumulate(c.training.batch_size.begin(), c.training.batch_size.end(), 0);
    seed = c.training.seed;
  } else {
    spdlog::warn("[report] {}: no config.yaml; batch size and seed unknown", run.dir);
  }
  run.summary = report::summarize_run(run.epochs, batch, seed, run.dir);
  read_energy_how(dir, &run);
  return run;
}

int run_report(const std::vector<std::string>& args) {
  std::vector<std::string> dirs, policies;
  std::string out_dir;
  ArgParser parser("report", "study tables, plots and stopping-policy replay from finished runs");
  parser.option("--out", &out_dir, "DIR",
                "where report.md, CSVs and SVG plots go (default: <first dir>/report)");
  parser.multi("--replay", &policies, "POLICY",
               "replay stopping policies, e.g. patience=5 energy_budget_kwh=0.01 target_f1=0.4 "
               "min_f1_gain_per_kwh=10,gain_window=3 min_relative_improvement=0.01,gain_window=3");
  parser.positionals(&dirs, "RUN_OR_SWEEP_DIR",
                     "finished runs (with epochs.csv) or sweeps holding them");
  if (!parser.parse(args)) return kExitOk;
  parser.require("RUN_OR_SWEEP_DIR", !dirs.empty());
  if (out_dir.empty()) out_dir = (fs::path(dirs[0]) / "report").string();

  std::vector<Run> runs;
  for (const auto& d : dirs) {
    for (const auto& p : find_runs(d)) runs.push_back(load_run(p));
  }
  std::vector<report::RunSummary> summaries;
  for (const auto& r : runs) summaries.push_back(r.summary);
  const auto rows = report::aggregate_by_batch(summaries);

  // Every energy figure below says how it was obtained; estimates are marked where they appear.
  bool any_estimate = false;
  std::map<std::string, std::vector<std::string>> by_how;
  for (const auto& r : runs) {
    any_estimate |= r.estimate;
    by_how[r.energy_how.empty() ? "not recorded (run unfinished or from an older greensed)"
                                : r.energy_how]
        .push_back(r.dir);
  }
  const std::string mark = any_estimate ? " — ESTIMATED energy" : "";
  std::string md = fmt::format("# greensed report\n\n{} run(s).\n\n", runs.size());
  md += "## How the energy was obtained\n\n";
  if (any_estimate) {
    md +=
        "**The kWh and Wh figures in this report are ESTIMATES** for the runs marked below (a "
        "model such as CPU load × TDP, not a counter): compare them with each other, not with "
        "measured figures.\n\n";
  }
  for (const auto& [how, dirs_with] : by_how) {
    md += fmt::format("- {} ({} run(s))\n", how, dirs_with.size());
  }
  md += "\n";
  md +=
      fmt::format("## Table 1: performance and energy per batch size (mean ± std over seeds){}\n\n",
                  mark) +
      report::table1_markdown(rows) + "\n";
  md += fmt::format(
            "## Table 2: energy to reach F1 levels (Wh, cumulative; F1 = teacher "
            "synthetic-validation intersection F1){}\n\n",
            mark) +
        report::table2_markdown(rows) + "\n";

  // F1 against cumulative kWh per run; kWh per epoch and per minute per batch size.
  std::vector<report::Series> curves;
  for (const auto& r : runs) {
    report::Series s;
    s.label = fmt::format("b={} seed={}", r.summary.batch_size, r.summary.seed);
    for (const auto& e : r.epochs) {
      s.x.push_back(1000.0 * e.kwh_cumulative);
      s.y.push_back(e.val_synth_f1_teacher);
    }
    curves.push_back(s);
  }
  std::vector<std::string> cats;
  report::Series per_epoch{"Wh per epoch", {}, {}}, per_minute{"Wh per minute", {}, {}};
  for (const auto& row : rows) {
    cats.push_back(std::to_string(row.batch_size));
    per_epoch.y.push_back(row.wh_per_epoch.mean);
    per_minute.y.push_back(row.wh_per_minute.mean);
  }
  core::write_file_atomic(out_dir + "/f1_vs_energy.svg",
                          report::svg_line_chart(curves, "F1 against cumulative energy" + mark,
                                                 any_estimate ? "cumulative energy (Wh, ESTIMATE)"
                                                              : "cumulative energy (Wh)",
                                                 "teacher intersection F1 (synthetic validation)"));
  core::write_file_atomic(
      out_dir + "/energy_per_batch_size.svg",
      report::svg_bar_chart(cats, {per_epoch, per_minute}, "Energy per batch size" + mark,
                            "total batch size", any_estimate ? "Wh (ESTIMATE)" : "Wh"));
  core::write_file_atomic(out_dir + "/tables.csv", report::tables_csv(rows));
  core::write_file_atomic(out_dir + "/runs.csv", report::runs_csv(summaries));

  if (!policies.empty()) {
    md +=
        "## Stopping-policy replay\n\n| run | policy | stop epoch | kWh used | kWh saved | F1 "
        "reached | F1 lost | why |\n"
        "|---|---|---:|---:|---:|---:|---:|---|\n";
    std::string csv =
        "run,policy,stopped,stop_epoch,kwh_used,kwh_saved,f1_reached,f1_lost,f1_full,kwh_full,"
        "reason\n";
    for (const auto& r : runs) {
      for (const auto& p : policies) {
        const auto res = report::replay_policy(r.epochs, p);
        md += fmt::format("| {} | `{}` | {} | {:.6f} | {:.6f} | {:.4f} | {:.4f} | {} |\n", r.dir, p,
                          res.stopped ? std::to_string(res.stop_epoch) : "never (ran all)",
                          res.kwh_used, res.kwh_saved, res.f1_reached, res.f1_lost,
                          res.stopped ? res.reason : "");
        csv +=
            fmt::format("{},\"{}\",{},{},{:.10g},{:.10g},{:.10g},{:.10g},{:.10g},{:.10g},\"{}\"\n",
                        r.dir, p, res.stopped ? 1 : 0, res.stop_epoch, res.kwh_used, res.kwh_saved,
                        res.f1_reached, res.f1_lost, res.f1_full, res.kwh_full, res.reason);
      }
    }
    core::write_file_atomic(out_dir + "/replay.csv", csv);
    md += "\n";
  }
  md += "Plots: `f1_vs_energy.svg`, `energy_per_batch_size.svg`. Data: `tables.csv`, `runs.csv`" +
        std::string(policies.empty() ? "" : ", `replay.csv`") + ".\n";
  core::write_file_atomic(out_dir + "/report.md", md);
  fmt::print("{}", md);
  spdlog::info("[report] wrote {}/report.md", out_dir);
  return kExitOk;
}

const Registrar registrar({"report",
                           "study tables, plots and stopping-policy replay from finished runs",
                           run_report});

}  // namespace
}  // namespace greensed::cli
