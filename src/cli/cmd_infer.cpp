// greensed infer: a trained model on audio → per-clip frame scores (sed_scores_eval layout) and
// decoded events (predictions.tsv at the decision threshold after the median filter).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "command.hpp"
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

bool is_audio(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".wav" || ext == ".flac" || ext == ".ogg";
}

std::vector<std::string> list_inputs(const std::string& input) {
  if (!fs::exists(input))
    throw core::InputError(fmt::format("--input {}: no such file or directory", input));
  if (!fs::is_directory(input)) return {input};
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(input)) {
    if (e.is_regular_file() && is_audio(e.path())) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  if (files.empty())
    throw core::InputError(fmt::format("--input {}: holds no .wav, .flac or .ogg file", input));
  return files;
}

int run_infer(const std::vector<std::string>& args) {
  std::string checkpoint, input, out_dir, which = "teacher", config_path;
  std::vector<std::string> overrides;
  double threshold = 0.5;
  int median = -1, batch_size = 16;
  ArgParser parser("infer", "frame scores and events of a trained model on audio files");
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
  const int T = int(settings.mel.n_frames(settings.pad_to_samples));
  const int K = net.n_classes(), T_out = net.frames_out(T);
  const auto norm = features::parse_normtype(config.scaler.normtype);
  metrics::FrameGrid grid;
  grid.sample_rate = config.feats.sample_rate;
  grid.hop_length = config.feats.hop_length;
  grid.net_pooling = config.data.net_subsample;
  grid.audio_len = config.data.audio_max_len;
  const std::vector<std::string> classes(data::kClassNames.begin(), data::kClassNames.end());
  const int windows[1] = {median};

  const auto files = list_inputs(input);
  fs::create_directories(out_dir + "/scores");
  std::vector<std::string> bad;
  std::vector<metrics::Event> events;
  std::vector<float> x, tk(size_t(T_out) * K);
  std::string header = "onset\toffset";
  for (const auto& c : classes) header += "\t" + c;
  header += "\n";
  int done = 0;
  for (size_t first = 0; first < files.size(); first += size_t(batch_size)) {
    std::vector<std::string> batch;
    x.clear();
    for (size_t i = first; i < std::min(files.size(), first + size_t(batch_size)); ++i) {
      try {
        const features::CachedMel mel = features::compute_clip_mel(files[i], settings, extractor);
        const size_t at = x.size();
        x.resize(at + size_t(F) * T, 0.0f);
        features::copy_frames(mel, 0, T, x.data() + at);
        batch.push_back(files[i]);
      } catch (const core::InputError& e) {
        bad.push_back(e.what());
      }
    }
    if (batch.empty()) continue;
    const int B = int(batch.size());
    features::amplitude_to_db(x);
    features::scale_instance(x, B, norm);
    net.forward(x.data(), B, F, T, model::Mode::kEval, nullptr, false);
    for (int b = 0; b < B; ++b) {
      const float* s = net.strong() + size_t(b) * K * T_out;
      for (int k = 0; k < K; ++k) {
        for (int t = 0; t < T_out; ++t) tk[size_t(t) * K + k] = s[size_t(k) * T_out + t];
      }
      std::string table = header;
      for (int t = 0; t < T_out; ++t) {
        table += fmt::format("{:.3f}\t{:.3f}", grid.frame_to_time(t), grid.frame_to_time(t + 1));
        for (int k = 0; k < K; ++k) table += fmt::format("\t{:.9g}", tk[size_t(t) * K + k]);
        table += "\n";
      }
      const fs::path clip(batch[b]);
      core::write_file_atomic(out_dir + "/scores/" + clip.stem().string() + ".tsv", table);
      metrics::decode_clip(tk, T_out, classes, windows, threshold, clip.filename().string(), grid,
                           events);
    }
    done += B;
    spdlog::info("[infer] {}/{} clips", done, files.size());
  }
  std::string predictions = "filename\tonset\toffset\tevent_label\n";
  for (const auto& e : events)
    predictions += fmt::format("{}\t{:.3f}\t{:.3f}\t{}\n", e.filename, e.onset, e.offset, e.label);
  core::write_file_atomic(out_dir + "/predictions.tsv", predictions);
  spdlog::info(
      "[infer] {} model: {} clips, {} events at threshold {} (median filter {}) → "
      "{}/predictions.tsv, "
      "{}/scores/",
      which, done, events.size(), threshold, median, out_dir, out_dir);
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
