// Linear-magnitude mel spectrogram, exactly torchaudio.transforms.MelSpectrogram with the 2022
// recipe's settings (spec desed_baseline §2.1):
//   STFT n_fft 2048, win_length 2048, hop 256, window torch.hamming_window(2048, periodic=False)
//   (symmetric: w[n] = 0.54 − 0.46·cos(2πn/(N−1))), center=True with reflect padding of n_fft/2
//   (mirror without repeating the edge sample), onesided (n_fft/2+1 = 1025 bins), power 1 (|X|),
//   not normalised; 128 HTK mel triangles from f_min 0 to f_max 8000 Hz, no area normalisation
//   (torchaudio melscale_fbanks, computed in float32). Frames: 1 + floor(N / hop) (626 for 10 s).
//
// Clips shorter than n_fft/2 + 1 samples: torch's reflect pad refuses them. The reference never
// meets them because it pads every clip to 10 s first (do the same: audio::pad_or_crop). For raw
// short input greensed reflects repeatedly, i.e. numpy.pad(x, n_fft/2, mode="reflect"), which is
// identical to torch whenever torch accepts the input; a one-sample clip is repeated.
//
// Layouts: a mel spectrogram is [F, T] row-major (F = n_mels, T = frames), a batch [B, F, T].
//
// Precision: the window and the filterbank are torch's float32 values (built with torch's float32
// arithmetic, no fused multiply-adds); input and output are float32. The FFT itself runs in double
// precision (FFTW3 "fftw3", not "fftw3f"): a float32 FFT's rounding noise, ~1e-7 of a frame's
// energy, moves mel bands 100 dB below a frame's peak by up to 2e-2 dB (torch's own float32 STFT
// is 1.6e-2 dB from the exact result on a sine sweep), which misses the 1e-3 dB parity target;
// the double FFT is within 1.1e-4 dB of a float64 reference and costs about 20 % more time.
// FFTW plans are made once per process and n_fft (FFTW_MEASURE, serialised by a global mutex) and
// executed with new-array execution on per-call buffers, so one extractor serves any number of
// threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "greensed/core/config.hpp"

namespace greensed::features {

struct MelSettings {
  int sample_rate = 16000;
  int n_fft = 2048;  // = win_length (feats.n_window)
  int hop_length = 256;
  int n_mels = 128;
  double f_min = 0.0;
  double f_max = 8000.0;

  int n_freqs() const { return n_fft / 2 + 1; }
  // 1 + floor(n_samples / hop): frames of a centred STFT.
  int64_t n_frames(int64_t n_samples) const { return 1 + n_samples / hop_length; }
  bool operator==(const MelSettings&) const = default;
};

MelSettings mel_settings_from(const core::FeatsConfig& feats);

// A stable 64-bit hash (FNV-1a over the canonical text of the settings), used by the cache.
uint64_t settings_hash(const MelSettings& s);
std::string settings_text(const MelSettings& s);

// torch.hamming_window(n, periodic=False) in float32.
std::vector<float> hamming_window_symmetric(int n);

// A triangle of the filterbank: weights for bins [first_bin, first_bin + weights.size()).
struct MelBand {
  int first_bin = 0;
  std::vector<float> weights;
};

// torchaudio melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm=None, "htk") in
// float32 as a dense [n_freqs, n_mels] matrix (torchaudio's layout).
std::vector<float> mel_filterbank(const MelSettings& s);
// The same from the textbook formula in double precision (test oracle).
std::vector<double> mel_filterbank_reference(const MelSettings& s);
// The non-zero run of each column of a dense [n_freqs, n_mels] filterbank.
std::vector<MelBand> mel_bands_from_dense(std::span<const float> fb, int n_freqs, int n_mels);

// Reflect-pads x by `pad` on both sides (numpy "reflect", repeated for pad >= x.size()).
std::vector<float> reflect_pad(std::span<const float> x, int pad);

// Kernels on buffers (no allocation inside the loops, no logging).
// mel[m · mel_stride + t] = Σ_k band_m.weights[k] · mag[t · n_freqs + first_bin_m + k]
// (`=`, not `+=`). mag: [T, n_freqs] row-major; mel: F rows of T values, rows `mel_stride` apart
// (mel_stride = T for a whole [F, T] spectrogram, larger when filling a block of frames).
void mel_apply_bands(std::span<const MelBand> bands, const float* mag, int n_freqs,
                     int64_t n_frames, float* mel, int64_t mel_stride);
// Dense plain-loop twin (double accumulation): fb [n_freqs, n_mels].
void mel_apply_reference(const float* fb, int n_mels, const float* mag, int n_freqs,
                         int64_t n_frames, float* mel, int64_t mel_stride);

// |STFT| by a plain DFT in double precision with the same float32 window (test oracle for the FFT):
// returns [T, n_freqs].
std::vector<double> stft_magnitude_reference(std::span<const float> x, const MelSettings& s);

class MelExtractor {
 public:
  explicit MelExtractor(const MelSettings& settings = {});
  ~MelExtractor();
  MelExtractor(const MelExtractor&) = delete;
  MelExtractor& operator=(const MelExtractor&) = delete;

  const MelSettings& settings() const { return settings_; }
  const std::vector<MelBand>& bands() const { return bands_; }
  const std::vector<float>& window() const { return window_; }

  // |STFT| of x: returns [T, n_freqs] (T = settings().n_frames(x.size())). Thread-safe.
  std::vector<float> stft_magnitude(std::span<const float> x) const;
  // Linear mel of x into mel [F, T]; `mel.size()` must be n_mels · n_frames(x.size()). Thread-safe.
  void compute(std::span<const float> x, std::span<float> mel) const;
  std::vector<float> compute(std::span<const float> x) const;

 private:
  struct Plan;
  MelSettings settings_;
  std::vector<float> window_;
  std::vector<double> window_f64_;  // the float32 window widened, as the FFT runs in double
  std::vector<MelBand> bands_;
  std::unique_ptr<Plan> plan_;
};

}  // namespace greensed::features
