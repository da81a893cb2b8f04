#include "greensed/synth/dsp.hpp"

#include <algorithm>
#include <numeric>

namespace greensed::synth {

Noise::Noise(uint64_t seed) {
  // splitmix64 expands the seed into a non-zero state.
  for (auto& s : s_) {
    seed += 0x9E3779B97F4A7C15ull;
    uint64_t z = seed;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    s = z ^ (z >> 31);
  }
  if (s_[0] == 0 && s_[1] == 0) s_[0] = 1;
}

double Noise::gauss() {
  double u1;
  do {
    u1 = uniform();
  } while (u1 <= 1e-12);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * uniform());
}

double Noise::exponential(double rate) {
  double u;
  do {
    u = uniform();
  } while (u <= 1e-12);
  return -std::log(u) / rate;
}

namespace {

double clamp_f(double f, double fs) {
  return std::clamp(f, 1.0, 0.49 * fs);
}

Biquad normalized(double b0, double b1, double b2, double a0, double a1, double a2) {
  Biquad q;
  q.b0 = float(b0 / a0);
  q.b1 = float(b1 / a0);
  q.b2 = float(b2 / a0);
  q.a1 = float(a1 / a0);
  q.a2 = float(a2 / a0);
  return q;
}

}  // namespace

Biquad Biquad::lowpass(double f, double q, double fs) {
  const double w = 2 * M_PI * clamp_f(f, fs) / fs, c = std::cos(w), al = std::sin(w) / (2 * q);
  return normalized((1 - c) / 2, 1 - c, (1 - c) / 2, 1 + al, -2 * c, 1 - al);
}

Biquad Biquad::highpass(double f, double q, double fs) {
  const double w = 2 * M_PI * clamp_f(f, fs) / fs, c = std::cos(w), al = std::sin(w) / (2 * q);
  return normalized((1 + c) / 2, -(1 + c), (1 + c) / 2, 1 + al, -2 * c, 1 - al);
}

Biquad Biquad::bandpass(double f, double q, double fs) {
  const double w = 2 * M_PI * clamp_f(f, fs) / fs, c = std::cos(w), al = std::sin(w) / (2 * q);
  return normalized(al, 0, -al, 1 + al, -2 * c, 1 - al);
}

Biquad Biquad::peaking(double f, double q, double gain_db, double fs) {
  const double A = std::pow(10.0, gain_db / 40), w = 2 * M_PI * clamp_f(f, fs) / fs;
  const double c = std::cos(w), al = std::sin(w) / (2 * q);
  return normalized(1 + al * A, -2 * c, 1 - al * A, 1 + al / A, -2 * c, 1 - al / A);
}

Biquad Biquad::lowshelf(double f, double gain_db, double fs) {
  const double A = std::pow(10.0, gain_db / 40), w = 2 * M_PI * clamp_f(f, fs) / fs;
  const double c = std::cos(w), al = std::sin(w) / 2 * std::sqrt(2.0), sa = 2 * std::sqrt(A) * al;
  return normalized(A * ((A + 1) - (A - 1) * c + sa), 2 * A * ((A - 1) - (A + 1) * c),
                    A * ((A + 1) - (A - 1) * c - sa), (A + 1) + (A - 1) * c + sa,
                    -2 * ((A - 1) + (A + 1) * c), (A + 1) + (A - 1) * c - sa);
}

Biquad Biquad::highshelf(double f, double gain_db, double q, double fs) {
  const double A = std::pow(10.0, gain_db / 40), w = 2 * M_PI * clamp_f(f, fs) / fs;
  const double c = std::cos(w), al = std::sin(w) / (2 * q), sa = 2 * std::sqrt(A) * al;
  return normalized(A * ((A + 1) + (A - 1) * c + sa), -2 * A * ((A - 1) + (A + 1) * c),
                    A * ((A + 1) + (A - 1) * c - sa), (A + 1) - (A - 1) * c + sa,
                    2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - sa);
}

