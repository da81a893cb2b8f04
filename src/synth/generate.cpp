#include "greensed/synth/generate.hpp"

#include <fmt/format.h>
#include <sndfile.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "greensed/audio/audio.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/rng.hpp"

namespace greensed::synth {
namespace {

namespace fs = std::filesystem;
constexpr const char* kMarker = ".greensed_synth";
constexpr uint64_t kSetLevelClip = (1u << 24) - 1;  // sub-stream of set-level draws

// Clip sub-stream: counter range [set << 48 | clip << 24 | part << 23, +2^23) of (seed, kSynth).
// part 0 = layout, part 1 = audio.
core::RngStream clip_stream(uint64_t seed, SetId set, uint64_t clip, int part) {
  core::RngState s;
  s.seed = seed;
  s.stream = uint64_t(core::RngStreamId::kSynth);
  s.counter = (uint64_t(set) << 48) | (clip << 24) | (uint64_t(part) << 23);
  return core::RngStream(s);
}

std::string youtube_like_name(core::RngStream& rng, double duration) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string id = "Y";
  for (int i = 0; i < 11; ++i) id += kChars[rng.randint(0, 63)];
  const int start = int(rng.randint(0, 60)) * 10;
  return fmt::format("{}_{}.000_{}.000.wav", id, start, start + int(std::lround(duration)));
}

// Real-like clip length: DESED's weak and unlabelled sets have a few clips shorter than 10 s.
double real_like_duration(core::RngStream& rng, double p_short) {
  return rng.uniform() < p_short ? double(rng.randint(3, 9)) : 10.0;
}

bool real_like(SetId set) {
  return set == SetId::kWeak || set == SetId::kUnlabeled || set == SetId::kTest;
}

}  // namespace

SynthPaths paths_from_config(const core::DataConfig& d) {
  const std::pair<const char*, const std::string*> keys[] = {
      {"synth_folder", &d.synth_folder},
      {"synth_tsv", &d.synth_tsv},
      {"synth_val_folder", &d.synth_val_folder},
      {"synth_val_tsv", &d.synth_val_tsv},
      {"synth_val_dur", &d.synth_val_dur},
      {"weak_folder", &d.weak_folder},
      {"weak_tsv", &d.weak_tsv},
      {"unlabeled_folder", &d.unlabeled_folder},
      {"test_folder", &d.test_folder},
      {"test_tsv", &d.test_tsv},
      {"test_dur", &d.test_dur}};
  for (const auto& [key, value] : keys) {
    if (value->empty()) {
      throw core::InputError(
          fmt::format("data.{}: is empty; `greensed synth` writes every set "
                      "where the data section points (or use --out DIR)",
                      key));
    }
  }
  SynthPaths p;
  p.synth_folder = d.synth_folder;
  p.synth_tsv = d.synth_tsv;
  p.synth_val_folder = d.synth_val_folder;
  p.synth_val_tsv = d.synth_val_tsv;
  p.synth_val_dur = d.synth_val_dur;
  p.weak_folder = d.weak_folder;
  p.weak_tsv = d.weak_tsv;
  p.unlabeled_folder = d.unlabeled_folder;
  p.unlabeled_tsv = (fs::path(d.weak_tsv).parent_path() / "unlabel_in_domain.tsv").string();
  p.test_folder = d.test_folder;
  p.test_tsv = d.test_tsv;
  p.test_dur = d.test_dur;
  return p;
}

SynthPaths paths_under(const std::string& root) {
  const fs::path r(root);
  auto s = [&](const std::string& rel) { return (r / rel).string(); };
  SynthPaths p;
  p.synth_folder = s("audio/train/synthetic21_train/soundscapes_16k/");
  p.synth_tsv = s("metadata/train/synthetic21_train/soundscapes.tsv");
  p.synth_val_folder = s("audio/validation/synthetic21_validation/soundscapes_16k/");
  p.synth_val_tsv = s("metadata/validation/synthetic21_validation/soundscapes.tsv");
  p.synth_val_dur = s("metadata/validation/synthetic21_validation/durations.tsv");
  p.weak_folder = s("audio/train/weak_16k/");
  p.weak_tsv = s("metadata/train/weak.tsv");
  p.unlabeled_folder = s("audio/train/unlabel_in_domain_16k/");
  p.unlabeled_tsv = s("metadata/train/unlabel_in_domain.tsv");
  p.test_folder = s("audio/validation/validation_16k/");
  p.test_tsv = s("metadata/validation/validation.tsv");
  p.test_dur = s("metadata/validation/validation_durations.tsv");
  return p;
}

