#include "greensed/synth/sources.hpp"

#include <fmt/format.h>
#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <filesystem>

#include "greensed/audio/audio.hpp"
#include "greensed/core/error.hpp"

namespace greensed::synth {
namespace {

bool is_audio(const std::filesystem::path& p) {
  return audio::has_audio_extension(p.string());
}

std::vector<std::string> audio_files(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && is_audio(e.path())) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool sustained(int label) {
  return label == 1 || label == 5 || label == 6 || label == 7 || label == 9;
}

}  // namespace

bool SourceLibrary::empty() const {
  if (!background.empty()) return false;
  for (const auto& f : foreground) {
    if (!f.empty()) return false;
  }
  return true;
}

std::vector<float> read_audio_16k_mono(const std::string& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) {
    throw core::InputError(
        fmt::format("{}: cannot decode audio ({}); remove it from the source "
                    "library or re-run scripts/fetch_debian_sounds.sh",
                    path, sf_strerror(nullptr)));
  }
  std::vector<float> inter(size_t(info.frames) * info.channels);
  const sf_count_t got = sf_readf_float(f, inter.data(), info.frames);
  sf_close(f);
  std::vector<float> mono(static_cast<size_t>(got));
  for (sf_count_t i = 0; i < got; ++i) {
    float s = 0;
    for (int c = 0; c < info.channels; ++c) s += inter[size_t(i) * info.channels + c];
    mono[i] = s / float(info.channels);
  }
  if (info.samplerate == kSampleRate || mono.empty()) return mono;
  const double ratio = double(kSampleRate) / info.samplerate;
  std::vector<float> out(size_t(double(mono.size()) * ratio) + 16);
  size_t done = 0;
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_error_t err =
      soxr_oneshot(info.samplerate, kSampleRate, 1, mono.data(), mono.size(), nullptr, out.data(),
                   out.size(), &done, nullptr, &q, nullptr);
  if (err) throw core::InputError(fmt::format("{}: cannot resample ({})", path, err));
  out.resize(done);
  return out;
}

SourceLibrary load_source_library(const std::string& dir) {
  SourceLibrary lib;
  if (dir.empty()) return lib;
  const std::filesystem::path root(dir);
  for (int c = 0; c < data::kNumClasses; ++c) {
    for (const auto& f : audio_files(root / "foreground" / std::string(data::kClassNames[c]))) {
      auto x = read_audio_16k_mono(f);
      if (x.size() > size_t(0.05 * kSampleRate)) lib.foreground[c].push_back(std::move(x));
    }
  }
  for (const auto& f : audio_files(root / "background")) {
    auto x = read_audio_16k_mono(f);
    if (x.size() > size_t(0.5 * kSampleRate)) lib.background.push_back(std::move(x));
  }
  return lib;
}

void render_real_event(const std::vector<float>& recording, int label, Noise& noise,
                       const EventStyle& style, std::span<float> out) {
  std::fill(out.begin(), out.end(), 0.0f);
  // Pitch by style.pitch and duration by style.stretch, independently: stretch by
  // stretch x pitch, then varispeed by pitch (which shortens by 1 / pitch).
  const std::vector<float> x =
      varispeed(time_stretch(recording, style.stretch * style.pitch), style.pitch);
  if (x.empty()) return;
  const size_t N = out.size();
  if (x.size() >= N) {
    const size_t start = size_t(noise.uniform() * double(x.size() - N + 1));
    std::copy(x.begin() + start, x.begin() + start + N, out.begin());
    return;
  }
  const size_t fade = std::min(x.size() / 4, size_t(0.05 * kSampleRate));
  size_t at = 0;
  while (at < N) {
    const size_t len = std::min(x.size(), N - at);
    for (size_t i = 0; i < len; ++i) {
      float g = 1.0f;
      if (sustained(label) && at > 0 && i < fade) g = float(i) / float(fade);  // cross-fade in
      out[at + i] += g * x[i];
    }
    if (sustained(label)) {
      at += x.size() - fade;  // overlap the next copy with this one's tail
      if (x.size() <= fade) break;
    } else {
      at += x.size() + size_t(noise.uniform(0.1, 0.5) * kSampleRate);
    }
  }
  apply_fades(out, 0.01);
}

}  // namespace greensed::synth
