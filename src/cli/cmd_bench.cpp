// greensed bench step: times THE mean-teacher training step `greensed train` runs
// (train::MeanTeacher::step: student forward + backward, teacher forward in train mode, the loss
// terms, EMA, gradient clipping when configured, Adam) on random 626-frame inputs at the recipe's
// batch composition [B/4 strong, B/4 weak, B/2 unlabelled], with the config's schedule: the bench's
// warm-up + timed steps are steps k = 1, 2, ... of a run whose epoch is that many steps.
#include <fmt/core.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/features/cache.hpp"
#include "greensed/model/complexity.hpp"
#include "greensed/train/mean_teacher.hpp"
#include "greensed/train/schedules.hpp"

namespace greensed::cli {
namespace {

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // kB on Linux
}

int run_bench_step(const std::vector<std::string>& args) {
  int batch = 48, steps = 5, threads = 0, warmup = 1;
  std::string config_path;
  std::vector<std::string> overrides;
  ArgParser parser("bench step",
                   "time full mean-teacher training steps (student forward+backward, teacher "
                   "forward, losses, EMA, Adam) on random 10 s inputs");
  parser.option("--batch-size", &batch, "B", "total batch, a multiple of 4 (default 48)");
  parser.option("--steps", &steps, "N", "timed steps (default 5)");
  parser.option("--warmup", &warmup, "N", "untimed steps first (default 1)");
  parser.option("--threads", &threads, "T", "threads (default: one per CPU)");
  parser.config_options(&config_path, &overrides, /*required=*/false);
  if (!parser.parse(args)) return kExitOk;
  if (batch < 4 || batch % 4 != 0) {
    throw core::InputError(fmt::format(
        "--batch-size must be a positive multiple of 4 (composition B/4, B/4, B/2); found {}",
        batch));
  }
  if (steps < 1) throw core::InputError(fmt::format("--steps must be at least 1; found {}", steps));
  if (warmup < 0)
    throw core::InputError(fmt::format("--warmup must be at least 0; found {}", warmup));
  core::Config config;
  if (!config_path.empty()) config = load_config_logged(config_path, overrides).config;
  log_compute_setup(threads);

  const auto& net = config.net;
  const int f = config.feats.n_mels;
  const int t = features::network_input_frames(config);
  const auto composition = core::batch_composition(batch);
  train::MeanTeacher mt(config);
  const int k = mt.student().n_classes(), to = mt.student().frames_out(t);

  // Random but fixed inputs: features in [0, 1] (min-max scaled), labels 0/1.
  core::RngStream data =
      core::make_stream(uint64_t(config.training.seed), core::RngStreamId::kTest);
  std::vector<float> features(size_t(batch) * f * t), strong(size_t(composition[0]) * k * to),
      weak(size_t(composition[1]) * k);
  for (auto& v : features) v = float(data.uniform());
  for (auto& v : strong) v = data.uniform() < 0.2 ? 1.0f : 0.0f;
  for (auto& v : weak) v = data.uniform() < 0.3 ? 1.0f : 0.0f;
  train::StepBatch in{features.data(), batch,         f,          t, composition[0],
                      composition[1],  strong.data(), weak.data()};

  // Model FLOPs of one step: student forward, its backward (2× forward) and the teacher forward,
  // counted as direct convolutions (thop's rule): the blocks that run Winograd execute fewer
  // multiplications, so gflops= is an effective rate (the usual convention for fast convolution).
  const double flops = 2.0 * 4.0 * model::forward_macs_per_clip(net, f, t) * batch;
  // The same rule over the multiplications greensed executes (Winograd's fewer): executed_gflops=
  // is what compares with the machine's GEMM peak.
  const double executed = 2.0 * 4.0 * model::executed_forward_macs_per_clip(net, f, t) * batch;
  spdlog::info(
      "[bench] batch {} = [{}, {}, {}], {} frames x {} mel bins, {:.1f} GFLOP per step "
      "(direct-convolution count; gflops= below is an effective rate), {:.1f} GFLOP executed "
      "(executed_gflops=)",
      batch, composition[0], composition[1], composition[2], t, f, flops / 1e9, executed / 1e9);
  std::vector<double> times;
  const int n_steps = warmup + steps;
  for (int s = 1; s <= n_steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    const double cpu0 = cpu_seconds();
    const auto losses = mt.step(in, s, train::schedule_at(config, n_steps, s));
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool timed = s > warmup;
    if (timed) times.push_back(sec);
    // CPU seconds are reported too: on a shared machine they move much less than wall time.
    spdlog::info("[bench] step {}{}: {:.3f} s, {:.2f} clips/s, {:.3f} CPU s, loss {:.5f}", s,
                 timed ? "" : " (warm-up)", sec, batch / sec, cpu_seconds() - cpu0, losses.total);
  }
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  fmt::print(
      "batch={} median_step_s={:.4f} clips_per_s={:.2f} gflops={:.1f} executed_gflops={:.1f} "
      "peak_rss_mb={:.0f}\n",
      batch, median, batch / median, flops / median / 1e9, executed / median / 1e9, peak_rss_mb());
  return kExitOk;
}

int run_bench(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    fmt::print(
        "usage: greensed bench step --batch-size B [--steps N] [--warmup N] [--threads T] "
        "[--config FILE]\n\n  step   time full mean-teacher training steps of the CRNN\n");
    return args.empty() ? kExitBadInput : kExitOk;
  }
  if (args[0] != "step") {
    throw core::InputError(fmt::format(
        "greensed bench: unknown benchmark '{}' (known: step); see greensed bench --help",
        args[0]));
  }
  return run_bench_step(std::vector<std::string>(args.begin() + 1, args.end()));
}

const Registrar registrar({"bench", "time a full mean-teacher training step", run_bench});

}  // namespace
}  // namespace greensed::cli