SynthOptions options_from_config(const core::SynthConfig& c, int threads) {
  SynthOptions o;
  o.seed = uint64_t(c.seed);
  o.n_synth_train = c.n_synth_train;
  o.n_synth_val = c.n_synth_val;
  o.n_weak = c.n_weak;
  o.n_unlabeled = c.n_unlabeled;
  o.n_test = c.n_test;
  o.sources_dir = c.sources_dir;
  o.threads = std::max(1, threads);
  return o;
}

std::vector<PlannedClip> plan_dataset(const SynthOptions& o) {
  std::vector<PlannedClip> plan;
  auto strong = [&](SetId set, int n) {
    for (int i = 0; i < n; ++i) {
      auto rng = clip_stream(o.seed, set, uint64_t(i), 0);
      plan.push_back({set, i, fmt::format("{}.wav", i), sample_strong_layout(rng), 0});
    }
  };
  strong(SetId::kSynthTrain, o.n_synth_train);
  strong(SetId::kSynthVal, o.n_synth_val);

  // Weak: label sets of real weak.tsv clips (without replacement while they last).
  const auto weak_real =
      data::parse_weak_tsv(std::string(embedded_weak_tsv()), "embedded weak.tsv");
  {
    auto set_rng = clip_stream(o.seed, SetId::kWeak, kSetLevelClip, 0);
    std::vector<int> order;
    for (int i = 0; i < o.n_weak; ++i) {
      if (i % int(weak_real.size()) == 0) {
        const auto p = set_rng.permutation(int(weak_real.size()));
        order.insert(order.end(), p.begin(), p.end());
      }
    }
    for (int i = 0; i < o.n_weak; ++i) {
      auto rng = clip_stream(o.seed, SetId::kWeak, uint64_t(i), 0);
      const double dur = real_like_duration(rng, 29.0 / 1578.0);
      const uint32_t labels = weak_real[order[i]].labels;
      PlannedClip c{SetId::kWeak, i, youtube_like_name(rng, dur),
                    sample_layout_for_classes(rng, labels, dur), labels};
      plan.push_back(std::move(c));
    }
  }
  for (int i = 0; i < o.n_unlabeled; ++i) {
    auto rng = clip_stream(o.seed, SetId::kUnlabeled, uint64_t(i), 0);
    const double dur = real_like_duration(rng, 181.0 / 14412.0);
    const std::string name = youtube_like_name(rng, dur);
    ClipLayout layout =
        rng.uniform() < 0.03 ? ClipLayout{dur, {}, {}} : sample_strong_layout(rng, dur);
    plan.push_back({SetId::kUnlabeled, i, name, std::move(layout), 0});
  }

  // Real-like validation: the real clips' layouts and durations.
  const auto table =
      data::parse_strong_tsv(std::string(embedded_validation_tsv()), "embedded validation.tsv");
  const auto durations = data::parse_durations_tsv(std::string(embedded_validation_durations_tsv()),
                                                   "embedded validation_durations.tsv");
  std::unordered_map<std::string, double> dur_of;
  for (const auto& d : durations) dur_of[d.filename] = d.duration;
  const int n_all = int(table.clips.size());
  const int n_test = o.n_test <= 0 ? n_all : std::min(o.n_test, n_all);
  std::vector<bool> chosen(n_all, n_test == n_all);
  if (n_test < n_all) {
    // Keep the quirks in small subsets: two event-less clips and two short clips first, the rest
    // at random.
    int n_chosen = 0, n_empty = 0, n_short = 0;
    for (int i = 0; i < n_all && n_chosen < n_test; ++i) {
      const bool empty = table.clips[i].events.empty();
      const bool short_clip = dur_of[table.clips[i].filename] < 9.95;
      if ((empty && n_empty < 2) || (!empty && short_clip && n_short < 2)) {
        chosen[i] = true;
        ++n_chosen;
        (empty ? n_empty : n_short) += 1;
      }
    }
    auto set_rng = clip_stream(o.seed, SetId::kTest, kSetLevelClip, 0);
    for (int i : set_rng.permutation(n_all)) {
      if (n_chosen == n_test) break;
      if (!chosen[i]) {
        chosen[i] = true;
        ++n_chosen;
      }
    }
  }
  for (int i = 0, k = 0; i < n_all; ++i) {
    if (!chosen[i]) continue;
    const auto& clip = table.clips[i];
    const auto it = dur_of.find(clip.filename);
    GREENSED_CHECK(it != dur_of.end(), "embedded validation clip {} has no duration",
                   clip.filename);
    const int channels = k % 20 == 7 ? 2 : 1;
    plan.push_back({SetId::kTest, k++, clip.filename, layout_from_labels(clip.events, it->second),
                    0, channels});
  }
  return plan;
}

