// Recipes of spec data.md §2.6, one function per class. Parameters are drawn per event from the
// ranges of the recipe; `pitch` scales every frequency and `stretch` every internal duration.
#include "greensed/synth/procedural.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace greensed::synth {
namespace {

constexpr double kFs = kSampleRate;
constexpr int kControl = 16;  // control-rate block (1 ms)

float db_to_gain(double db) {
  return float(std::pow(10.0, db / 20.0));
}

void normalize_rms(std::span<float> x) {
  const double r = rms(x);
  if (r > 0) scale(x, float(1.0 / r));
}

// Pink noise (Paul Kellet's economy filter).
void pink(Noise& n, std::span<float> out) {
  float b0 = 0, b1 = 0, b2 = 0;
  for (float& v : out) {
    const float w = n.white();
    b0 = 0.99765f * b0 + w * 0.0990460f;
    b1 = 0.96300f * b1 + w * 0.2965164f;
    b2 = 0.57000f * b2 + w * 1.0526913f;
    v = b0 + b1 + b2 + w * 0.1848f;
  }
}

void brown(Noise& n, std::span<float> out) {
  float s = 0;
  for (float& v : out) {
    s = 0.995f * s + 0.1f * n.white();
    v = s;
  }
}

void white(Noise& n, std::span<float> out) {
  for (float& v : out) v = n.white();
}

// Onset ramp and release shared by the sustained classes.
void on_off_ramps(std::span<float> x, const EventStyle& s, double attack, double release) {
  const size_t n = x.size();
  if (s.has_onset) {
    const size_t a = std::min(n / 2, size_t(attack * kFs));
    for (size_t i = 0; i < a; ++i) x[i] *= float(i) / float(a);
  }
  if (s.has_offset) {
    const size_t r = std::min(n / 2, size_t(release * kFs));
    for (size_t i = 0; i < r; ++i) x[n - 1 - i] *= float(i) / float(r);
  }
}

// Slow amplitude modulation in dB (sinusoid of `rate` Hz, +-depth_db/2), at control rate.
void slow_am(std::span<float> x, double rate, double depth_db, double phase0) {
  for (size_t i = 0; i < x.size(); i += kControl) {
    const double t = double(i) / kFs;
    const float g = db_to_gain(0.5 * depth_db * std::sin(2 * M_PI * (rate * t + phase0)));
    for (size_t j = i; j < std::min(x.size(), i + kControl); ++j) x[j] *= g;
  }
}

// A harmonic source following an f0 contour (Hz per sample, computed by `f0_at`).
template <class F0>
void harmonic(const Wavetable& table, std::span<float> out, F0&& f0_at) {
  double phase = 0.0;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = table.at(phase);
    phase += f0_at(i) / kFs;
  }
}

// Adds a damped sinusoid (frequency f rising by `chirp` relative over its life) at `start`.
void add_partial(std::span<float> out, size_t start, double f, double tau, float amp,
                 double chirp = 0.0, double phase = 0.0) {
  const size_t len = std::min(out.size() - std::min(out.size(), start), size_t(5.0 * tau * kFs));
  const float decay = float(std::exp(-1.0 / (tau * kFs)));
  float env = amp;
  double ph = phase;
  const double df = chirp * f / std::max<double>(1.0, double(len));
  double fi = f;
  for (size_t i = 0; i < len; ++i) {
    out[start + i] += env * fast_sin_cycles(ph);
    ph += fi / kFs;
    fi += df;
    env *= decay;
  }
}

// Adds a short noise burst (click) filtered by `filter` at `start`.
void add_burst(Noise& n, std::span<float> out, size_t start, size_t len, float amp, Biquad filter,
               double tau_s) {
  const float decay = float(std::exp(-1.0 / std::max(1.0, tau_s * kFs)));
  float env = amp;
  for (size_t i = 0; i < len && start + i < out.size(); ++i) {
    out[start + i] += env * filter.process(n.white());
    env *= decay;
  }
}

