// greensed infer: a trained model on audio → per-clip frame scores (sed_scores_eval layout) and
// decoded events (predictions.tsv at the decision threshold after the median filter).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "command.hpp"
#include "greensed/audio/audio.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/data/labels.hpp"
#include "greensed/features/cache.hpp"
#include "greensed/features/db_scaler.hpp"
#include "greensed/metrics/decode.hpp"
#include "greensed/model/crnn.hpp"
#include "greensed/train/checkpoint.hpp"

namespace greensed::cli {
namespace {

namespace fs = std::filesystem;

// The audio files of --input (a file or a folder of them); unreadable entries of a folder (dangling
// links, link loops) go to `bad` with their reason, as unreadable audio does.
std::vector<std::string> list_inputs(const std::string& input, std::vector<std::string>& bad) {
  std::error_code ec;
  if (fs::is_directory(input, ec)) {
    audio::FolderListing listing = audio::list_audio_folder(input);
    if (listing.files.empty() && listing.unreadable.empty()) {
      throw core::InputError(fmt::format("--input {}: holds no audio file ({})", input,
                                         audio::audio_extensions_text()));
    }
    for (auto& u : listing.unreadable) bad.push_back(u + " (skipped)");
    return std::move(listing.files);
  }
  const std::string reason = audio::unreadable_reason(input);
  if (!reason.empty()) {
    throw core::InputError(
        fmt::format("--input {}: {} (give an audio file or a folder of them)", input,
                    reason == "no such file" ? "no such file or directory" : reason));
  }
  return {input};
}

int run_infer(const std::vector<std::string>& args) {
  std::string checkpoint, input, out_dir, which = "teacher", config_path;
  std::vector<std::string> overrides;
  double threshold = 0.5;
  int median = -1, batch_size = 16;
  ArgParser parser("infer",
                   "frame scores and events of a trained model on audio files (files longer "
                   "than data.audio_max_len are scored whole, in consecutive windows)");
  parser.option("--checkpoint", &checkpoint, "CKPT",
                "a greensed checkpoint (safetensors; required)");
  parser.option("--input", &input, "WAV_OR_DIR", "an audio file or a folder of them (required)");
  parser.option("--out", &out_dir, "DIR",
                "where the score files and predictions.tsv go (required)");
  parser.option("--model", &which, "teacher|student",
                "which of the two models to run (default teacher)");
  parser.config_options(&config_path, &overrides, false);
  parser.option("--threshold", &threshold, "P",
                "decision threshold of predictions.tsv (default 0.5)");
  parser.option("--median-filter", &median, "FRAMES",
                "median filter length (default training.median_window)");
  parser.option("--batch-size", &batch_size, "N", "clips per forward pass (default 16)");
  if (!parser.parse(args)) return kExitOk;
  parser.require("--checkpoint CKPT", !checkpoint.empty());
  parser.require("--input WAV_OR_DIR", !input.empty());
  parser.require("--out DIR", !out_dir.empty());
  if (which != "teacher" && which != "student") {
    throw core::InputError(fmt::format("--model must be teacher or student; found '{}'", which));
  }
  if (batch_size <= 0) throw core::InputError("--batch-size must be a positive integer");
  std::vector<std::string> bad;
  const auto files = list_inputs(input, bad);  // before the model: input mistakes show first
  // The run directory's resolved config describes the checkpoint's model and features.
  if (config_path.empty()) {
    const fs::path beside = fs::path(checkpoint).parent_path().parent_path() / "config.yaml";
    if (fs::exists(beside)) config_path = beside.string();
  }
  const core::Config config = config_path.empty()
                                  ? core::parse_config("", "(defaults)", overrides).config
                                  : load_config_logged(config_path, overrides).config;
  log_compute_setup(config.run.threads);
  if (median < 0) median = config.training.median_window;

  model::Crnn net(config.net);
  if (which == "teacher") {
    train::load_model_weights(checkpoint, net, "sed_teacher.");
  } else {
    train::load_model_weights(checkpoint, net, "sed_student.");
  }
  const features::CacheSettings settings = features::cache_settings_from(config);
  const features::MelExtractor extractor(settings.mel);
  const int F = settings.mel.n_mels;
  const int T = features::network_input_frames(config);
  const int K = net.n_classes(), T_out = net.frames_out(T);
  const auto norm = features::parse_normtype(config.scaler.normtype);
  const metrics::FrameGrid grid = metrics::frame_grid(config);
  const std::vector<std::string> classes(data::kClassNames.begin(), data::kClassNames.end());
  const int windows[1] = {median};

  fs::create_directories(out_dir + "/scores");
  std::string header = "onset\toffset";
  for (const auto& c : classes) header += "\t" + c;
  header += "\n";

  // A file longer than the training clips is scored whole, in consecutive windows of T input
  // frames (10 s) that step by T_out · net_pooling frames (9.984 s), so that window w's output
  // frame t is frame w · T_out + t of one touching grid; the last window is zero-padded. A clip of
  // up to 10 s is one window, as before.
  const int step = T_out * grid.net_pooling;
  GREENSED_CHECK(step > 0 && step <= T, "window step {} frames for windows of {}", step, T);
  const double frame_s = double(grid.net_pooling) * grid.hop_length / grid.sample_rate;
  struct Clip {
    std::string path;
    int n_windows = 0, n_done = 0, n_keep = 0;
    double duration = 0.0;
    std::vector<float> tk;  // [n_keep, K]
  };
  std::map<size_t, Clip> open;                  // clips with windows still to score
  std::vector<std::pair<size_t, int>> pending;  // (clip index, window) of each row of x
  std::vector<float> x;
  std::vector<metrics::Event> events;
  int done = 0, n_long = 0;

  auto finish_clip = [&](Clip& clip) {
    std::string table = header;
    metrics::FrameGrid clip_grid = grid;
    if (clip.n_windows > 1) clip_grid.audio_len = clip.duration;
    for (int t = 0; t < clip.n_keep; ++t) {
      table +=
          fmt::format("{:.3f}\t{:.3f}", clip_grid.frame_to_time(t), clip_grid.frame_to_time(t + 1));
      for (int k = 0; k < K; ++k) table += fmt::format("\t{:.9g}", clip.tk[size_t(t) * K + k]);
      table += "\n";
    }
    const fs::path path(clip.path);
    core::write_file_atomic(out_dir + "/scores/" + path.stem().string() + ".tsv", table);
    metrics::decode_clip(clip.tk, clip.n_keep, classes, windows, threshold,
                         path.filename().string(), clip_grid, events);
    ++done;
    if (clip.n_windows > 1) {
      ++n_long;
      spdlog::info("[infer] {}: {:.1f} s scored whole, in {} windows of {} s", clip.path,
                   clip.duration, clip.n_windows, config.data.audio_max_len);
    }
  };
  auto run_batch = [&] {
    if (pending.empty()) return;
    const int B = int(pending.size());
    features::network_input(x, B, norm);
    net.forward(x.data(), B, F, T, model::Mode::kEval, nullptr, false);
    for (int b = 0; b < B; ++b) {
      const auto [index, w] = pending[b];
      Clip& clip = open.at(index);
      const float* s = net.strong() + size_t(b) * K * T_out;
      for (int t = 0; t < T_out && w * T_out + t < clip.n_keep; ++t) {
        for (int k = 0; k < K; ++k)
          clip.tk[size_t(w * T_out + t) * K + k] = s[size_t(k) * T_out + t];
      }
      if (++clip.n_done == clip.n_windows) {
        finish_clip(clip);
        open.erase(index);
      }
    }
    pending.clear();
    x.clear();
    spdlog::info("[infer] {}/{} clips", done, files.size());
  };

  for (size_t i = 0; i < files.size(); ++i) {
    features::CachedMel mel;
    try {
      mel = features::compute_clip_mel(files[i], settings, extractor);
    } catch (const core::InputError& e) {
      bad.push_back(e.what());
      continue;
    }
    Clip clip;
    clip.path = files[i];
    clip.duration = double(mel.n_samples()) / settings.mel.sample_rate;
    const int64_t n_frames = mel.n_frames();
    clip.n_windows = n_frames <= T ? 1 : 1 + int((n_frames - T + step - 1) / step);
    clip.n_keep = clip.n_windows == 1
                      ? T_out
                      : int(std::min<int64_t>(int64_t(clip.n_windows) * T_out,
                                              int64_t(std::ceil(clip.duration / frame_s))));
    clip.tk.assign(size_t(clip.n_keep) * K, 0.0f);
    const int n_windows = clip.n_windows;
    open.emplace(i, std::move(clip));
    for (int w = 0; w < n_windows; ++w) {
      const size_t at = x.size();
      x.resize(at + size_t(F) * T, 0.0f);
      features::copy_frames(mel, int64_t(w) * step, T, x.data() + at);
      pending.emplace_back(i, w);
      if (int(pending.size()) == batch_size) run_batch();
    }
  }
  run_batch();
  GREENSED_CHECK(open.empty(), "{} clips left unscored", open.size());
  std::string predictions = "filename\tonset\toffset\tevent_label\n";
  for (const auto& e : events)
    predictions += fmt::format("{}\t{:.3f}\t{:.3f}\t{}\n", e.filename, e.onset, e.offset, e.label);
  core::write_file_atomic(out_dir + "/predictions.tsv", predictions);
  spdlog::info(
      "[infer] {} model: {} clips ({} longer than {} s, scored whole in windows), {} events at "
      "threshold {} (median filter {}) → {}/predictions.tsv, {}/scores/",
      which, done, n_long, config.data.audio_max_len, events.size(), threshold, median, out_dir,
      out_dir);
  if (!bad.empty()) {
    std::string list;
    for (const auto& b : bad) list += "\n  " + b;
    throw core::InputError(fmt::format(
        "{} file(s) could not be read (the others were processed):{}", bad.size(), list));
  }
  return kExitOk;
}

const Registrar registrar({"infer", "frame scores and events of a trained model on audio files",
                           run_infer});

}  // namespace
}  // namespace greensed::cli
