// Signal pieces of the generator: loudness (BS.1770), filters, oscillators, fades, varispeed.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "greensed/synth/dsp.hpp"
#include "greensed/synth/procedural.hpp"

namespace {

using namespace greensed::synth;

std::vector<float> sine(double f, double amp, double seconds) {
  std::vector<float> x(size_t(seconds * kSampleRate));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(amp * std::sin(2 * M_PI * f * i / kSampleRate));
  return x;
}

TEST(Loudness, FullScaleSineIsMinus3Lufs) {
  // BS.1770: a 0 dBFS 997 Hz sine reads -3.01 LUFS (the -0.691 offset cancels K-weighting at 1
  // kHz).
  EXPECT_NEAR(integrated_loudness(sine(997, 1.0, 5.0)), -3.01, 0.1);
  // Loudness is 20 log10 of the amplitude.
  EXPECT_NEAR(integrated_loudness(sine(997, 0.01, 5.0)), -43.01, 0.1);
}

TEST(Loudness, GatesSilenceAndTilesShortSignals) {
  EXPECT_EQ(integrated_loudness(std::vector<float>(32000, 0.0f)), -70.0);
  // Half silence: the absolute gate drops the silent blocks, so the level barely moves.
  auto x = sine(997, 0.1, 10.0);
  std::fill(x.begin(), x.begin() + x.size() / 2, 0.0f);
  EXPECT_NEAR(integrated_loudness(x), -23.01, 0.3);
  // 0.2 s is tiled to 0.5 s before measuring.
  EXPECT_NEAR(integrated_loudness(sine(1000, 0.1, 0.2)), -23.0, 0.5);
}

TEST(Filters, LowpassPassesLowAndCutsHigh) {
  auto low = sine(200, 1.0, 1.0), high = sine(6000, 1.0, 1.0);
  Biquad::lowpass(1000, 0.7071).run(low);
  Biquad::lowpass(1000, 0.7071).run(high);
  EXPECT_NEAR(rms(low), std::sqrt(0.5), 0.02);
  EXPECT_LT(rms(high), 0.05);  // ~-31 dB at 6 kHz for a 2nd-order low-pass at 1 kHz
}

TEST(Filters, PeakingGainAtCentre) {
  auto x = sine(1000, 1.0, 1.0);
  Biquad::peaking(1000, 1.0, 6.0).run(x);
  const double gain_db =
      20 * std::log10(rms(std::span<const float>(x).subspan(1000)) / std::sqrt(0.5));
  EXPECT_NEAR(gain_db, 6.0, 0.1);
}

TEST(Oscillators, FastSineAccuracy) {
  double worst = 0;
  for (int i = -2000; i <= 2000; ++i) {
    const double x = i / 997.0;
    worst = std::max(worst, std::fabs(fast_sin_cycles(x) - std::sin(2 * M_PI * x)));
  }
  EXPECT_LT(worst, 2e-3);
}

TEST(Oscillators, NoiseIsDeterministicWithUnitVariance) {
  Noise a(7), b(7), c(8);
  double sum = 0, sum2 = 0;
  bool differs = false;
  for (int i = 0; i < 100000; ++i) {
    const float x = a.white();
    EXPECT_EQ(x, b.white());
    differs |= x != c.white();
    sum += x;
    sum2 += double(x) * x;
  }
  EXPECT_TRUE(differs);
  EXPECT_NEAR(sum / 1e5, 0.0, 0.02);
  EXPECT_NEAR(sum2 / 1e5, 1.0, 0.02);
}

TEST(Fades, QuarterSineOverTenMs) {
  std::vector<float> x(16000, 1.0f);
  apply_fades(x, 0.01);
  EXPECT_EQ(x[0], 0.0f);
  EXPECT_NEAR(x[80], std::sin(M_PI / 4), 1e-6);
  EXPECT_EQ(x[160], 1.0f);
  EXPECT_EQ(x[15999], 0.0f);
}

TEST(Varispeed, RateChangesLengthAndPitch) {
  const auto x = sine(500, 1.0, 1.0);
  const auto y = varispeed(x, 2.0);
  EXPECT_NEAR(double(y.size()), 8000.0, 1.0);
  // Zero crossings double per second: 1000 Hz.
  int crossings = 0;
  for (size_t i = 1; i < y.size(); ++i) crossings += (y[i - 1] < 0) != (y[i] < 0);
  EXPECT_NEAR(crossings / 0.5 / 2, 1000.0, 5.0);
}

// Frequency of the strongest component between lo and hi (1 Hz steps, plain DFT).
double peak_frequency(const std::vector<float>& x, double lo, double hi) {
  double best_f = lo, best = -1;
  for (double f = lo; f <= hi; f += 1.0) {
    double re = 0, im = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      re += x[i] * std::cos(2 * M_PI * f * i / kSampleRate);
      im += x[i] * std::sin(2 * M_PI * f * i / kSampleRate);
    }
    if (re * re + im * im > best) best = re * re + im * im, best_f = f;
  }
  return best_f;
}

TEST(TimeStretch, KeepsPitchChangesLength) {
  const auto x = sine(500, 0.5, 1.0);
  const auto y = time_stretch(x, 1.5);
  EXPECT_EQ(y.size(), 24000u);
  EXPECT_NEAR(peak_frequency(y, 440, 580), 500.0, 2.0);
  // Pitch shift without duration change: stretch by p, then varispeed by p.
  const auto z = varispeed(time_stretch(x, 1.25), 1.25);
  EXPECT_NEAR(double(z.size()), 16000.0, 2.0);
  EXPECT_NEAR(peak_frequency(z, 560, 700), 625.0, 2.0);
}

TEST(Procedural, EveryClassRendersFiniteNonSilentAudio) {
  for (int label = 0; label < 10; ++label) {
    for (double seconds : {0.25, 1.0, 10.0}) {
      Noise noise(uint64_t(label * 100 + seconds * 10));
      std::vector<float> x(size_t(seconds * kSampleRate));
      render_procedural_event(label, noise, EventStyle{}, x);
      bool finite = true;
      for (float v : x) finite &= std::isfinite(v);
      EXPECT_TRUE(finite) << "class " << label << " " << seconds << " s";
      EXPECT_GT(integrated_loudness(x), -60.0) << "class " << label << " " << seconds << " s";
    }
  }
  Noise noise(3);
  std::vector<float> bg(10 * kSampleRate);
  render_room_tone(noise, bg);
  EXPECT_GT(rms(bg), 0.0);
}

}  // namespace
