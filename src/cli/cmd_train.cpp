// greensed train: the mean-teacher training of the baseline, with per-epoch energy. The live
// progress line is this command's: redrawn every second on a terminal, a plain log line every
// 30 s otherwise (Slurm, nohup, CI).
#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/train/mean_teacher.hpp"
#include "greensed/train/run_dir.hpp"
#include "greensed/train/trainer.hpp"
#include "train_progress.hpp"

namespace greensed::cli {
namespace {

std::atomic<int> g_stop{0};

extern "C" void on_stop_signal(int signal) {
  if (g_stop.exchange(signal) != 0) std::_Exit(128 + signal);  // a second signal stops at once
}

constexpr double kTerminalRedrawS = 1.0;  // live line on a terminal

std::string progress_text(const train::Progress& p) {
  std::string energy;
  if (p.has_energy) energy = fmt::format("  {:.1f} W  {:.6f} kWh so far", p.watts, p.kwh_run);
  return fmt::format("[train] epoch {}/{} step {}/{} (global {})  {:.1f} clips/s  ETA {:.0f} s{}",
                     p.epoch, p.n_epochs, p.step, p.steps_per_epoch, p.global_step, p.clips_per_s,
                     p.eta_s, energy);
}

}  // namespace

void set_train_progress(train::TrainOptions& options, double log_every_s) {
  if (stderr_is_terminal()) {
    options.progress_interval_s = kTerminalRedrawS;
    options.on_progress = [](const train::Progress& p) {
      if (p.epoch_done) {
        fmt::print(stderr, "\r{:100}\r", "");
      } else {
        fmt::print(stderr, "\r{}   ", progress_text(p));
      }
    };
  } else {
    options.progress_interval_s = log_every_s;
    options.on_progress = [](const train::Progress& p) {
      if (!p.epoch_done) spdlog::info("{}", progress_text(p));
    };
  }
}

namespace {

int run_train(const std::vector<std::string>& args) {
  std::string config_path, run_dir, init_from, trace, resume_from;
  double progress_every = 30.0;
  std::vector<std::string> overrides;
  bool resume = false, allow_config_change = false;
  ArgParser parser("train", "train the baseline (mean teacher) and measure every epoch's energy");
  parser.config_options(&config_path, &overrides);
  parser.option("--run-dir", &run_dir, "DIR", "run directory (default: <run.dir>/<run.name>)");
  parser.flag("--resume", &resume,
              "continue from the run directory's last checkpoint (or start it); never deletes");
  parser.option("--resume-from", &resume_from, "CKPT",
                "continue from this checkpoint of the run (e.g. checkpoints/best.safetensors, "
                "relative to the run directory); later epoch rows go to epochs_discarded.csv");
  parser.flag("--allow-config-change", &allow_config_change,
              "let a resumed run change keys that change what is trained (e.g. opt.lr); the "
              "change is recorded in config.yaml and summary.json");
  parser.option("--init-from", &init_from, "CKPT",
                "start the student from a safetensors file with the recipe's names (greensed or "
                "converted checkpoint, or a CRNN state_dict); the teacher is its copy");
  parser.option("--progress-every", &progress_every, "S",
                "when stderr is not a terminal (Slurm, nohup, CI), a plain progress line every S "
                "seconds (default 30)");
  parser.option("--trace", &trace, "FILE",
                "write one JSON line per training step (batch names, MixUp, crops, schedule, "
                "loss terms) for scripts/replay_trace_in_torch.py");
  if (!parser.parse(args)) return kExitOk;
  parser.require("--config FILE", !config_path.empty());
  if (!(progress_every > 0)) {
    throw core::InputError(fmt::format(
        "--progress-every {}: expected a number of seconds above 0, e.g. 300", progress_every));
  }
  const auto loaded = load_config_logged(config_path, overrides);
  const auto& config = loaded.config;
  log_compute_setup(config.run.threads);

  const std::string dir = train::resolve_run_dir(config, run_dir);
  // The run directory's lock before anything is written there (a second train exits 2 here,
  // without touching log.txt); run_training takes the same lock.
  const auto lock = train::lock_run_dir(dir);
  auto file_sink =
      std::make_shared<spdlog::sinks::basic_file_sink_mt>(dir + "/log.txt", /*truncate=*/false);
  file_sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e %L] %v");
  spdlog::default_logger()->sinks().push_back(file_sink);
  // Every line reaches log.txt when it is logged: a killed run keeps what it said.
  spdlog::default_logger()->flush_on(spdlog::level::trace);
  for (const auto& w : loaded.warnings)
    file_sink->log(spdlog::details::log_msg("", spdlog::level::warn, w));

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  train::TrainOptions options;
  options.run_dir = dir;
  options.resume = resume || !resume_from.empty();
  options.resume_from = resume_from;
  options.allow_config_change = allow_config_change;
  options.stop_requested = &g_stop;
  options.init_from = init_from;
  options.trace_path = trace;
  set_train_progress(options, progress_every);
  train::TrainResult r;
  try {
    r = train::run_training(config, options);
  } catch (const train::DivergedError& e) {
    spdlog::error("[train] {}", e.what());
    return kExitDiverged;
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  if (r.interrupted) {
    spdlog::warn(
        "[train] stopped by signal after {} epoch(s); continue with: greensed train --config {} "
        "--run-dir {} --resume",
        r.epochs_done, config_path, dir);
    return 128 + g_stop.load();
  }
  spdlog::info(
      "[train] {} epoch(s) in {}; best objective {:.4f} at epoch {}; best teacher F1 {:.4f}",
      r.epochs_done, dir, r.best_obj, r.best_epoch, r.best_f1);
  spdlog::info(
      "[train] energy: {:.6f} kWh for the epochs, {:.6f} kWh for the training call (first epoch "
      "start to last epoch end), {:.6f} kWh for the whole run (cpu: {}; ram: {}; gpu: {})",
      r.kwh_epochs, r.kwh_training_call, r.kwh_run, r.cpu_label, r.ram_label, r.gpu_label);
  if (!r.stop_policy.empty())
    spdlog::info("[train] stopped early by {}: {}", r.stop_policy, r.stop_reason);
  return kExitOk;
}

const Registrar registrar({"train", "train the baseline (mean teacher) with per-epoch kWh",
                           run_train});

}  // namespace
}  // namespace greensed::cli
