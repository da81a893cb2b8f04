// greensed features: fills the feature cache (linear mel of every clip of every dataset folder the
// config names, or of --input), in parallel, resumable; optionally dumps the final features as
// .npy.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "command.hpp"
#include "greensed/audio/audio.hpp"
#include "greensed/core/cpu.hpp"
#include "greensed/core/error.hpp"
#include "greensed/features/cache.hpp"
#include "greensed/features/db_scaler.hpp"
#include "greensed/features/npy.hpp"

namespace greensed::cli {
namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) {
  g_interrupted = true;
}

// Audio files directly in `dir` (not recursive, like the reference's glob), sorted; entries that
// cannot be read (dangling links, link loops) go to `unreadable` with their reason.
std::vector<std::string> audio_files_in(const fs::path& dir, std::vector<std::string>& unreadable) {
  audio::FolderListing listing = audio::list_audio_folder(dir.string());
  for (auto& u : listing.unreadable) unreadable.push_back(std::move(u));
  return std::move(listing.files);
}

// Audio files to process; `dump_names` receives each one's --dump name: <clip>.npy for --input,
// <data key>/<clip>.npy for config folders (DESED's synthetic train and validation sets both hold
// 0.wav, 1.wav, ...).
std::vector<std::string> collect_inputs(const core::Config& config, const std::string& input,
                                        std::vector<std::string>* dump_names,
                                        std::vector<std::string>* unreadable) {
  std::vector<std::string> files;
  auto stem_npy = [](const std::string& f) { return fs::path(f).stem().string() + ".npy"; };
  if (!input.empty()) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      files = audio_files_in(input, *unreadable);
      if (files.empty() && unreadable->empty()) {
        throw core::InputError(fmt::format("--input {}: holds no audio file ({})", input,
                                           audio::audio_extensions_text()));
      }
    } else if (const std::string reason = audio::unreadable_reason(input); reason.empty()) {
      files = {input};
    } else {
      throw core::InputError(
          fmt::format("--input {}: {} (give an audio file or a folder of them)", input,
                      reason == "no such file" ? "no such file or directory" : reason));
    }
    for (const auto& f : files) dump_names->push_back(stem_npy(f));
    return files;
  }
  const auto& d = config.data;
  const std::pair<const char*, const std::string*> folders[] = {
      {"synth_folder", &d.synth_folder},
      {"weak_folder", &d.weak_folder},
      {"unlabeled_folder", &d.unlabeled_folder},
      {"synth_val_folder", &d.synth_val_folder},
      {"test_folder", &d.test_folder},
      {"strong_folder", &d.strong_folder},
      {"eval_folder", &d.eval_folder}};
  std::set<std::string> seen;
  int n_used = 0;
  for (const auto& [key, folder] : folders) {
    std::error_code ec;
    if (folder->empty()) {
      spdlog::info("[features] data.{} is not set; skipped", key);
      continue;
    }
    if (!fs::is_directory(*folder, ec)) {
      spdlog::info("[features] data.{} = {} does not exist; skipped", key, *folder);
      continue;
    }
    const auto in_folder = audio_files_in(*folder, *unreadable);
    spdlog::info("[features] data.{} = {}: {} audio files", key, *folder, in_folder.size());
    ++n_used;
    for (const auto& f : in_folder) {
      if (seen.insert(features::FeatureCache::key_of(f)).second) {
        files.push_back(f);
        dump_names->push_back(std::string(key) + "/" + stem_npy(f));
      }
    }
  }
  if (n_used == 0) {
    throw core::InputError(fmt::format(
        "{}: none of the data folders (synth_folder, weak_folder, unlabeled_folder, "
        "synth_val_folder, test_folder, strong_folder, eval_folder) exists; fix the paths in the "
        "data section or give --input DIR",
        config.source_path.empty() ? "config" : config.source_path));
  }
  if (files.empty() && unreadable->empty()) {
    throw core::InputError(fmt::format(
        "{}: the data folders hold no audio file ({}); fix the paths in the data section, run "
        "`greensed synth`, or give --input DIR",
        config.source_path.empty() ? "config" : config.source_path,
        audio::audio_extensions_text()));
  }
  return files;
}