std::vector<float> render_clip(const PlannedClip& clip, const SynthOptions& o,
                               const SourceLibrary& library, bool* rescaled) {
  auto rng = clip_stream(o.seed, clip.set, uint64_t(clip.index), 1);
  Noise noise(rng.next_u64());
  const size_t N = size_t(std::lround(clip.layout.duration * kSampleRate));
  std::vector<float> bg(N), fg(N, 0.0f);

  // Background: procedural room tone, optionally a real ambience under it, at ref_db LUFS.
  render_room_tone(noise, bg);
  if (!library.background.empty() && noise.uniform() < 0.5) {
    const auto& amb = library.background[size_t(noise.uniform() * library.background.size())];
    std::vector<float> layer(N);
    EventStyle style;
    style.pitch = 1.0;
    render_real_event(amb, 7 /* loop like a sustained texture */, noise, style, layer);
    const double r = rms(layer), b = rms(bg);
    if (r > 0) add_scaled(bg, layer, float(b / r * std::pow(10.0, noise.uniform(-20, -10) / 20)));
  }
  Biquad::lowpass(noise.uniform(3500, 8000), 0.7071).run(bg);
  scale(bg, float(std::pow(10.0, (o.ref_db - integrated_loudness(bg)) / 20.0)));

  const bool gap = real_like(clip.set);
  const double snr_lo = gap ? 3.0 : 6.0, snr_hi = gap ? 27.0 : 30.0;
  std::vector<float> ev;
  auto mix_event = [&](size_t at, std::span<float> x, double target_lufs) {
    // Random band limit and 2-band EQ on every event (bandwidth is never a class cue).
    const double cutoff = noise.uniform(3500, 8000);
    if (cutoff < 7800) Biquad::lowpass(cutoff, 0.7071).run(x);
    Biquad::lowshelf(noise.uniform(100, 400), noise.uniform(-6, 6)).run(x);
    Biquad::peaking(noise.uniform(500, 4000), 1.0, noise.uniform(-6, 6)).run(x);
    apply_fades(x, 0.01);
    const double lufs = integrated_loudness(x);
    if (lufs <= -69.9) return;
    add_scaled(std::span<float>(fg).subspan(at), x,
               float(std::pow(10.0, (target_lufs - lufs) / 20.0)));
  };
  for (const auto& s : clip.layout.sources) {
    const size_t at = std::min(N, size_t(std::lround(s.onset * kSampleRate)));
    const size_t len = std::min(N - at, size_t(std::lround(s.duration * kSampleRate)));
    if (len < 16) continue;
    ev.assign(len, 0.0f);
    EventStyle style;
    style.pitch = std::pow(2.0, noise.uniform(-3, 3) / 12.0);
    style.stretch = noise.uniform(0.85, 1.2);
    style.has_onset = s.onset > 0.01;
    style.has_offset = s.onset + s.duration < clip.layout.duration - 0.01;
    const auto& real = library.foreground[s.label];
    const double p_real = s.label == 8 ? 0.7 : 0.5;
    if (!real.empty() && noise.uniform() < p_real) {
      render_real_event(real[size_t(noise.uniform() * real.size())], s.label, noise, style, ev);
    } else {
      render_procedural_event(s.label, noise, style, ev);
    }
    mix_event(at, ev, o.ref_db + noise.uniform(snr_lo, snr_hi));
  }
  // Non-target domestic sounds near the background level (audible, never labelled).
  const int n_nontarget = int(noise.uniform() * (gap ? 4 : 3));
  for (int k = 0; k < n_nontarget; ++k) {
    const size_t len = size_t(noise.uniform(0.3, 3.0) * kSampleRate);
    if (len >= N) continue;
    const size_t at = size_t(noise.uniform() * double(N - len));
    ev.assign(len, 0.0f);
    render_nontarget_event(noise, ev);
    mix_event(at, ev, o.ref_db + noise.uniform(-5, 5));
  }
  // One room per clip: Scaper's light mixture reverb, with RT60 0.2-0.8 s, DRR 0-10 dB.
  add_reverb(fg, noise.uniform(0.2, 0.8), noise.uniform(0, 10));
  std::vector<float> out(N);
  float peak = 0.0f;
  for (size_t i = 0; i < N; ++i) {
    out[i] = bg[i] + fg[i];
    peak = std::max(peak, std::fabs(out[i]));
  }
  if (rescaled) *rescaled = peak > 0.99f;
  if (peak > 0.99f) scale(out, 0.99f / peak);
  return out;
}

