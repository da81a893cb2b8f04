// greensed normalize: 10 baseline epochs on this machine → the DCASE energy normalisation factor,
// and optionally a submission's normalised energy and energy-weighted scores.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/text.hpp"
#include "greensed/energy/writers.hpp"
#include "greensed/report/epochs.hpp"
#include "greensed/report/normalize.hpp"
#include "greensed/train/trainer.hpp"
#include "train_progress.hpp"

namespace greensed::cli {
namespace {

// Sum of `energy_consumed` (kWh) over the rows of a CodeCarbon emissions.csv.
double emissions_csv_kwh(const std::string& path) {
  const std::string text = core::read_file(path);
  const std::vector<std::string_view> lines = core::split_lines(text);
  if (lines.empty()) throw core::InputError(fmt::format("{}: empty file", path));
  const std::vector<std::string> header = energy::split_csv_line(std::string(lines[0]));
  size_t col = header.size();
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "energy_consumed") col = i;
  }
  if (col == header.size()) {
    throw core::InputError(fmt::format(
        "{}:1: no 'energy_consumed' column (is this a CodeCarbon emissions.csv?)", path));
  }
  double sum = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int line_no = int(i) + 1;
    if (lines[i].empty()) continue;
    const std::vector<std::string> fields = energy::split_csv_line(std::string(lines[i]));
    try {
      sum += std::stod(fields.at(col));
    } catch (const std::exception&) {
      throw core::InputError(fmt::format("{}:{}: energy_consumed is not a number", path, line_no));
    }
  }
  return sum;
}