Wavetable::Wavetable(std::span<const float> amps) : table_(kSize + 1, 0.0f) {
  for (size_t k = 0; k < amps.size(); ++k) {
    if (amps[k] == 0.0f) continue;
    for (int i = 0; i < kSize; ++i) {
      table_[i] += amps[k] * float(std::sin(2 * M_PI * double(k + 1) * i / kSize));
    }
  }
  float peak = 1e-9f;
  for (float v : table_) peak = std::max(peak, std::fabs(v));
  for (float& v : table_) v /= peak;
  table_[kSize] = table_[0];
}

std::vector<float> harmonic_amps(double f0_max, double slope, double f_limit) {
  const int n = std::max(1, int(f_limit / std::max(f0_max, 1.0)));
  std::vector<float> amps(std::min(n, 64));
  for (size_t k = 0; k < amps.size(); ++k) amps[k] = float(std::pow(double(k + 1), -slope));
  return amps;
}

double rms(std::span<const float> x) {
  if (x.empty()) return 0.0;
  double s = 0.0;
  for (float v : x) s += double(v) * v;
  return std::sqrt(s / double(x.size()));
}

void scale(std::span<float> x, float gain) {
  for (float& v : x) v *= gain;
}

void add_scaled(std::span<float> dst, std::span<const float> src, float gain) {
  const size_t n = std::min(dst.size(), src.size());
  for (size_t i = 0; i < n; ++i) dst[i] += gain * src[i];
}

double integrated_loudness(std::span<const float> input, int fs) {
  std::vector<float> x(input.begin(), input.end());
  const size_t min_len = size_t(0.5 * fs);
  if (x.empty()) return -70.0;
  while (x.size() < min_len) x.insert(x.end(), input.begin(), input.end());
  // K-weighting as pyloudnorm: high shelf (+4 dB, Q 1/sqrt 2, 1500 Hz) then high pass (Q 0.5, 38
  // Hz).
  Biquad shelf = Biquad::highshelf(1500.0, 4.0, 1.0 / std::sqrt(2.0), fs);
  Biquad hp = Biquad::highpass(38.0, 0.5, fs);
  for (float& v : x) v = hp.process(shelf.process(v));
  const double block = 0.4, step = 0.25;
  const double length_s = double(x.size()) / fs;
  const int n_blocks = int(std::round((length_s - block) / (block * step))) + 1;
  const size_t block_len = size_t(block * fs);
  std::vector<double> z;
  for (int j = 0; j < n_blocks; ++j) {
    const size_t lo = size_t(block * j * step * fs);
    const size_t hi = std::min(x.size(), lo + block_len);
    double s = 0.0;
    for (size_t i = lo; i < hi; ++i) s += double(x[i]) * x[i];
    z.push_back(s / double(block_len));
  }
  auto loud = [](double p) { return -0.691 + 10.0 * std::log10(std::max(p, 1e-30)); };
  std::vector<double> gated;
  for (double p : z) {
    if (loud(p) >= -70.0) gated.push_back(p);
  }
  if (gated.empty()) return -70.0;
  const double rel = loud(std::accumulate(gated.begin(), gated.end(), 0.0) / gated.size()) - 10.0;
  double sum = 0.0;
  int n = 0;
  for (double p : gated) {
    if (loud(p) > rel) {
      sum += p;
      ++n;
    }
  }
  if (n == 0) return -70.0;
  return std::max(-70.0, loud(sum / n));
}

void apply_fades(std::span<float> x, double seconds, int fs) {
  const size_t n = std::min(x.size() / 2, size_t(seconds * fs));
  for (size_t i = 0; i < n; ++i) {
    const float g = float(std::sin(0.5 * M_PI * double(i) / double(n)));
    x[i] *= g;
    x[x.size() - 1 - i] *= g;
  }
}