namespace {

// Stereo: the right channel is the mixture 1.5 dB lower and 0.5 ms later, so the channel average
// differs from either channel.
void write_wav_16bit(const std::string& path, const std::vector<float>& mono, int channels) {
  std::vector<float> x = mono;
  if (channels == 2) {
    const size_t delay = kSampleRate / 2000;
    x.assign(mono.size() * 2, 0.0f);
    for (size_t i = 0; i < mono.size(); ++i) {
      x[2 * i] = mono[i];
      x[2 * i + 1] = i >= delay ? 0.84f * mono[i - delay] : 0.0f;
    }
  }
  // core/fs's temporary-name form: a killed synth's leftovers are recognised as orphans.
  const std::string tmp = core::temp_name_for(path);
  SF_INFO info{};
  info.samplerate = kSampleRate;
  info.channels = channels;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (!f) {
    throw core::InputError(fmt::format("{}: cannot write ({})", path, sf_strerror(nullptr)));
  }
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t frames = sf_count_t(x.size() / size_t(channels));
  const sf_count_t n = sf_writef_float(f, x.data(), frames);
  sf_close(f);
  if (n != frames) {
    throw core::InputError(fmt::format("{}: short write; free disk space", path));
  }
  fs::rename(tmp, path);
}

// Makes `folder` ready: created, or emptied of the audio of an earlier `synth` run.
void prepare_folder(const std::string& folder, const std::string& what) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw core::InputError(fmt::format("{}: cannot create ({})", folder, ec.message()));
  const bool ours = fs::exists(fs::path(folder) / kMarker);
  // Half-written clips of a killed synth (write_clip's temporary names), whoever made the folder.
  core::remove_orphan_temp_files(folder, /*recursive=*/false);
  std::vector<fs::path> audio;
  for (const auto& e : fs::directory_iterator(folder)) {
    std::error_code status_ec;
    if (e.is_regular_file(status_ec) && ::greensed::audio::has_audio_extension(e.path().string())) {
      audio.push_back(e.path());
    }
  }
  if (!audio.empty() && !ours) {
    throw core::InputError(fmt::format(
        "{}: {} holds {} audio files not made by `greensed synth` (no {} marker); refusing to "
        "overwrite them: choose another --out DIR or data paths, or empty the folder",
        what, folder, audio.size(), kMarker));
  }
  for (const auto& p : audio) fs::remove(p);
  core::write_file_atomic((fs::path(folder) / kMarker).string(),
                          "made by greensed synth; its audio is regenerated on every run\n");
}

}  // namespace