int run_normalize(const std::vector<std::string>& args) {
  std::string config_path, run_dir, emissions, from_run;
  std::vector<std::string> overrides, scores;
  bool resume = false;
  double reference_kwh = 0, submission_kwh = -1, reference_training_kwh = 1.666;
  int year = 2024;
  ArgParser parser(
      "normalize",
      "train 10 baseline epochs here and compute the DCASE energy normalisation factor");
  parser.config_options(&config_path, &overrides);
  parser.option("--run-dir", &run_dir, "DIR",
                "run directory (default: <run.dir>/<run.name>_normalize)");
  parser.flag("--resume", &resume, "continue an interrupted normalisation run");
  parser.option(
      "--from-run", &from_run, "RUN_DIR",
      "use the first 10 epochs of a finished run instead of training (its config.yaml is used)");
  parser.option("--year", &year, "YEAR",
                "reference of that DCASE year: 2024 (0.029 kWh, default) or 2023 (0.032 kWh)");
  parser.option("--reference-kwh", &reference_kwh, "KWH",
                "reference kWh of 10 baseline epochs (overrides --year)");
  parser.option("--submission-kwh", &submission_kwh, "KWH",
                "a submission's training kWh measured on this machine");
  parser.option("--submission-emissions", &emissions, "CSV",
                "or its CodeCarbon emissions.csv (energy_consumed summed)");
  parser.option("--reference-training-kwh", &reference_training_kwh, "KWH",
                "baseline training kWh used to weight scores (default 1.666, the DCASE 2024 "
                "baseline README)");
  parser.repeated("--score", &scores, "NAME=VALUE",
                  "a submission score to energy-weight, e.g. psds1=0.49 (repeatable)");
  if (!parser.parse(args)) return kExitOk;
  if (!from_run.empty()) config_path = from_run + "/config.yaml";
  parser.require("--config FILE (or --from-run RUN_DIR)", !config_path.empty());
  // Exactly 10 epochs with validation as the recipe; no early stopping of any kind.
  std::vector<std::string> all = overrides;
  for (const char* o :
       {"training.n_epochs=10", "training.early_stop_patience=10", "stopping.patience=0",
        "stopping.energy_budget_kwh=0", "stopping.target_f1=0", "stopping.min_f1_gain_per_kwh=0",
        "stopping.min_relative_improvement=0", "energy.enabled=true"}) {
    all.push_back(o);
  }
  const auto loaded = load_config_logged(config_path, all);
  const auto& config = loaded.config;
  log_compute_setup(config.run.threads);
  if (run_dir.empty()) run_dir = train::resolve_run_dir(config, "") + "_normalize";

  report::NormalisationReference ref = report::reference_for_year(year);
  if (reference_kwh > 0) ref = {reference_kwh, "given with --reference-kwh"};
  if (!emissions.empty()) submission_kwh = emissions_csv_kwh(emissions);

  train::TrainResult r;
  std::string training_call_missing;
  if (from_run.empty()) {
    train::TrainOptions options;
    options.run_dir = run_dir;
    options.resume = resume;
    set_train_progress(options);
    r = train::run_training(config, options);
  } else {
    run_dir = from_run;
    const auto rows = report::read_epochs(from_run + "/epochs.csv");
    if (rows.size() < 10) {
      throw core::InputError(
          fmt::format("{}/epochs.csv: {} epoch(s); the normalisation needs 10 baseline epochs",
                      from_run, rows.size()));
    }
    r.epochs_done = 10;
    r.kwh_epochs = rows[9].kwh_cumulative;
    const auto summary = nlohmann::json::parse(core::read_file(from_run + "/summary.json"));
    const auto& e = summary.at("energy");
    r.kwh_run = e.value("kwh_run", 0.0);
    r.cpu_method = e.value("cpu_method", "");
    r.ram_method = e.value("ram_method", "");
    r.gpu_method = e.value("gpu_method", "");
    r.cpu_label = e.value("cpu", r.cpu_method);
    r.ram_label = e.value("ram", r.ram_method);
    r.gpu_label = e.value("gpu", r.gpu_method);
    // The training call of the run's first 10 epochs only when it has exactly 10.
    if (rows.size() == 10 && e.contains("kwh_training_call")) {
      r.kwh_training_call = e.at("kwh_training_call").get<double>();
    } else {
      training_call_missing =
          rows.size() != 10
              ? fmt::format("{} has {} epochs, not 10", from_run, rows.size())
              : fmt::format("{}/summary.json has no kwh_training_call (an older greensed)",
                            from_run);
    }
  }
  if (r.epochs_done != 10) {
    throw core::InputError(fmt::format("{}: only {} of 10 epochs finished; rerun with --resume",
                                       run_dir, r.epochs_done));
  }
  // The DCASE reference is CodeCarbon's training tracker of the recipe (spec energy.md §2.10),
  // started in on_train_start and stopped in on_train_end: the 10 epochs with the checkpoint
  // writing between them, no set-up, no test. The factor uses that window; the sum of the epoch
  // windows and the whole run are printed beside it.
  const bool have_call = training_call_missing.empty();
  const double measured = have_call ? r.kwh_training_call : r.kwh_epochs;
  const std::string window =
      have_call ? "the training call: first epoch start to last epoch end (10 epochs of training "
                  "and validation plus the checkpoints between them), the window of the recipe's "
                  "CodeCarbon training tracker (on_train_start to on_train_end)"
                : fmt::format(
                      "the sum of the 10 epoch windows, because the training call is not "
                      "known ({})",
                      training_call_missing);
  const double factor = report::normalisation_factor(ref.baseline_10_epochs_kwh, measured);
  const bool estimate = r.cpu_label.rfind("ESTIMATE", 0) == 0 ||
                        r.ram_label.rfind("ESTIMATE", 0) == 0 ||
                        r.gpu_label.rfind("ESTIMATE", 0) == 0;

  nlohmann::json j = {
      {"measured_kwh", measured},
      {"window", have_call ? "training_call" : "sum_of_epochs"},
      {"window_how", window},
      {"measured_kwh_training_call", have_call ? nlohmann::json(r.kwh_training_call) : nullptr},
      {"measured_kwh_10_epochs", r.kwh_epochs},
      {"measured_kwh_whole_run", r.kwh_run},
      {"methods", {{"cpu", r.cpu_method}, {"ram", r.ram_method}, {"gpu", r.gpu_method}}},
      {"how", {{"cpu", r.cpu_label}, {"ram", r.ram_label}, {"gpu", r.gpu_label}}},
      {"estimate", estimate},
      {"reference_kwh", ref.baseline_10_epochs_kwh},
      {"reference", ref.description},
      {"normalisation_factor", factor},
      {"config", config_path},
      {"run_dir", run_dir}};
  std::string md = fmt::format(
      "# DCASE energy normalisation\n\n"
      "- measured on this machine: **{:.6f} kWh**{}, {}\n"
      "  (cpu: {}; ram: {}; gpu: {})\n"
      "- beside it: the 10 epoch windows alone {:.6f} kWh; the whole run (set-up and the test "
      "phase included) {:.6f} kWh\n"
      "- reference: {:.6f} kWh ({})\n"
      "- **normalisation factor = {:.6f} / {:.6f} = {:.6f}**{}\n",
      measured, estimate ? " (an ESTIMATE)" : "", window, r.cpu_label, r.ram_label, r.gpu_label,
      r.kwh_epochs, r.kwh_run, ref.baseline_10_epochs_kwh, ref.description,
      ref.baseline_10_epochs_kwh, measured, factor,
      estimate ? " (from an estimated figure: see how each component was obtained above)" : "");
  if (config.data.synth_folder.find("demo") != std::string::npos) {
    md +=
        "- note: this run used the generated demo dataset, which is much smaller than DESED; the "
        "factor "
        "is only the DCASE factor when the config points at the real DESED training data\n";
  }
  if (submission_kwh >= 0) {
    const double normalised = report::normalised_energy(submission_kwh, factor);
    j["submission_kwh"] = submission_kwh;
    j["normalised_kwh"] = normalised;
    j["reference_training_kwh"] = reference_training_kwh;
    md += fmt::format(
        "\n## Submission\n\n- measured: {:.6f} kWh{}\n- normalised: {:.6f} × {:.6f} = **{:.6f} "
        "kWh**\n",
        submission_kwh, emissions.empty() ? "" : " (energy_consumed of " + emissions + ")",
        submission_kwh, factor, normalised);
    if (!scores.empty()) {
      md += fmt::format(
          "\nEnergy-weighted scores = score × {:.3f} kWh (reference baseline training) / {:.6f} "
          "kWh:\n\n",
          reference_training_kwh, normalised);
      for (const auto& s : scores) {
        const auto eq = s.find('=');
        double v = 0;
        try {
          v = std::stod(s.substr(eq + 1));
        } catch (const std::exception&) {
          throw core::InputError(
              fmt::format("--score {}: expected NAME=VALUE with a number, e.g. psds1=0.49", s));
        }
        const double weighted =
            report::energy_weighted_score(v, reference_training_kwh, normalised);
        j["energy_weighted_scores"][s.substr(0, eq)] = weighted;
        md += fmt::format("- {}: {} → **{:.6f}**\n", s.substr(0, eq), v, weighted);
      }
    }
  }
  core::write_file_atomic(run_dir + "/normalization.json", j.dump(2) + "\n");
  core::write_file_atomic(run_dir + "/normalization.md", md);
  fmt::print("{}", md);
  return kExitOk;
}

const Registrar registrar(
    {"normalize", "train 10 baseline epochs and compute the DCASE energy normalisation factor",
     run_normalize});

}  // namespace
}  // namespace greensed::cli