// ---- long, motor-like classes
// --------------------------------------------------------------------

void vacuum(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  std::vector<float> air(N), hiss(N), motor(N);
  pink(n, air);
  Biquad::bandpass(n.uniform(500, 1500) * s.pitch, n.uniform(0.5, 1.2)).run(air);
  normalize_rms(air);
  white(n, hiss);
  Biquad::highpass(3000, 0.7).run(hiss);
  normalize_rms(hiss);
  const double f0 = n.uniform(150, 400) * s.pitch;
  const Wavetable table(harmonic_amps(f0 * 1.1, 1.0));
  const double spin_up = n.uniform(0.5, 1.5) * s.stretch, spin_down = n.uniform(1.0, 2.5);
  // Blocked-nozzle episodes: f0 up 5-10 %.
  std::vector<std::pair<size_t, size_t>> blocked;
  for (double t = n.exponential(0.2); t < N / kFs; t += n.exponential(0.2)) {
    blocked.push_back({size_t(t * kFs), size_t((t + n.uniform(0.3, 1.0) * s.stretch) * kFs)});
  }
  const double block_up = n.uniform(1.05, 1.10);
  double jitter = 0.0;
  const double whine_ratio = n.uniform(6, 12);
  double whine_phase = 0.0;
  harmonic(table, motor, [&](size_t i) {
    if (i % kControl == 0) jitter = 0.999 * jitter + 0.0015 * n.white();
    double f = f0 * (1.0 + std::clamp(jitter, -0.02, 0.02));
    const double t = double(i) / kFs, left = double(N - i) / kFs;
    if (s.has_onset && t < spin_up) f *= 0.3 + 0.7 * t / spin_up;
    if (s.has_offset && left < spin_down) f *= std::exp(-2.0 * (spin_down - left) / spin_down);
    for (const auto& [a, b] : blocked) {
      if (i >= a && i < b) f *= block_up;
    }
    return f;
  });
  for (size_t i = 0; i < N; ++i) {  // blade whine, one narrow partial
    motor[i] += 0.08f * fast_sin_cycles(whine_phase);
    whine_phase += whine_ratio * f0 / kFs;
  }
  normalize_rms(motor);
  const float hnr = db_to_gain(n.uniform(-10, 0));
  const float hiss_gain = db_to_gain(n.uniform(-20, -10));
  for (size_t i = 0; i < N; ++i) out[i] = air[i] + hiss_gain * hiss[i] + hnr * motor[i];
  slow_am(out, n.uniform(0.1, 0.6) / s.stretch, n.uniform(2, 8), n.uniform());
  on_off_ramps(out, s, spin_up, spin_down);
}

void blender(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  const double f0 = n.uniform(180, 500) * s.pitch;
  const Wavetable table(harmonic_amps(f0, 0.8, 4000.0));
  // Load dips: f0 drops 10-30 % at Poisson instants, recovers with tau 100-300 ms.
  const double dip_rate = n.uniform(1, 4) / s.stretch, tau = n.uniform(0.1, 0.3);
  double load = 0.0, next_dip = n.exponential(dip_rate);
  const float recover = float(std::exp(-1.0 / (tau * kFs)));
  std::vector<float> motor(N);
  harmonic(table, motor, [&](size_t i) {
    const double t = double(i) / kFs;
    if (t >= next_dip) {
      load = n.uniform(0.10, 0.30);
      next_dip = t + n.exponential(dip_rate);
    }
    load *= recover;
    return f0 * (1.0 - load);
  });
  Biquad::peaking(n.uniform(800, 2500), 2.0, 10.0).run(motor);
  normalize_rms(motor);
  std::vector<float> noise(N);
  white(n, noise);
  Biquad::lowpass(5000, 0.7).run(noise);
  normalize_rms(noise);
  const float nr = db_to_gain(-n.uniform(5, 15));
  for (size_t i = 0; i < N; ++i) out[i] = motor[i] + nr * noise[i];
  // Chunk impacts, thinning out over time.
  const double rate0 = n.uniform(3, 15);
  for (double t = n.exponential(rate0); t < N / kFs;
       t += n.exponential(std::max(0.3, rate0 * std::exp(-t / 2.0)))) {
    add_burst(n, out, size_t(t * kFs), size_t(n.uniform(0.015, 0.06) * kFs),
              float(n.uniform(1.0, 3.0)), Biquad::bandpass(n.uniform(1000, 4000), 2.0), 0.02);
  }
  if (n.uniform() < 0.3) {  // pulse mode: on/off bursts
    bool on = true;
    size_t i = 0;
    while (i < N) {
      const size_t len = size_t(n.uniform(0.5, 2.0) * s.stretch * kFs);
      if (!on) {
        for (size_t j = i; j < std::min(N, i + len); ++j) out[j] *= 0.03f;
      }
      i += len;
      on = !on;
    }
  }
  on_off_ramps(out, s, 0.15, 0.3);
}