SynthSummary generate_dataset(const SynthOptions& o, const SynthPaths& paths,
                              const SynthProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  SynthSummary summary;
  const SourceLibrary library = load_source_library(o.sources_dir);
  if (!o.sources_dir.empty() && library.empty()) {
    spdlog::warn(
        "[synth] synth.sources_dir '{}' has no usable recordings; all sources are "
        "procedural",
        o.sources_dir);
  }
  for (int c = 0; c < data::kNumClasses; ++c) {
    if (!library.foreground[c].empty()) {
      summary.real_source_classes.push_back(std::string(data::kClassNames[c]));
    }
  }
  summary.n_real_backgrounds = int(library.background.size());
  const auto plan = plan_dataset(o);

  const std::string* folder_of[5] = {&paths.synth_folder, &paths.synth_val_folder,
                                     &paths.weak_folder, &paths.unlabeled_folder,
                                     &paths.test_folder};
  const char* key_of[5] = {"data.synth_folder", "data.synth_val_folder", "data.weak_folder",
                           "data.unlabeled_folder", "data.test_folder"};
  for (int s = 0; s < 5; ++s) {
    for (int t = 0; t < s; ++t) {
      if (fs::weakly_canonical(*folder_of[s]) == fs::weakly_canonical(*folder_of[t])) {
        throw core::InputError(
            fmt::format("{} and {} are the same folder '{}'; every set needs "
                        "its own folder",
                        key_of[t], key_of[s], *folder_of[s]));
      }
    }
    prepare_folder(*folder_of[s], key_of[s]);
  }

  std::atomic<int> next{0}, done{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  std::atomic<int> rescaled{0};
  auto worker = [&] {
    for (;;) {
      const int i = next.fetch_add(1);
      if (i >= int(plan.size())) return;
      {
        std::lock_guard lock(error_mutex);
        if (error) return;
      }
      try {
        const auto& clip = plan[i];
        bool clipped = false;
        const auto audio = render_clip(clip, o, library, &clipped);
        if (clipped) rescaled.fetch_add(1);
        write_wav_16bit((fs::path(*folder_of[int(clip.set)]) / clip.filename).string(), audio,
                        clip.channels);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        return;
      }
      done.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) threads.emplace_back(worker);
  while (done.load() < int(plan.size())) {
    {
      std::lock_guard lock(error_mutex);
      if (error) break;
    }
    if (progress) progress(done.load(), int(plan.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  if (progress) progress(int(plan.size()), int(plan.size()));

  // Tables, in DESED's formats.
  std::vector<data::StrongClip> train, val, test;
  std::vector<data::ClipDuration> val_dur, test_dur;
  std::vector<data::WeakClip> weak;
  std::string unlabeled = "filename\n";
  for (const auto& c : plan) {
    const data::StrongClip strong{c.filename, c.layout.labels};
    switch (c.set) {
      case SetId::kSynthTrain:
        train.push_back(strong);
        break;
      case SetId::kSynthVal:
        val.push_back(strong);
        val_dur.push_back({c.filename, c.layout.duration});
        break;
      case SetId::kWeak:
        weak.push_back({c.filename, c.weak_labels});
        break;
      case SetId::kUnlabeled:
        unlabeled += c.filename + "\n";
        break;
      case SetId::kTest:
        test.push_back(strong);
        test_dur.push_back({c.filename, c.layout.duration});
        break;
    }
  }
  // Synthetic tables are sorted by (filename, onset) as pandas sorts strings.
  auto by_name = [](const data::StrongClip& a, const data::StrongClip& b) {
    return a.filename < b.filename;
  };
  std::sort(train.begin(), train.end(), by_name);
  std::sort(val.begin(), val.end(), by_name);
  std::sort(val_dur.begin(), val_dur.end(),
            [](const auto& a, const auto& b) { return a.filename < b.filename; });
  core::write_file_atomic(paths.synth_tsv, data::format_strong_tsv(train));
  core::write_file_atomic(paths.synth_val_tsv, data::format_strong_tsv(val));
  core::write_file_atomic(paths.synth_val_dur, data::format_durations_tsv(val_dur));
  core::write_file_atomic(paths.weak_tsv, data::format_weak_tsv(weak));
  core::write_file_atomic(paths.unlabeled_tsv, unlabeled);
  core::write_file_atomic(paths.test_tsv, data::format_strong_tsv(test));
  core::write_file_atomic(paths.test_dur, data::format_durations_tsv(test_dur));

  summary.n_clips = int(plan.size());
  summary.n_rescaled = rescaled.load();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace greensed::synth
