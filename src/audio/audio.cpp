#include "greensed/audio/audio.hpp"

#include <fmt/format.h>
#include <sndfile.h>
#include <soxr.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "greensed/core/error.hpp"

namespace greensed::audio {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

SndfilePtr open_for_reading(const std::string& path, SF_INFO* info) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw core::InputError(fmt::format("{}: cannot read audio: no such file", path));
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw core::InputError(fmt::format("{}: cannot read audio: is a directory", path));
  }
  if (std::filesystem::file_size(path, ec) == 0 && !ec) {
    throw core::InputError(fmt::format("{}: cannot read audio: the file is empty (0 bytes)", path));
  }
  *info = SF_INFO{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, info));
  if (!file) {
    std::string reason = sf_strerror(nullptr);
    while (!reason.empty() && (reason.back() == '.' || reason.back() == ' ')) reason.pop_back();
    throw core::InputError(fmt::format(
        "{}: cannot read audio: {} (libsndfile); expected a WAV, FLAC or OGG file", path, reason));
  }
  if (info->frames <= 0) {
    throw core::InputError(fmt::format("{}: cannot read audio: the file holds no samples", path));
  }
  if (info->channels <= 0 || info->samplerate <= 0) {
    throw core::InputError(fmt::format("{}: cannot read audio: invalid header ({} channels, {} Hz)",
                                       path, info->channels, info->samplerate));
  }
  return file;
}

}  // namespace

AudioInfo probe(const std::string& path) {
  SF_INFO info;
  const auto file = open_for_reading(path, &info);
  return {info.samplerate, info.channels, int64_t(info.frames)};
}

std::vector<float> decode_mono(const std::string& path, int* sample_rate) {
  SF_INFO info;
  const auto file = open_for_reading(path, &info);
  const int n_channels = info.channels;
  const int64_t n_frames = info.frames;
  std::vector<float> mono(n_frames);
  // Integer PCM arrives scaled by 1/32768 (like torchaudio); float data is passed through
  // unclipped.
  sf_command(file.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
  constexpr int64_t kChunkFrames = 16384;
  std::vector<float> chunk(kChunkFrames * n_channels);
  int64_t done = 0;
  while (done < n_frames) {
    const int64_t want = std::min(kChunkFrames, n_frames - done);
    const sf_count_t got = sf_readf_float(file.get(), chunk.data(), want);
    if (got <= 0) break;
    if (n_channels == 1) {
      std::copy(chunk.begin(), chunk.begin() + got, mono.begin() + done);
    } else {
      // Sum then divide, as torch.mean does for a channel pair.
      for (sf_count_t i = 0; i < got; ++i) {
        float sum = 0.0f;
        for (int c = 0; c < n_channels; ++c) sum += chunk[i * n_channels + c];
        mono[done + i] = sum / float(n_channels);
      }
    }
    done += got;
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR) {
    throw core::InputError(fmt::format("{}: cannot read audio: {}", path, sf_strerror(file.get())));
  }
  if (done < n_frames) {
    throw core::InputError(fmt::format(
        "{}: cannot read audio: the file is truncated (header says {} samples, {} readable)", path,
        n_frames, done));
  }
  if (sample_rate) *sample_rate = info.samplerate;
  return mono;
}

std::vector<float> resample(std::span<const float> x, int from_rate, int to_rate) {
  GREENSED_CHECK(from_rate > 0 && to_rate > 0, "resample rates {} -> {}", from_rate, to_rate);
  if (from_rate == to_rate) return {x.begin(), x.end()};
  const size_t n_out = size_t(std::llround(double(x.size()) * to_rate / from_rate));
  std::vector<float> y(n_out);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  size_t n_done = 0;
  const soxr_error_t error =
      soxr_oneshot(double(from_rate), double(to_rate), 1, x.data(), x.size(), nullptr, y.data(),
                   n_out, &n_done, &io, &quality, &runtime);
  GREENSED_CHECK(error == nullptr, "soxr_oneshot {} -> {} Hz failed: {}", from_rate, to_rate,
                 error ? error : "");
  y.resize(n_done);
  y.resize(n_out, 0.0f);  // soxr may round the length down by one sample
  return y;
}

std::vector<float> load_mono(const std::string& path, int target_rate) {
  int rate = 0;
  auto x = decode_mono(path, &rate);
  if (rate != target_rate) x = resample(x, rate, target_rate);
  return x;
}

void pad_or_crop(std::vector<float>& x, int64_t n_samples) {
  GREENSED_CHECK(n_samples >= 0, "pad_or_crop to {} samples", n_samples);
  x.resize(n_samples, 0.0f);
}

double random_crop(std::vector<float>& x, int64_t n_samples, int sample_rate,
                   core::RngStream& rng) {
  const int64_t n = int64_t(x.size());
  if (n <= n_samples) {
    x.resize(n_samples, 0.0f);
    return 0.0;
  }
  const int64_t start = rng.randint(0, n - n_samples);
  x.erase(x.begin(), x.begin() + start);
  x.resize(n_samples);
  return crop_onset_seconds(start, sample_rate);
}

double crop_onset_seconds(int64_t start_sample, int sample_rate) {
  // Python's round(x, 3) rounds the exact binary value of x, ties to even; so does glibc's printf.
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", double(start_sample) / double(sample_rate));
  return std::strtod(text, nullptr);
}

void write_wav(const std::string& path, std::span<const float> interleaved, int n_channels,
               int sample_rate, WavFormat format) {
  GREENSED_CHECK(n_channels > 0 && interleaved.size() % n_channels == 0,
                 "write_wav: {} samples for {} channels", interleaved.size(), n_channels);
  SF_INFO info{};
  info.samplerate = sample_rate;
  info.channels = n_channels;
  info.format = SF_FORMAT_WAV | (format == WavFormat::kPcm16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
  SndfilePtr file(sf_open(path.c_str(), SFM_WRITE, &info));
  if (!file) {
    throw core::InputError(fmt::format("{}: cannot write audio: {}", path, sf_strerror(nullptr)));
  }
  // Clip instead of wrapping when float samples beyond [-1, 1] go to 16-bit PCM.
  sf_command(file.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
  const sf_count_t n_frames = sf_count_t(interleaved.size() / n_channels);
  if (sf_writef_float(file.get(), interleaved.data(), n_frames) != n_frames) {
    throw core::InputError(
        fmt::format("{}: cannot write audio: {}", path, sf_strerror(file.get())));
  }
}

}  // namespace greensed::audio