std::string format_duration(double s) {
  if (!(s >= 0.0) || s > 360000.0) return "?";
  const int total = int(s + 0.5);
  if (total >= 3600) return fmt::format("{}h{:02d}m", total / 3600, total / 60 % 60);
  if (total >= 60) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

// The final features of one clip as --dump writes them: dB, clamp, instance scaler, [T, F].
void dump_clip(const std::string& path, const features::CachedMel& mel,
               features::NormType normtype) {
  std::vector<float> x(mel.values().begin(), mel.values().end());
  features::network_input(x, 1, normtype);
  const int64_t n_mels = mel.n_mels(), n_frames = mel.n_frames();
  std::vector<float> transposed(x.size());
  for (int64_t m = 0; m < n_mels; ++m) {
    for (int64_t t = 0; t < n_frames; ++t) transposed[t * n_mels + m] = x[m * n_frames + t];
  }
  features::write_npy_f32(path, transposed, {n_frames, n_mels});
}

int run_features(const std::vector<std::string>& args) {
  std::string config_path, input, cache_dir, dump_dir;
  std::vector<std::string> overrides;
  int threads = -1;
  ArgParser parser("features",
                   "compute the linear mel of every clip into the feature cache (resumable)");
  parser.config_options(&config_path, &overrides, /*required=*/false);
  parser.option("--input", &input, "DIR_OR_FILE",
                "audio file or folder to process instead of the config's data folders");
  parser.option("--cache", &cache_dir, "DIR", "cache directory (default: features.cache_dir)");
  parser.option("--dump", &dump_dir, "DIR",
                "also write each clip's final features (dB, clamped, scaled) as DIR/<clip>.npy "
                "(config folders: DIR/<data key>/<clip>.npy), float32 [frames, mels]");
  parser.option("--threads", &threads, "N", "worker threads (default: run.threads; 0 = all CPUs)");
  if (!parser.parse(args)) return kExitOk;
  parser.require("--config FILE (or --input DIR_OR_FILE)", !config_path.empty() || !input.empty());

  const core::Config config =
      config_path.empty() ? core::parse_config("{}\n", "(built-in defaults)", overrides).config
                          : load_config_logged(config_path, overrides).config;
  if (threads < 0) threads = config.run.threads;
  log_compute_setup(threads);
  const int n_threads = core::num_threads();
  const auto normtype = features::parse_normtype(config.scaler.normtype);
  if (cache_dir.empty()) cache_dir = config.features.cache_dir;

  std::vector<std::string> dump_names, unreadable;
  const auto files = collect_inputs(config, input, &dump_names, &unreadable);
  features::FeatureCache cache(cache_dir, features::cache_settings_from(config));
  spdlog::info("[features] {} clips; cache {} ({} entries); {} thread(s)", files.size(), cache_dir,
               cache.n_entries(), n_threads);

  std::mutex bad_mutex;
  std::vector<std::pair<size_t, std::string>> bad;  // (file index, reason)
  std::exception_ptr internal_error;
  std::atomic<size_t> next{0};
  std::atomic<int64_t> n_finished{0}, n_cached{0};
  g_interrupted = false;
  auto old_int = std::signal(SIGINT, on_interrupt);
  auto old_term = std::signal(SIGTERM, on_interrupt);

  auto worker = [&] {
    for (size_t i; !g_interrupted && (i = next++) < files.size();) {
      try {
        if (dump_dir.empty()) {
          if (cache.is_fresh(files[i])) {
            ++n_cached;
          } else {
            cache.compute_and_store(files[i]);
          }
        } else {
          auto mel = cache.lookup(files[i]);
          if (mel) {
            ++n_cached;
          } else {
            mel = cache.compute_and_store(files[i]);
          }
          dump_clip((fs::path(dump_dir) / dump_names[i]).string(), *mel, normtype);
        }
      } catch (const core::InputError& e) {
        std::lock_guard lock(bad_mutex);
        bad.emplace_back(i, e.what());
      } catch (...) {
        std::lock_guard lock(bad_mutex);
        if (!internal_error) internal_error = std::current_exception();
        g_interrupted = true;
      }
      ++n_finished;
    }
  };

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < n_threads; ++t) pool.emplace_back(worker);

  const bool terminal = stderr_is_terminal();
  double last_report = 0.0;
  auto progress = [&](bool final_line) {
    const int64_t done = n_finished, cached = n_cached;
    const double s = elapsed();
    const double rate = s > 0.0 ? double(done - cached) / s : 0.0;
    const double eta = rate > 0.0 ? double(files.size() - done) / rate : -1.0;
    const std::string line =
        fmt::format("[features] {}/{} clips ({} already cached), {:.1f} clips/s, ETA {}", done,
                    files.size(), cached, rate, format_duration(eta));
    if (terminal) {
      fmt::print(stderr, "\r{}\033[K{}", line, final_line ? "\n" : "");
      std::fflush(stderr);
    } else if (!final_line) {
      spdlog::info("{}", line);
    }
  };
  while (n_finished < int64_t(files.size()) && !g_interrupted) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const double s = elapsed();
    if (s - last_report >= (terminal ? 0.5 : 10.0)) {
      progress(false);
      last_report = s;
    }
  }
  for (auto& th : pool) th.join();
  if (terminal) progress(true);
  std::signal(SIGINT, old_int);
  std::signal(SIGTERM, old_term);
  cache.flush();
  if (internal_error) std::rethrow_exception(internal_error);

  const double s = elapsed();
  spdlog::info(
      "[features] {} of {} clips done in {}: {} computed ({:.1f} clips/s), {} already cached, {} "
      "bad; cache {}",
      n_finished.load(), files.size(), format_duration(s), cache.n_computed(),
      s > 0 ? double(cache.n_computed()) / s : 0.0, n_cached.load(), bad.size(), cache_dir);
  if (g_interrupted) {
    spdlog::warn(
        "[features] interrupted; the cache index is saved, run the same command to resume");
    return 130;
  }
  if (!bad.empty() || !unreadable.empty()) {
    std::sort(bad.begin(), bad.end());
    std::string message =
        fmt::format("{} of {} audio files could not be read (every other clip is cached in {}):",
                    bad.size() + unreadable.size(), files.size() + unreadable.size(), cache_dir);
    for (const auto& [index, reason] : bad) message += "\n  " + reason;
    for (const auto& u : unreadable) message += "\n  " + u;
    throw core::InputError(message);
  }
  return kExitOk;
}

const Registrar registrar({"features", "compute the mel features of every clip into the cache",
                           run_features});

}  // namespace
}  // namespace greensed::cli