void add_reverb(std::span<float> x, double rt60, double drr_db, int fs) {
  static constexpr int kComb[4] = {1557, 1617, 1491, 1422};
  static constexpr int kAllpass[2] = {225, 556};
  const double scale_fs = fs / 44100.0;
  std::vector<float> wet(x.size(), 0.0f);
  for (int d0 : kComb) {
    const int d = std::max(1, int(d0 * scale_fs));
    const float g = float(std::pow(10.0, -3.0 * d / (rt60 * fs)));
    std::vector<float> buf(d, 0.0f);
    float damp = 0.0f;
    for (size_t i = 0, k = 0; i < x.size(); ++i, k = (k + 1 == size_t(d) ? 0 : k + 1)) {
      const float y = buf[k];
      damp = 0.7f * y + 0.3f * damp;  // high frequencies decay faster
      buf[k] = x[i] + g * damp;
      wet[i] += 0.25f * y;
    }
  }
  for (int d0 : kAllpass) {
    const int d = std::max(1, int(d0 * scale_fs));
    std::vector<float> buf(d, 0.0f);
    for (size_t i = 0, k = 0; i < wet.size(); ++i, k = (k + 1 == size_t(d) ? 0 : k + 1)) {
      const float b = buf[k];
      const float y = -0.5f * wet[i] + b;
      buf[k] = wet[i] + 0.5f * b;
      wet[i] = y;
    }
  }
  const double dry = rms(x), rev = rms(wet);
  if (rev <= 0.0 || dry <= 0.0) return;
  add_scaled(x, wet, float(dry / rev * std::pow(10.0, -drr_db / 20.0)));
}

std::vector<float> varispeed(std::span<const float> in, double rate) {
  if (in.empty() || rate <= 0.0) return {};
  const size_t n = size_t(double(in.size() - 1) / rate) + 1;
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double p = double(i) * rate;
    const size_t j = std::min(size_t(p), in.size() - 1);
    const float f = float(p - double(j));
    out[i] = j + 1 < in.size() ? in[j] + f * (in[j + 1] - in[j]) : in[j];
  }
  return out;
}

std::vector<float> time_stretch(std::span<const float> in, double factor) {
  if (in.empty() || factor <= 0.0) return {};
  if (std::fabs(factor - 1.0) < 1e-6) return std::vector<float>(in.begin(), in.end());
  // WSOLA (Verhelst and Roelands 1993): 40 ms Hann frames at 50 % overlap; each frame is taken
  // within +-10 ms of its nominal input position where it best continues the previous frame's
  // waveform (cross-correlation on every 4th sample), so periodic sounds keep their phase.
  const long frame = long(0.04 * kSampleRate), hop = frame / 2, tol = long(0.01 * kSampleRate);
  const long n_in = long(in.size()), n_out = long(double(n_in) * factor);
  std::vector<float> padded(size_t(n_in + 2 * frame + 2 * tol), 0.0f);
  std::copy(in.begin(), in.end(), padded.begin() + tol);
  auto at = [&](long i) { return padded[size_t(i + tol)]; };  // in[i], zero outside
  std::vector<float> out(static_cast<size_t>(n_out + frame), 0.0f);
  std::vector<float> window(static_cast<size_t>(frame));
  for (long i = 0; i < frame; ++i) window[i] = float(0.5 - 0.5 * std::cos(2 * M_PI * i / frame));
  long prev = 0;
  for (long k = 0; k * hop < n_out; ++k) {
    const long nominal = long(double(k * hop) / factor);
    long best = nominal;
    if (k > 0) {
      const long target = prev + hop;  // natural continuation of the previous frame
      double best_corr = -1e300;
      for (long d = -tol; d <= tol; ++d) {
        const long c = nominal + d;
        if (c < -tol || c + frame > n_in + frame) continue;
        double corr = 0;
        for (long i = 0; i < frame; i += 4) corr += double(at(c + i)) * at(target + i);
        if (corr > best_corr) best_corr = corr, best = c;
      }
    }
    for (long i = 0; i < frame; ++i) out[size_t(k * hop + i)] += window[i] * at(best + i);
    prev = best;
  }
  out.resize(size_t(n_out));
  return out;
}

}  // namespace greensed::synth
