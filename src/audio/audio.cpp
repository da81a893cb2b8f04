#include "greensed/audio/audio.hpp"

#include <fmt/format.h>
#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <system_error>

#include "greensed/core/error.hpp"

namespace greensed::audio {
namespace {

namespace fs = std::filesystem;

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Bytes per sample of the PCM and float WAV encodings, 0 for compressed ones.
int bytes_per_sample(int format) {
  switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8:
      return 1;
    case SF_FORMAT_PCM_16:
      return 2;
    case SF_FORMAT_PCM_24:
      return 3;
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_FLOAT:
      return 4;
    case SF_FORMAT_DOUBLE:
      return 8;
    default:
      return 0;
  }
}

// libsndfile quietly reads a WAV whose data chunk is shorter than its header says (a download or
// copy cut short) as a shorter clip; greensed rejects it, since its labels describe the whole clip.
void check_not_cut_short(SNDFILE* file, const SF_INFO& info, const std::string& path) {
  const int major = info.format & SF_FORMAT_TYPEMASK;
  const int width = bytes_per_sample(info.format);
  if ((major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX) || width == 0) return;
  SF_CHUNK_INFO chunk{};
  std::snprintf(chunk.id, sizeof chunk.id, "data");
  chunk.id_size = 4;
  SF_CHUNK_ITERATOR* it = sf_get_chunk_iterator(file, &chunk);
  if (!it || sf_get_chunk_size(it, &chunk) != SF_ERR_NO_ERROR) return;
  // 0 and 0xFFFFFFFF are what streaming writers put when they do not know the length yet.
  if (chunk.datalen == 0 || chunk.datalen == 0xFFFFFFFFu) return;
  const int64_t announced = int64_t(chunk.datalen) / (int64_t(width) * info.channels);
  if (info.frames < announced) {
    throw core::InputError(fmt::format(
        "{}: cannot read audio: the file is cut short: its WAV header announces {} samples "
        "({:.3f} s) but the file holds {} ({:.3f} s); copy or download it again",
        path, announced, double(announced) / info.samplerate, int64_t(info.frames),
        double(info.frames) / info.samplerate));
  }
}

SndfilePtr open_for_reading(const std::string& path, SF_INFO* info) {
  const std::string reason = unreadable_reason(path);
  if (!reason.empty())
    throw core::InputError(fmt::format("{}: cannot read audio: {}", path, reason));
  std::error_code ec;
  if (fs::file_size(path, ec) == 0 && !ec) {
    throw core::InputError(fmt::format("{}: cannot read audio: the file is empty (0 bytes)", path));
  }
  *info = SF_INFO{};
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, info));
  if (!file) {
    std::string why = sf_strerror(nullptr);
    while (!why.empty() && (why.back() == '.' || why.back() == ' ')) why.pop_back();
    throw core::InputError(fmt::format(
        "{}: cannot read audio: {} (libsndfile); expected a WAV, FLAC or OGG file", path, why));
  }
  if (info->frames <= 0) {
    throw core::InputError(fmt::format("{}: cannot read audio: the file holds no samples", path));
  }
  if (info->channels <= 0 || info->samplerate <= 0) {
    throw core::InputError(fmt::format("{}: cannot read audio: invalid header ({} channels, {} Hz)",
                                       path, info->channels, info->samplerate));
  }
  check_not_cut_short(file.get(), *info, path);
  return file;
}

// Throws when `mono` holds a NaN or an infinite sample (a stereo file's bad channel shows in the
// mix: NaN and ±inf propagate through the mean).
void check_finite(const std::vector<float>& mono, int sample_rate, const std::string& path) {
  const auto bad = [](float v) { return !std::isfinite(v); };
  const auto first = std::find_if(mono.begin(), mono.end(), bad);
  if (first == mono.end()) return;
  const int64_t n_bad = std::count_if(first, mono.end(), bad);
  const int64_t at = first - mono.begin();
  throw core::InputError(fmt::format(
      "{}: bad audio: {} of {} samples are NaN or infinite (the first, sample {} at {:.3f} s, is "
      "{}); the file is corrupt or was written from a failed computation: regenerate it or remove "
      "it from the data",
      path, n_bad, mono.size(), at, double(at) / sample_rate, *first));
}

}  // namespace

bool has_audio_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return std::find(kAudioExtensions.begin(), kAudioExtensions.end(), ext) != kAudioExtensions.end();
}

std::string audio_extensions_text() {
  std::string out;
  for (size_t i = 0; i < kAudioExtensions.size(); ++i) {
    if (i > 0) out += i + 1 == kAudioExtensions.size() ? " or " : ", ";
    out += kAudioExtensions[i];
  }
  return out;
}

std::string unreadable_reason(const std::string& path) {
  if (path.empty()) return "empty path";
  std::error_code ec;
  const fs::file_status link = fs::symlink_status(path, ec);
  if (ec || link.type() == fs::file_type::not_found) {
    return ec && ec != std::errc::no_such_file_or_directory ? ec.message() : "no such file";
  }
  const fs::file_status target = fs::status(path, ec);
  if (ec && ec.value() == ELOOP) {
    return "symbolic link loop (" + ec.message() + ")";
  }
  if (fs::is_symlink(link) &&
      (target.type() == fs::file_type::not_found || ec == std::errc::no_such_file_or_directory)) {
    std::error_code ec2;
    const fs::path to = fs::read_symlink(path, ec2);
    return fmt::format("dangling symbolic link (to '{}', which does not exist)",
                       ec2 ? std::string("?") : to.string());
  }
  if (ec) return ec.message();
  if (fs::is_directory(target)) return "is a directory";
  if (!fs::is_regular_file(target)) return "not a regular file";
  return "";
}

FolderListing list_audio_folder(const std::string& folder) {
  FolderListing out;
  std::error_code ec;
  fs::directory_iterator it(folder, ec), end;
  if (ec) {
    throw core::InputError(fmt::format("{}: cannot list the folder: {}", folder, ec.message()));
  }
  std::vector<std::pair<std::string, std::string>> bad;  // (name, reason)
  std::vector<std::string> names;
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!has_audio_extension(name)) continue;
    const std::string reason = unreadable_reason(it->path().string());
    if (reason.empty()) {
      names.push_back(name);
    } else {
      bad.emplace_back(name, reason);
    }
  }
  if (ec) {
    throw core::InputError(fmt::format("{}: cannot list the folder: {}", folder, ec.message()));
  }
  std::sort(names.begin(), names.end());
  std::sort(bad.begin(), bad.end());
  for (const auto& n : names) out.files.push_back((fs::path(folder) / n).string());
  for (const auto& [n, why] : bad)
    out.unreadable.push_back(fmt::format("{}: {}", (fs::path(folder) / n).string(), why));
  return out;
}

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
  check_finite(mono, info.samplerate, path);
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