void shaver(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  const bool toothbrush = n.uniform() < 0.5;
  double f0;
  if (toothbrush) {
    f0 = n.uniform(200, 300);
  } else {
    f0 = n.uniform() < 0.5 ? (n.uniform() < 0.5 ? 100.0 : 120.0) : n.uniform(50, 90);
  }
  f0 *= s.pitch;
  const Wavetable table(harmonic_amps(f0, 0.6));
  harmonic(table, out, [&](size_t) { return f0; });
  Biquad::highpass(150, 0.7).run(out);
  Biquad::peaking(n.uniform(1500, 5000), 3.0, 12.0).run(out);
  normalize_rms(out);
  std::vector<float> layer(N, 0.0f);
  if (toothbrush) {  // wet brushing noise
    white(n, layer);
    Biquad::bandpass(n.uniform(1000, 3000), 1.0).run(layer);
  } else {  // cutting crackle above 4 kHz
    const double rate = n.uniform(20, 200);
    Biquad hp = Biquad::highpass(4000, 0.7);
    for (double t = n.exponential(rate); t < N / kFs; t += n.exponential(rate)) {
      add_burst(n, layer, size_t(t * kFs), 16, float(n.uniform(0.5, 2.0)), hp, 0.0005);
    }
  }
  normalize_rms(layer);
  add_scaled(out, layer, db_to_gain(n.uniform(-12, -4)));
  slow_am(out, n.uniform(1, 4) / s.stretch, n.uniform(3, 10), n.uniform());
  on_off_ramps(out, s, 0.05, 0.1);
}

// ---- broadband textures

void frying(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  std::fill(out.begin(), out.end(), 0.0f);
  const double rate0 = n.uniform(80, 600), drift = n.uniform(0.05, 0.3) / s.stretch;
  const double sigma = n.uniform(0.6, 1.2), drift_phase = n.uniform();
  Biquad hp = Biquad::highpass(n.uniform(2000, 4000) * std::min(s.pitch, 1.5), 0.7);
  for (double t = 0.0;;) {
    const double rate = rate0 * (1.0 + 0.5 * std::sin(2 * M_PI * (drift * t + drift_phase)));
    t += n.exponential(std::max(rate, 10.0));
    if (t >= N / kFs) break;
    const float amp = float(std::exp(sigma * n.gauss()));
    const size_t len = size_t(n.uniform(0.0003, 0.003) * kFs) + 1;
    add_burst(n, out, size_t(t * kFs), len, amp, hp, 0.001);
  }
  const double pop_rate = n.uniform(0.5, 4) / s.stretch;
  for (double t = n.exponential(pop_rate); t < N / kFs; t += n.exponential(pop_rate)) {
    add_partial(out, size_t(t * kFs), n.uniform(1000, 3000) * s.pitch, n.uniform(0.005, 0.02),
                float(n.uniform(1.0, 4.0)));
  }
  normalize_rms(out);
  std::vector<float> hiss(N);
  white(n, hiss);
  Biquad::highpass(3000, 0.7).run(hiss);
  normalize_rms(hiss);
  add_scaled(out, hiss, db_to_gain(-15 + n.uniform(-3, 3)));
  on_off_ramps(out, s, 0.3, 0.5);
}

