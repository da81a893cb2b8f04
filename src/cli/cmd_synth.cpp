// greensed synth: generates a DESED-layout dataset (spec data.md §1.9) where the config's data
// section points, so `greensed features` and `greensed train` with the same config find it.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <thread>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/synth/generate.hpp"

namespace greensed::cli {
namespace {

bool data_paths_complete(const core::DataConfig& d) {
  for (const std::string* s : {&d.synth_folder, &d.synth_tsv, &d.synth_val_folder, &d.synth_val_tsv,
                               &d.synth_val_dur, &d.weak_folder, &d.weak_tsv, &d.unlabeled_folder,
                               &d.test_folder, &d.test_tsv, &d.test_dur}) {
    if (s->empty()) return false;
  }
  return true;
}

int run_synth(const std::vector<std::string>& args) {
  std::string config_path, out_dir;
  std::vector<std::string> overrides;
  int threads = 0;
  ArgParser parser("synth",
                   "generate a DESED-layout dataset (synthetic strong train/validation, weak, "
                   "unlabelled, real-like validation) at 16 kHz, deterministic by synth.seed");
  parser.config_options(&config_path, &overrides);
  parser.option("--out", &out_dir, "DIR",
                "write the canonical DESED tree under DIR instead of the config's data paths");
  parser.option("--threads", &threads, "N", "generator threads (default: run.threads, else 2)");
  if (!parser.parse(args)) return kExitOk;
  parser.require("--config FILE", !config_path.empty());
  const auto loaded = load_config_logged(config_path, overrides);
  const auto& config = loaded.config;
  if (threads <= 0) threads = config.run.threads > 0 ? config.run.threads : 2;

  synth::SynthPaths paths;
  if (!out_dir.empty()) {
    paths = synth::paths_under(out_dir);
  } else if (data_paths_complete(config.data)) {
    paths = synth::paths_from_config(config.data);
  } else {
    spdlog::info(
        "[synth] the data section does not name every set; writing under synth.out_dir "
        "'{}'",
        config.synth.out_dir);
    paths = synth::paths_under(config.synth.out_dir);
  }
  const auto options = synth::options_from_config(config.synth, threads);
  const int n_test = options.n_test <= 0 ? 1168 : std::min(options.n_test, 1168);
  spdlog::info(
      "[synth] seed {}: {} synthetic train, {} synthetic validation, {} weak, {} "
      "unlabelled, {} real-like validation clips on {} thread(s)",
      options.seed, options.n_synth_train, options.n_synth_val, options.n_weak, options.n_unlabeled,
      n_test, threads);

  const bool tty = stderr_is_terminal();
  const auto t0 = std::chrono::steady_clock::now();
  int last_logged_decile = -1;
  auto progress = [&](int done, int total) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = s > 0 ? done / s : 0.0;
    const double eta = rate > 0 ? (total - done) / rate : 0.0;
    if (tty) {
      fmt::print(stderr, "\r[synth] {}/{} clips, {:.1f} clips/s, ETA {:.0f} s   ", done, total,
                 rate, eta);
      if (done == total) fmt::print(stderr, "\n");
      std::fflush(stderr);
    } else if (const int decile = total > 0 ? done * 10 / total : 10; decile > last_logged_decile) {
      last_logged_decile = decile;
      spdlog::info("[synth] {}/{} clips, {:.1f} clips/s", done, total, rate);
    }
  };
  const auto summary = synth::generate_dataset(options, paths, progress);
  spdlog::info("[synth] wrote {} clips in {:.1f} s ({:.1f} clips/s); training tables {}, {}, {}",
               summary.n_clips, summary.seconds, summary.n_clips / std::max(summary.seconds, 1e-9),
               paths.synth_tsv, paths.weak_tsv, paths.test_tsv);
  if (summary.real_source_classes.empty()) {
    spdlog::info("[synth] all class sources procedural{}",
                 options.sources_dir.empty() ? " (synth.sources_dir not set)" : "");
  } else {
    std::string classes;
    for (const auto& c : summary.real_source_classes) classes += (classes.empty() ? "" : ", ") + c;
    spdlog::info("[synth] real recordings mixed in for: {}; {} real backgrounds", classes,
                 summary.n_real_backgrounds);
  }
  if (summary.n_rescaled > 0) {
    spdlog::info("[synth] {} clips scaled down to avoid clipping", summary.n_rescaled);
  }
  return kExitOk;
}

const Registrar registrar({"synth", "generate a DESED-layout dataset (the embedded default data)",
                           run_synth});

}  // namespace
}  // namespace greensed::cli
