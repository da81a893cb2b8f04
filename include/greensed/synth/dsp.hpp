// Small signal-processing pieces the generator is built from: a fast per-clip noise source, RBJ
// biquads, a wavetable oscillator, ITU-R BS.1770 integrated loudness (as pyloudnorm, which Scaper
// uses), fades, a Schroeder reverberator and varispeed resampling. All at the synth rate.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace greensed::synth {

inline constexpr int kSampleRate = 16000;

// xoshiro128+-style generator for audio-rate noise (Philox per sample would dominate the cost);
// seeded from the clip's core::RngStream, so clips stay deterministic.
class Noise {
 public:
  explicit Noise(uint64_t seed);
  uint64_t next_u64() {
    const uint64_t s0 = s_[0];
    uint64_t s1 = s_[1];
    const uint64_t result = s0 + s1;
    s1 ^= s0;
    s_[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
    s_[1] = (s1 << 37) | (s1 >> 27);
    return result;
  }
  float uniform() { return float(next_u64() >> 40) * (1.0f / 16777216.0f); }  // [0, 1)
  float white() { return 3.4641016f * (uniform() - 0.5f); }                   // unit variance
  double uniform(double lo, double hi) { return lo + (hi - lo) * double(uniform()); }
  double gauss();
  // Exponential inter-arrival time of a Poisson process of `rate` per second.
  double exponential(double rate);

 private:
  uint64_t s_[2];
};

struct Biquad {
  float b0 = 1, b1 = 0, b2 = 0, a1 = 0, a2 = 0;
  float z1 = 0, z2 = 0;
  float process(float x) {
    const float y = b0 * x + z1;
    z1 = b1 * x - a1 * y + z2;
    z2 = b2 * x - a2 * y;
    return y;
  }
  void run(std::span<float> x) {
    for (float& v : x) v = process(v);
  }
  // RBJ cookbook designs (f in Hz, fs = kSampleRate unless given). Frequencies are clamped below
  // Nyquist.
  static Biquad lowpass(double f, double q, double fs = kSampleRate);
  static Biquad highpass(double f, double q, double fs = kSampleRate);
  static Biquad bandpass(double f, double q, double fs = kSampleRate);  // 0 dB peak gain
  static Biquad peaking(double f, double q, double gain_db, double fs = kSampleRate);
  static Biquad lowshelf(double f, double gain_db, double fs = kSampleRate);
  static Biquad highshelf(double f, double gain_db, double q = 0.7071, double fs = kSampleRate);
};

// sin(2 pi x) for any x, max error ~1e-3 (cheap enough for per-sample partials).
inline float fast_sin_cycles(double x) {
  float p = float(x - std::floor(x));  // [0, 1)
  p = p < 0.5f ? p : p - 1.0f;         // [-0.5, 0.5)
  const float y = 8.0f * p - 16.0f * p * std::fabs(p);
  return 0.225f * (y * std::fabs(y) - y) + y;
}

// A single-cycle wavetable of given harmonic amplitudes (amps[k-1] for harmonic k).
class Wavetable {
 public:
  explicit Wavetable(std::span<const float> harmonic_amps);
  float at(double phase) const {  // phase in cycles
    const double p = (phase - std::floor(phase)) * kSize;
    const int i = int(p);
    const float f = float(p - i);
    return table_[i] + f * (table_[i + 1] - table_[i]);
  }

 private:
  static constexpr int kSize = 2048;
  std::vector<float> table_;
};

// Harmonic amplitudes 1/k^slope, cut so that k * f0_max stays below f_limit.
std::vector<float> harmonic_amps(double f0_max, double slope, double f_limit = 7600.0);

double rms(std::span<const float> x);
void scale(std::span<float> x, float gain);
void add_scaled(std::span<float> dst, std::span<const float> src, float gain);

// Integrated loudness in LUFS (BS.1770-4: K-weighting, 400 ms blocks at 75 % overlap, -70 LUFS
// absolute and -10 LU relative gates). Shorter than 0.5 s: tiled to 0.5 s first. Silence: -70.
double integrated_loudness(std::span<const float> x, int fs = kSampleRate);

// Quarter-sine fade-in and fade-out of `seconds` each (Scaper's 10 ms).
void apply_fades(std::span<float> x, double seconds, int fs = kSampleRate);

// Adds a Schroeder reverberation (4 combs, 2 all-passes) of the given RT60 to x in place with the
// direct-to-reverberant ratio `drr_db`.
void add_reverb(std::span<float> x, double rt60, double drr_db, int fs = kSampleRate);

// Varispeed: reads `in` at `rate` input samples per output sample (linear interpolation); pitch
// and speed change together, as a tape played faster.
std::vector<float> varispeed(std::span<const float> in, double rate);

// Time-stretch by `factor` (output length = factor x input) without changing pitch (WSOLA with
// 40 ms frames, 50 % overlap, +-10 ms similarity search).
std::vector<float> time_stretch(std::span<const float> in, double factor);

}  // namespace greensed::synth