void running_water(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  pink(n, out);
  Biquad::highpass(150, 0.7).run(out);
  Biquad::lowpass(5000 * std::min(s.pitch, 1.4), 0.7).run(out);
  Biquad::highshelf(1000, -n.uniform(3, 6), 0.7).run(out);  // spectral tilt
  normalize_rms(out);
  std::vector<float> bubbles(N, 0.0f);
  const double rate = n.uniform(100, 1500);
  for (double t = n.exponential(rate); t < N / kFs; t += n.exponential(rate)) {
    const double f = n.uniform(300, 3000) * s.pitch;
    const float amp = float(std::sqrt(1000.0 / f) * n.uniform(0.3, 1.0));  // bigger = louder, lower
    add_partial(bubbles, size_t(t * kFs), f, n.uniform(0.005, 0.04) / 3, amp, n.uniform(0.1, 0.3),
                n.uniform());
  }
  normalize_rms(bubbles);
  add_scaled(out, bubbles, db_to_gain(n.uniform(-6, 3)));
  const double variant = n.uniform();
  if (variant < 0.4) {  // faucet: sink resonance and tap ramps
    Biquad::peaking(n.uniform(300, 800), 2.0, 8.0).run(out);
    on_off_ramps(out, s, n.uniform(0.1, 0.4), n.uniform(0.1, 0.4));
  } else if (variant < 0.6) {  // flush: a swell of 2-4 s
    const double swell = n.uniform(2, 4) * s.stretch;
    for (size_t i = 0; i < N; ++i) {
      const double t = double(i) / kFs;
      out[i] *= float(0.3 + 0.7 * std::exp(-0.5 * std::pow((t - swell / 2) / (swell / 2), 2)));
    }
    on_off_ramps(out, s, 0.1, 0.3);
  } else {
    on_off_ramps(out, s, 0.2, 0.3);
  }
}

// ---- impacts and tones

void dishes(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  std::fill(out.begin(), out.end(), 0.0f);
  const double dur = N / kFs;
  const int n_impacts = std::max(1, int(std::min(10.0, 1 + dur * n.uniform(2, 8))));
  const int material = int(n.uniform() * 3);  // 0 ceramic, 1 glass, 2 steel
  for (int k = 0; k < n_impacts; ++k) {
    const size_t at = k == 0 ? 0 : size_t(n.uniform(0, std::max(0.0, dur - 0.05)) * kFs);
    const float amp = float(n.uniform(0.3, 1.0));
    const int n_partials = material == 1 ? 3 + int(n.uniform() * 3) : 4 + int(n.uniform() * 5);
    const double lo = (material == 0 ? 1000 : 2000) * s.pitch;
    const double hi = (material == 0 ? 6000 : material == 1 ? 8000 : 10000) * s.pitch;
    for (int p = 0; p < n_partials; ++p) {
      const double tau = material == 0   ? n.uniform(0.02, 0.15)
                         : material == 1 ? n.uniform(0.2, 1.0)
                                         : n.uniform(0.05, 0.3);
      add_partial(out, at, std::min(7800.0, n.uniform(lo, hi)), tau,
                  amp * float(n.uniform(0.2, 1.0)), 0.0, n.uniform());
    }
    add_burst(n, out, at, size_t(n.uniform(0.001, 0.003) * kFs), amp * 2.0f,
              Biquad::highpass(1000, 0.7), 0.001);
  }
  if (n.uniform() < 0.2) {  // scrape
    const size_t at = size_t(n.uniform(0, std::max(0.0, dur - 0.1)) * kFs);
    add_burst(n, out, at, size_t(n.uniform(0.1, 0.3) * kFs), 0.3f,
              Biquad::bandpass(n.uniform(1000, 5000), 1.0), 0.2);
  }
}

