// Audio input: decode (libsndfile), mix to mono, resample (libsoxr), pad / crop.
//
// Mirrors the reference's runtime reading (spec desed_baseline §1.2): float32 samples as
// torchaudio.load gives them (integer PCM scaled to [-1, 1), float files unchanged), mono = mean
// over channels, no normalisation of any kind, zero padding at the end, random crop for training
// and start-at-0 for evaluation. The reference resamples offline (librosa); greensed resamples
// once, with libsoxr SOXR_HQ, on the way into the feature cache. Channels are mixed before
// resampling (both steps are linear, so the order changes only float rounding) to resample once,
// not per channel.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "greensed/core/rng.hpp"

namespace greensed::audio {

inline constexpr int kSampleRate = 16000;  // the reference's working rate

// The file extensions greensed reads as audio (compared without regard to case). The one list:
// the label tables, `greensed features`, `greensed infer`, training and the synthesiser all use it.
inline constexpr std::array<std::string_view, 4> kAudioExtensions = {".wav", ".flac", ".ogg",
                                                                     ".oga"};

// Whether `path` ends in one of kAudioExtensions (any case).
bool has_audio_extension(const std::string& path);

// "wav, flac, ogg or oga", for messages.
std::string audio_extensions_text();

// The audio files directly in a folder (not recursive, like the reference's glob).
struct FolderListing {
  std::vector<std::string> files;       // folder/name of each regular audio file, sorted by name
  std::vector<std::string> unreadable;  // "folder/name: reason" for each audio-named entry that is
                                        // not a readable file (dangling symlink, symlink loop,
                                        // directory, permission denied), sorted
};

// Lists `folder` without ever throwing std::filesystem_error: entries whose name has an audio
// extension but that cannot be opened as a file are listed in `unreadable` with the system's
// reason. Throws core::InputError naming the folder when it cannot be listed at all.
FolderListing list_audio_folder(const std::string& folder);

// Why `path` cannot be opened as a file ("no such file", "dangling symbolic link to 'x'",
// "symbolic link loop (too many levels of symbolic links)", "is a directory", ...), or "" when it
// is a regular file (after following links).
std::string unreadable_reason(const std::string& path);

struct AudioInfo {
  int sample_rate = 0;
  int n_channels = 0;
  int64_t n_frames = 0;  // samples per channel
};

// Header only. Throws core::InputError "<path>: cannot read audio: <libsndfile's reason>".
AudioInfo probe(const std::string& path);

// Decodes every channel and mixes to mono (mean over channels); `*sample_rate` receives the file's
// rate. Throws core::InputError naming the file and the reason for a missing, unreadable, corrupt,
// cut short (a WAV whose data chunk is shorter than its header says) or empty (zero samples) file,
// and for a file holding a NaN or infinite sample (it would poison every feature and loss computed
// from it; the message gives how many and where the first one is).
std::vector<float> decode_mono(const std::string& path, int* sample_rate);

// Resamples with libsoxr (SOXR_HQ, float32, one thread); returns `x` unchanged when the rates are
// equal. The output has round(n · to / from) samples, aligned with the input (soxr's filter delay
// is removed).
std::vector<float> resample(std::span<const float> x, int from_rate, int to_rate);

// decode_mono, then resample to `target_rate` when the file is at another rate.
std::vector<float> load_mono(const std::string& path, int target_rate = kSampleRate);

// Zero-pads at the end or crops the tail so that x.size() == n_samples (evaluation: start at 0).
void pad_or_crop(std::vector<float>& x, int64_t n_samples);

// Training read (spec §1.2): shorter clips are zero-padded at the end (returns 0); longer clips are
// cropped at start = rng.randint(0, N − n_samples) (both ends included, as Python's random.randint)
// and the returned onset shift is round(start / sample_rate, 3) seconds, by which strong labels
// move.
double random_crop(std::vector<float>& x, int64_t n_samples, int sample_rate, core::RngStream& rng);
// Python's round(start_sample / sample_rate, 3): the onset shift random_crop returns.
double crop_onset_seconds(int64_t start_sample, int sample_rate);

enum class WavFormat { kPcm16, kFloat32 };

// Writes a mono or interleaved multi-channel WAV (tests, tools). Throws core::InputError on
// failure.
void write_wav(const std::string& path, std::span<const float> interleaved, int n_channels,
               int sample_rate, WavFormat format = WavFormat::kPcm16);

}  // namespace greensed::audio
