// The procedural classes are distinguishable but not trivially: a nearest-centroid classifier on
// coarse spectral and temporal statistics (leave-one-out) must beat chance by far, yet not be
// perfect, after the mixer's random band limit and EQ.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "greensed/core/rng.hpp"
#include "greensed/synth/layout.hpp"
#include "greensed/synth/procedural.hpp"

namespace {

using namespace greensed;
using namespace greensed::synth;

// 12 log-spaced bands: log mean power and log std of 50 ms frame powers.
std::vector<double> features(std::span<const float> x) {
  std::vector<double> f;
  for (int b = 0; b < 12; ++b) {
    const double fc = 100.0 * std::pow(70.0, b / 11.0);
    Biquad bp = Biquad::bandpass(fc, 1.5);
    std::vector<double> frames;
    double acc = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const float y = bp.process(x[i]);
      acc += double(y) * y;
      if ((i + 1) % 800 == 0) {
        frames.push_back(acc / 800);
        acc = 0;
      }
    }
    double mean = 0;
    for (double p : frames) mean += p;
    mean /= std::max<size_t>(1, frames.size());
    double var = 0;
    for (double p : frames) var += (p - mean) * (p - mean);
    var /= std::max<size_t>(1, frames.size());
    f.push_back(std::log10(mean + 1e-12));
    f.push_back(std::log10(std::sqrt(var) / (mean + 1e-12) + 1e-6));
  }
  // Level-independent: subtract the mean log power over bands.
  double m = 0;
  for (int b = 0; b < 12; ++b) m += f[2 * b] / 12;
  for (int b = 0; b < 12; ++b) f[2 * b] -= m;
  return f;
}

TEST(Classes, DistinguishableButNotTrivially) {
  constexpr int kPerClass = 24;
  auto rng = core::make_stream(11, core::RngStreamId::kTest);
  std::vector<std::vector<double>> x;
  std::vector<int> y;
  for (int label = 0; label < 10; ++label) {
    for (int i = 0; i < kPerClass; ++i) {
      Noise noise(rng.next_u64());
      const double seconds = std::min(4.0, draw_duration(rng, label, 10.0));
      std::vector<float> a(size_t(seconds * kSampleRate));
      EventStyle style;
      style.pitch = std::pow(2.0, noise.uniform(-3, 3) / 12.0);
      style.stretch = noise.uniform(0.85, 1.2);
      render_procedural_event(label, noise, style, a);
      // The mixer's per-event band limit and EQ.
      Biquad::lowpass(noise.uniform(3500, 8000), 0.7071).run(a);
      Biquad::lowshelf(noise.uniform(100, 400), noise.uniform(-6, 6)).run(a);
      Biquad::peaking(noise.uniform(500, 4000), 1.0, noise.uniform(-6, 6)).run(a);
      x.push_back(features(a));
      y.push_back(label);
    }
  }
  const size_t n = x.size(), d = x[0].size();
  int correct = 0;
  std::vector<int> per_class(10, 0);
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::vector<double>> centroid(10, std::vector<double>(d, 0.0));
    std::vector<int> count(10, 0);
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      for (size_t k = 0; k < d; ++k) centroid[y[j]][k] += x[j][k];
      ++count[y[j]];
    }
    int best = -1;
    double best_dist = 1e300;
    for (int c = 0; c < 10; ++c) {
      double dist = 0;
      for (size_t k = 0; k < d; ++k) {
        const double diff = x[i][k] - centroid[c][k] / count[c];
        dist += diff * diff;
      }
      if (dist < best_dist) best_dist = dist, best = c;
    }
    if (best == y[i]) ++correct, ++per_class[y[i]];
  }
  const double accuracy = double(correct) / n;
  std::printf("nearest-centroid leave-one-out accuracy %.3f; per class:", accuracy);
  for (int c = 0; c < 10; ++c) std::printf(" %d/%d", per_class[c], kPerClass);
  std::printf("\n");
  EXPECT_GT(accuracy, 0.5);   // chance is 0.1
  EXPECT_LT(accuracy, 0.98);  // coarse statistics do not separate every class
}

}  // namespace