void alarm(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  std::fill(out.begin(), out.end(), 0.0f);
  const int variant = int(n.uniform() * 4);
  const double st = s.stretch;
  if (variant == 0) {  // electric bell: striker re-exciting a bell
    const double f1 = n.uniform(600, 2000) * s.pitch, strike = n.uniform(15, 25) / st;
    const double ratios[5] = {1.0, 2.0, 2.7, 3.8, 5.4};
    const double tau = n.uniform(0.3, 1.0);
    for (double t = 0; t < N / kFs; t += 1.0 / strike) {
      for (int k = 0; k < 5; ++k) {
        if (f1 * ratios[k] < 7800) {
          add_partial(out, size_t(t * kFs), f1 * ratios[k], std::min(tau, 0.08) / (1 + 0.3 * k),
                      float(0.5 / (1 + k)));
        }
      }
    }
  } else if (variant == 1) {  // digital alarm clock: beeps in groups
    const double f = n.uniform(2000, 4000) * std::min(s.pitch, 1.2);
    const int group = 2 + int(n.uniform() * 3);
    const double beep = n.uniform(0.06, 0.12) * st, gap = n.uniform(0.5, 1.0) * st;
    const bool square = n.uniform() < 0.5;
    double t = 0;
    while (t < N / kFs) {
      for (int b = 0; b < group && t < N / kFs; ++b, t += 2 * beep) {
        const size_t a = size_t(t * kFs), len = size_t(beep * kFs);
        for (size_t i = 0; i < len && a + i < N; ++i) {
          const float v = fast_sin_cycles(f * double(i) / kFs);
          const float ramp = std::min(1.0f, float(std::min(i, len - i)) / 48.0f);  // 3 ms edges
          out[a + i] += ramp * (square ? (v > 0 ? 0.5f : -0.5f) : v);
        }
      }
      t += gap;
    }
    Biquad::lowpass(7000, 0.7).run(out);
  } else if (variant == 2) {  // phone ring: two-tone warble, cadence on/off
    const double fa = n.uniform(1000, 2000) * s.pitch, fb = fa * n.uniform(1.1, 1.3);
    const double warble = n.uniform(16, 25), on = n.uniform(1, 2) * st, off = n.uniform(2, 4) * st;
    double ph = 0;
    for (size_t i = 0; i < N; ++i) {
      const double t = double(i) / kFs;
      const bool ringing = std::fmod(t, on + off) < on;
      const double f = fast_sin_cycles(warble * t) > 0 ? fa : fb;
      ph += f / kFs;
      out[i] = ringing ? fast_sin_cycles(ph) : 0.0f;
    }
  } else {  // smoke alarm: ~3.1 kHz, temporal-three pattern
    const double f = n.uniform(2900, 3300) * std::min(s.pitch, 1.2);
    for (size_t i = 0; i < N; ++i) {
      const double t = std::fmod(double(i) / kFs, 4.0 * st);
      const double in_beep = std::fmod(t, 1.0 * st);
      const bool on = t < 3.0 * st && in_beep < 0.5 * st;
      const float ramp = float(std::min({1.0, in_beep / 0.003, (0.5 * st - in_beep) / 0.003}));
      out[i] = on ? ramp * fast_sin_cycles(f * double(i) / kFs) : 0.0f;
    }
  }
  apply_fades(out, 0.005);
}

