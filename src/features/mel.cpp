#include "greensed/features/mel.hpp"

#include <fftw3.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>

#include "greensed/core/error.hpp"

namespace greensed::features {
namespace {

constexpr int kBlockFrames = 16;  // frames transformed per FFTW call (one plan_many execution)

// torch.linspace for float32 (ATen's CPU kernel): the first half counts up from start, the second
// half down from end, with a float32 step.
std::vector<float> linspace_f32(double start, double end, int steps) {
  std::vector<float> out(steps);
  if (steps == 1) {
    out[0] = float(start);
    return out;
  }
  const float fs = float(start), fe = float(end);
  const float step = (fe - fs) / float(steps - 1);
  const int halfway = steps / 2;
  for (int i = 0; i < steps; ++i) {
    out[i] = i < halfway ? fs + step * float(i) : fe - step * float(steps - i - 1);
  }
  return out;
}

double hz_to_mel_htk(double hz) {
  return 2595.0 * std::log10(1.0 + hz / 700.0);
}
double mel_to_hz_htk(double mel) {
  return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
}

// FFTW planning is not thread-safe and MEASURE planning is slow: plans are made once per process
// per n_fft, under this mutex, and never destroyed.
struct Plans {
  fftw_plan block = nullptr;  // kBlockFrames real frames -> half spectra
};
std::mutex g_plan_mutex;

Plans plans_for(int n_fft) {
  // Never destroyed (plans outlive every extractor, also at exit), and reachable for leak checkers.
  static auto* cache = new std::map<int, Plans>;
  std::lock_guard lock(g_plan_mutex);
  auto it = cache->find(n_fft);
  if (it != cache->end()) return it->second;
  const int n_freqs = n_fft / 2 + 1;
  double* in = fftw_alloc_real(size_t(kBlockFrames) * n_fft);
  fftw_complex* out = fftw_alloc_complex(size_t(kBlockFrames) * n_freqs);
  Plans p;
  p.block = fftw_plan_many_dft_r2c(1, &n_fft, kBlockFrames, in, nullptr, 1, n_fft, out, nullptr, 1,
                                   n_freqs, FFTW_MEASURE | FFTW_DESTROY_INPUT);
  fftw_free(in);
  fftw_free(out);
  GREENSED_CHECK(p.block != nullptr, "FFTW could not plan an r2c transform of size {}", n_fft);
  cache->emplace(n_fft, p);
  return p;
}

struct FftwFree {
  void operator()(void* p) const { fftw_free(p); }
};
template <class T>
using FftwBuffer = std::unique_ptr<T[], FftwFree>;

}  // namespace

MelSettings mel_settings_from(const core::FeatsConfig& feats) {
  MelSettings s;
  s.sample_rate = feats.sample_rate;
  s.n_fft = feats.n_window;
  s.hop_length = feats.hop_length;
  s.n_mels = feats.n_mels;
  s.f_min = feats.f_min;
  s.f_max = feats.f_max;
  return s;
}

std::string settings_text(const MelSettings& s) {
  return fmt::format(
      "mel v1: sample_rate={} n_fft={} win_length={} hop_length={} n_mels={} f_min={} f_max={} "
      "window=hamming_symmetric center=reflect power=1 mel_scale=htk norm=none stft=fftw_double",
      s.sample_rate, s.n_fft, s.n_fft, s.hop_length, s.n_mels, s.f_min, s.f_max);
}

uint64_t settings_hash(const MelSettings& s) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : settings_text(s)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<float> hamming_window_symmetric(int n) {
  std::vector<float> w(n, 1.0f);
  if (n == 1) return w;
  // torch: arange(N).mul(2π/(N−1)).cos().mul(−0.46).add(0.54), every step rounded to float32;
  // the cosine is taken in double and rounded (correctly rounded, as the golden script does).
  const float scale = float(2.0 * std::numbers::pi / double(n - 1));
  for (int k = 0; k < n; ++k) {
    const float c = float(std::cos(double(float(k) * scale)));
    w[k] = c * -0.46f + 0.54f;
  }
  return w;
}

std::vector<float> mel_filterbank(const MelSettings& s) {
  const int n_freqs = s.n_freqs(), n_mels = s.n_mels;
  const auto all_freqs = linspace_f32(0.0, double(s.sample_rate / 2), n_freqs);
  const auto m_pts = linspace_f32(hz_to_mel_htk(s.f_min), hz_to_mel_htk(s.f_max), n_mels + 2);
  std::vector<float> f_pts(n_mels + 2);
  for (int i = 0; i < n_mels + 2; ++i) {
    f_pts[i] = 700.0f * (std::pow(10.0f, m_pts[i] / 2595.0f) - 1.0f);
  }
  std::vector<float> fb(size_t(n_freqs) * n_mels);
  for (int k = 0; k < n_freqs; ++k) {
    for (int m = 0; m < n_mels; ++m) {
      const float down = (-1.0f * (f_pts[m] - all_freqs[k])) / (f_pts[m + 1] - f_pts[m]);
      const float up = (f_pts[m + 2] - all_freqs[k]) / (f_pts[m + 2] - f_pts[m + 1]);
      fb[size_t(k) * n_mels + m] = std::max(0.0f, std::min(down, up));
    }
  }
  return fb;
}

std::vector<double> mel_filterbank_reference(const MelSettings& s) {
  const int n_freqs = s.n_freqs(), n_mels = s.n_mels;
  const double mel_lo = hz_to_mel_htk(s.f_min), mel_hi = hz_to_mel_htk(s.f_max);
  std::vector<double> fb(size_t(n_freqs) * n_mels);
  for (int m = 0; m < n_mels; ++m) {
    const double left = mel_to_hz_htk(mel_lo + (mel_hi - mel_lo) * m / (n_mels + 1));
    const double centre = mel_to_hz_htk(mel_lo + (mel_hi - mel_lo) * (m + 1) / (n_mels + 1));
    const double right = mel_to_hz_htk(mel_lo + (mel_hi - mel_lo) * (m + 2) / (n_mels + 1));
    for (int k = 0; k < n_freqs; ++k) {
      const double f = double(s.sample_rate / 2) * k / (n_freqs - 1);
      double w = 0.0;
      if (f > left && f <= centre) w = (f - left) / (centre - left);
      if (f > centre && f < right) w = (right - f) / (right - centre);
      fb[size_t(k) * n_mels + m] = w;
    }
  }
  return fb;
}

std::vector<MelBand> mel_bands_from_dense(std::span<const float> fb, int n_freqs, int n_mels) {
  GREENSED_CHECK(fb.size() == size_t(n_freqs) * n_mels, "filterbank size {} vs [{}, {}]", fb.size(),
                 n_freqs, n_mels);
  std::vector<MelBand> bands(n_mels);
  for (int m = 0; m < n_mels; ++m) {
    int first = -1, last = -1;
    for (int k = 0; k < n_freqs; ++k) {
      if (fb[size_t(k) * n_mels + m] != 0.0f) {
        if (first < 0) first = k;
        last = k;
      }
    }
    if (first < 0) continue;  // an empty triangle (too many mels for the FFT size) stays empty
    bands[m].first_bin = first;
    for (int k = first; k <= last; ++k) bands[m].weights.push_back(fb[size_t(k) * n_mels + m]);
  }
  return bands;
}

std::vector<float> reflect_pad(std::span<const float> x, int pad) {
  const int64_t n = int64_t(x.size());
  GREENSED_CHECK(n > 0, "reflect_pad of an empty signal");
  std::vector<float> out(n + 2 * int64_t(pad));
  const int64_t period = 2 * (n - 1);
  auto source = [&](int64_t j) {
    if (n == 1) return int64_t(0);
    j = std::abs(j) % period;
    return j < n ? j : period - j;
  };
  for (int64_t i = 0; i < pad; ++i) {
    out[i] = x[source(i - pad)];
    out[pad + n + i] = x[source(n + i)];
  }
  std::copy(x.begin(), x.end(), out.begin() + pad);
  return out;
}

void mel_apply_bands(std::span<const MelBand> bands, const float* mag, int n_freqs,
                     int64_t n_frames, float* mel, int64_t mel_stride) {
  for (size_t m = 0; m < bands.size(); ++m) {
    const float* w = bands[m].weights.data();
    const int n_w = int(bands[m].weights.size());
    float* row = mel + int64_t(m) * mel_stride;
    for (int64_t t = 0; t < n_frames; ++t) {
      const float* spectrum = mag + t * n_freqs + bands[m].first_bin;
      float sum = 0.0f;
      for (int k = 0; k < n_w; ++k) sum += w[k] * spectrum[k];
      row[t] = sum;
    }
  }
}

void mel_apply_reference(const float* fb, int n_mels, const float* mag, int n_freqs,
                         int64_t n_frames, float* mel, int64_t mel_stride) {
  for (int m = 0; m < n_mels; ++m) {
    for (int64_t t = 0; t < n_frames; ++t) {
      double sum = 0.0;
      for (int k = 0; k < n_freqs; ++k) {
        sum += double(fb[size_t(k) * n_mels + m]) * mag[t * n_freqs + k];
      }
      mel[m * mel_stride + t] = float(sum);
    }
  }
}

std::vector<double> stft_magnitude_reference(std::span<const float> x, const MelSettings& s) {
  const int n_fft = s.n_fft, n_freqs = s.n_freqs();
  const auto padded = reflect_pad(x, n_fft / 2);
  const int64_t n_frames = s.n_frames(int64_t(x.size()));
  const auto window = hamming_window_symmetric(n_fft);
  std::vector<double> mag(size_t(n_frames) * n_freqs);
  for (int64_t t = 0; t < n_frames; ++t) {
    for (int k = 0; k < n_freqs; ++k) {
      double re = 0.0, im = 0.0;
      for (int n = 0; n < n_fft; ++n) {
        const double v = double(window[n]) * padded[t * s.hop_length + n];
        // exact argument reduction: k·n mod n_fft keeps the angle small
        const double angle = 2.0 * std::numbers::pi * double((int64_t(k) * n) % n_fft) / n_fft;
        re += v * std::cos(angle);
        im -= v * std::sin(angle);
      }
      mag[t * n_freqs + k] = std::hypot(re, im);
    }
  }
  return mag;
}

struct MelExtractor::Plan {
  Plans plans;
};

MelExtractor::MelExtractor(const MelSettings& settings)
    : settings_(settings), window_(hamming_window_symmetric(settings.n_fft)) {
  window_f64_.assign(window_.begin(), window_.end());
  GREENSED_CHECK(settings.n_fft >= 2 && settings.hop_length >= 1 && settings.n_mels >= 1,
                 "mel settings n_fft {} hop {} n_mels {}", settings.n_fft, settings.hop_length,
                 settings.n_mels);
  bands_ = mel_bands_from_dense(mel_filterbank(settings_), settings_.n_freqs(), settings_.n_mels);
  plan_ = std::make_unique<Plan>(Plan{plans_for(settings_.n_fft)});
}

MelExtractor::~MelExtractor() = default;

namespace {

// Runs `fn(t0, n_valid, mag)` for consecutive blocks of frames, mag = [n_valid, n_freqs] of |STFT|.
template <class Fn>
void for_each_magnitude_block(std::span<const float> x, const MelSettings& s,
                              const std::vector<double>& window, fftw_plan plan, Fn&& fn) {
  const int n_fft = s.n_fft, n_freqs = s.n_freqs(), hop = s.hop_length;
  const auto padded = reflect_pad(x, n_fft / 2);
  const int64_t n_frames = s.n_frames(int64_t(x.size()));
  FftwBuffer<double> in(fftw_alloc_real(size_t(kBlockFrames) * n_fft));
  FftwBuffer<fftw_complex> out(fftw_alloc_complex(size_t(kBlockFrames) * n_freqs));
  std::vector<float> mag(size_t(kBlockFrames) * n_freqs);
  const double* w = window.data();
  for (int64_t t0 = 0; t0 < n_frames; t0 += kBlockFrames) {
    const int n_valid = int(std::min<int64_t>(kBlockFrames, n_frames - t0));
    for (int b = 0; b < kBlockFrames; ++b) {
      double* frame = in.get() + size_t(b) * n_fft;
      if (b < n_valid) {
        const float* src = padded.data() + (t0 + b) * hop;
        for (int n = 0; n < n_fft; ++n) frame[n] = w[n] * double(src[n]);
      } else {
        std::fill(frame, frame + n_fft, 0.0);
      }
    }
    fftw_execute_dft_r2c(plan, in.get(), out.get());
    const double* spec = reinterpret_cast<const double*>(out.get());
    for (size_t i = 0; i < size_t(n_valid) * n_freqs; ++i) {
      const double re = spec[2 * i], im = spec[2 * i + 1];
      mag[i] = float(std::sqrt(re * re + im * im));
    }
    fn(t0, n_valid, mag.data());
  }
}

}  // namespace

std::vector<float> MelExtractor::stft_magnitude(std::span<const float> x) const {
  const int n_freqs = settings_.n_freqs();
  std::vector<float> result(size_t(settings_.n_frames(int64_t(x.size()))) * n_freqs);
  for_each_magnitude_block(x, settings_, window_f64_, plan_->plans.block,
                           [&](int64_t t0, int n_valid, const float* mag) {
                             std::copy(mag, mag + size_t(n_valid) * n_freqs,
                                       result.begin() + t0 * n_freqs);
                           });
  return result;
}

void MelExtractor::compute(std::span<const float> x, std::span<float> mel) const {
  const int64_t n_frames = settings_.n_frames(int64_t(x.size()));
  GREENSED_CHECK(mel.size() == size_t(settings_.n_mels) * n_frames,
                 "mel buffer holds {} values; [{}, {}] needs {}", mel.size(), settings_.n_mels,
                 n_frames, size_t(settings_.n_mels) * n_frames);
  for_each_magnitude_block(x, settings_, window_f64_, plan_->plans.block,
                           [&](int64_t t0, int n_valid, const float* mag) {
                             mel_apply_bands(bands_, mag, settings_.n_freqs(), n_valid,
                                             mel.data() + t0, n_frames);
                           });
}

std::vector<float> MelExtractor::compute(std::span<const float> x) const {
  std::vector<float> mel(size_t(settings_.n_mels) * settings_.n_frames(int64_t(x.size())));
  compute(x, mel);
  return mel;
}

}  // namespace greensed::features