// A bark: glottal pulse train through two formants with a rise-then-fall f0.
void add_bark(Noise& n, std::span<float> out, size_t at, double len_s, double f0, bool growl) {
  const size_t len = std::min(out.size() - std::min(out.size(), at), size_t(len_s * kFs));
  if (len == 0) return;
  const Wavetable table(harmonic_amps(f0 * 1.3, 1.2));
  Biquad f1 = Biquad::bandpass(n.uniform(500, 1000), 3.0);
  Biquad f2 = Biquad::bandpass(n.uniform(1500, 2500), 4.0);
  const float noise_mix = float(n.uniform(0.2, 0.4));
  const double rough = n.uniform(20, 40);
  double ph = 0;
  for (size_t i = 0; i < len; ++i) {
    const double x = double(i) / len;
    const double contour = growl ? 1.0 : 1.0 + 0.3 * std::sin(M_PI * std::min(1.0, 1.5 * x));
    ph += f0 * contour / kFs;
    float v = (1 - noise_mix) * table.at(ph) + noise_mix * n.white();
    if (growl) v *= 0.6f + 0.4f * fast_sin_cycles(rough * double(i) / kFs);
    const double env = std::min(1.0, double(i) / (0.01 * kFs)) * std::pow(1.0 - x, 1.5);
    out[at + i] += float(env) * (f1.process(v) + 0.7f * f2.process(v));
  }
}

void dog(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  std::fill(out.begin(), out.end(), 0.0f);
  const double u = n.uniform();
  const bool large = n.uniform() < 0.4;
  const double f0 = (large ? n.uniform(150, 350) : n.uniform(300, 900)) * s.pitch;
  if (u < 0.12) {  // growl
    add_bark(n, out, 0, N / kFs, n.uniform(80, 150) * s.pitch, true);
  } else if (u < 0.22) {  // whine: tonal glides
    const double fa = n.uniform(500, 1500) * s.pitch, fb = fa * n.uniform(0.7, 1.4);
    double ph = 0;
    for (size_t i = 0; i < N; ++i) {
      const double x = double(i) / N;
      ph += (fa + (fb - fa) * x) / kFs;
      out[i] = float(std::sin(M_PI * x)) * (fast_sin_cycles(ph) + 0.3f * fast_sin_cycles(2 * ph));
    }
  } else {  // bout of barks filling the event
    double t = 0;
    while (t < N / kFs - 0.05) {
      const double len = std::min(n.uniform(0.08, 0.3) * s.stretch, N / kFs - t);
      add_bark(n, out, size_t(t * kFs), len, f0 * n.uniform(0.9, 1.1), false);
      t += len + n.uniform(0.15, 0.6) * s.stretch;
    }
  }
}

// A meow: harmonic tone with a rise-fall f0, a gliding first formant and vibrato.
void add_meow(Noise& n, std::span<float> out, size_t at, double len_s, double pitch) {
  const size_t len = std::min(out.size() - std::min(out.size(), at), size_t(len_s * kFs));
  if (len == 0) return;
  const double f0 = n.uniform(400, 1000) * pitch, vib = n.uniform(5, 7);
  const Wavetable table(harmonic_amps(f0 * 1.4, 1.0));
  Biquad f2 = Biquad::bandpass(n.uniform(1800, 3000), 3.0);
  Biquad f1;
  double ph = 0;
  for (size_t i = 0; i < len; ++i) {
    const double x = double(i) / len;
    if (i % 64 == 0) {  // F1 400 -> 900 -> 500 Hz ("mi-a-ow")
      const double f = x < 0.4 ? 400 + 500 * x / 0.4 : 900 - 400 * (x - 0.4) / 0.6;
      const Biquad d = Biquad::bandpass(f * pitch, 2.5);
      f1.b0 = d.b0, f1.b1 = d.b1, f1.b2 = d.b2, f1.a1 = d.a1, f1.a2 = d.a2;
    }
    const double contour =
        1.0 + 0.25 * std::sin(M_PI * x) + 0.02 * std::sin(2 * M_PI * vib * i / kFs);
    ph += f0 * contour / kFs;
    const float v = table.at(ph) + 0.05f * n.white();
    const double env = std::min(1.0, x / 0.1) * std::min(1.0, (1 - x) / 0.25);
    out[at + i] += float(env) * (f1.process(v) + 0.5f * f2.process(v));
  }
}

void cat(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  std::fill(out.begin(), out.end(), 0.0f);
  const double u = n.uniform(), dur = N / kFs;
  if (u < 0.15 && dur > 0.8) {  // purr: 20-30 Hz pulses through a low band
    const double rate = n.uniform(20, 30) / s.stretch;
    for (double t = 0; t < dur; t += 1.0 / rate) {
      add_burst(n, out, size_t(t * kFs), size_t(0.02 * kFs), 1.0f,
                Biquad::lowpass(600 * s.pitch, 0.7), 0.01);
    }
    Biquad::highpass(50, 0.7).run(out);
    slow_am(out, 0.5, 6.0, 0.0);
  } else if (u < 0.25) {  // hiss
    white(n, out);
    Biquad::highpass(n.uniform(2000, 4000), 0.7).run(out);
    for (size_t i = 0; i < N; ++i) out[i] *= float(std::sin(M_PI * double(i) / N));
  } else {  // one or more meows
    double t = 0;
    while (t < dur - 0.1) {
      const double len = std::min(n.uniform(0.3, 1.2) * s.stretch, dur - t);
      add_meow(n, out, size_t(t * kFs), len, s.pitch);
      t += len + n.uniform(0.2, 0.8);
    }
  }
}

// Speech-like babble of one talker: syllables of a voiced source through three formants whose
// targets change per syllable, fricative bursts between them, and a falling intonation.
void speech(Noise& n, const EventStyle& s, std::span<float> out) {
  const size_t N = out.size();
  std::fill(out.begin(), out.end(), 0.0f);
  const bool female = n.uniform() < 0.5;
  const double f0_base = (female ? n.uniform(160, 260) : n.uniform(85, 150)) * s.pitch;
  const Wavetable table(harmonic_amps(f0_base * 1.5, 1.4));
  static constexpr double kVowels[6][3] = {{730, 1090, 2440}, {270, 2290, 3010}, {300, 870, 2240},
                                           {530, 1840, 2480}, {570, 840, 2410},  {440, 1020, 2240}};
  Biquad f[3];
  double ph = 0;
  size_t i = 0;
  while (i < N) {
    const size_t syl = size_t(n.uniform(0.08, 0.25) * s.stretch * kFs);
    const auto& v = kVowels[int(n.uniform() * 6)];
    const double scale_f = female ? 1.15 : 1.0;
    for (int k = 0; k < 3; ++k) {
      const Biquad d = Biquad::bandpass(v[k] * scale_f * n.uniform(0.9, 1.1), 4.0 + 2 * k);
      f[k].b0 = d.b0, f[k].b1 = d.b1, f[k].b2 = d.b2, f[k].a1 = d.a1, f[k].a2 = d.a2;
    }
    if (n.uniform() < 0.35) {  // fricative onset
      const size_t len = size_t(n.uniform(0.02, 0.08) * kFs);
      add_burst(n, out, i, len, 0.3f, Biquad::highpass(n.uniform(2500, 5000), 0.7), 0.05);
      i += len;
    }
    for (size_t j = 0; j < syl && i < N; ++j, ++i) {
      const double x = double(j) / syl, t = double(i) / N;
      ph += f0_base * (1.1 - 0.2 * t) * (1.0 + 0.08 * std::sin(M_PI * x)) / kFs;
      const float src = table.at(ph) + 0.05f * n.white();
      const float env = float(std::sin(M_PI * x));
      out[i] += env * (f[0].process(src) + 0.6f * f[1].process(src) + 0.3f * f[2].process(src));
    }
    if (n.uniform() < 0.15) i += size_t(n.uniform(0.05, 0.2) * kFs);  // short pause
  }
}

}  // namespace

void render_procedural_event(int label, Noise& noise, const EventStyle& style,
                             std::span<float> out) {
  switch (label) {
    case 0:
      alarm(noise, style, out);
      break;
    case 1:
      blender(noise, style, out);
      break;
    case 2:
      cat(noise, style, out);
      break;
    case 3:
      dishes(noise, style, out);
      break;
    case 4:
      dog(noise, style, out);
      break;
    case 5:
      shaver(noise, style, out);
      break;
    case 6:
      frying(noise, style, out);
      break;
    case 7:
      running_water(noise, style, out);
      break;
    case 8:
      speech(noise, style, out);
      break;
    case 9:
      vacuum(noise, style, out);
      break;
    default:
      std::fill(out.begin(), out.end(), 0.0f);
  }
}

void render_room_tone(Noise& n, std::span<float> out) {
  const size_t N = out.size();
  if (n.uniform() < 0.5) {
    pink(n, out);
  } else {
    brown(n, out);
  }
  // Drifting low shelf, applied per 0.25 s segment.
  Biquad shelf = Biquad::lowshelf(n.uniform(100, 300), n.uniform(-6, 6));
  shelf.run(out);
  normalize_rms(out);
  std::vector<float> layer(N);
  white(n, layer);  // ventilation rumble
  Biquad::lowpass(150, 0.7).run(layer);
  Biquad::lowpass(150, 0.7).run(layer);
  normalize_rms(layer);
  add_scaled(out, layer, db_to_gain(n.uniform(-12, 0)));
  const double mains = n.uniform() < 0.5 ? 50.0 : 60.0;
  const float hum = db_to_gain(n.uniform(-40, -25));
  const bool fridge = n.uniform() < 0.4;
  const double fridge_on = n.uniform(0, 10), fridge_len = n.uniform(3, 30);
  const float fridge_gain = db_to_gain(n.uniform(-20, -8));
  for (size_t i = 0; i < N; ++i) {
    const double t = double(i) / kFs;
    float v = 0;
    for (int k = 1; k <= 4; ++k) v += fast_sin_cycles(k * mains * t) / k;
    out[i] += hum * v * 3.0f;
    if (fridge && t >= fridge_on && t < fridge_on + fridge_len) {
      out[i] +=
          fridge_gain * (fast_sin_cycles(2 * mains * t) + 0.5f * fast_sin_cycles(4 * mains * t));
    }
  }
  white(n, layer);  // distant traffic swells
  Biquad::lowpass(400, 0.7).run(layer);
  normalize_rms(layer);
  slow_am(layer, n.uniform(0.05, 0.2), 12.0, n.uniform());
  add_scaled(out, layer, db_to_gain(n.uniform(-15, -3)));
}

void render_nontarget_event(Noise& n, std::span<float> out) {
  const size_t N = out.size();
  std::fill(out.begin(), out.end(), 0.0f);
  const int kind = int(n.uniform() * 5);
  const double dur = N / kFs;
  if (kind == 0) {  // door knock: 2-4 low thumps
    const int k = 2 + int(n.uniform() * 3);
    for (int j = 0; j < k; ++j) {
      add_partial(out, size_t(std::min(dur, j * n.uniform(0.15, 0.3)) * kFs), n.uniform(80, 200),
                  0.03, 1.0f);
    }
  } else if (kind == 1) {  // keyboard typing
    for (double t = 0; t < dur; t += n.uniform(0.08, 0.3)) {
      add_burst(n, out, size_t(t * kFs), 40, 1.0f, Biquad::bandpass(n.uniform(2000, 5000), 1.5),
                0.002);
    }
  } else if (kind == 2) {  // clock ticking
    const double period = n.uniform(0.5, 1.0);
    for (double t = 0; t < dur; t += period) {
      add_burst(n, out, size_t(t * kFs), 30, 1.0f, Biquad::highpass(3000, 0.7), 0.001);
    }
  } else if (kind == 3) {  // footsteps
    for (double t = 0; t < dur; t += n.uniform(0.45, 0.65)) {
      add_burst(n, out, size_t(t * kFs), size_t(0.05 * kFs), 1.0f, Biquad::lowpass(500, 0.7), 0.02);
    }
  } else {  // a thud
    add_partial(out, 0, n.uniform(50, 120), 0.08, 1.0f);
    add_burst(n, out, 0, size_t(0.03 * kFs), 0.5f, Biquad::lowpass(1500, 0.7), 0.01);
  }
}

}  // namespace greensed::synth
