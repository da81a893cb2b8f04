// features/mel: window, filterbank vs its reference formula, band kernel vs dense twin, FFT vs a
// plain DFT, reflect padding, frame counts, thread safety.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <thread>

#include "greensed/features/mel.hpp"

namespace greensed::features {
namespace {

std::vector<float> random_signal(size_t n, uint32_t seed, float amp = 0.3f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-amp, amp);
  std::vector<float> x(n);
  for (auto& v : x) v = u(gen);
  return x;
}

TEST(Mel, HammingWindowIsSymmetric) {
  const auto w = hamming_window_symmetric(2048);
  ASSERT_EQ(w.size(), 2048u);
  EXPECT_NEAR(w[0], 0.08f, 1e-7);
  EXPECT_NEAR(w[2047], 0.08f, 1e-7);
  // torch's float32 arithmetic (argument rounded to float32 before the cosine) is a few ulps
  // from the exact formula and from exact symmetry
  for (int n = 0; n < 2048; ++n) {
    EXPECT_NEAR(w[n], 0.54 - 0.46 * std::cos(2.0 * std::numbers::pi * n / 2047.0), 5e-7) << n;
    EXPECT_NEAR(w[n], w[2047 - n], 5e-7) << n;
  }
}

TEST(Mel, FilterbankMatchesReferenceFormula) {
  const MelSettings s;
  const auto fb = mel_filterbank(s);
  const auto ref = mel_filterbank_reference(s);
  ASSERT_EQ(fb.size(), size_t(1025) * 128);
  double max_diff = 0.0;
  for (size_t i = 0; i < fb.size(); ++i) max_diff = std::max(max_diff, std::abs(fb[i] - ref[i]));
  // float32 construction (torchaudio's) vs the exact triangles: corners move by ~1e-3 Hz
  EXPECT_LT(max_diff, 2e-5);
  // HTK corner frequencies from the spec: f_pts[1] = 13.809 Hz, so bin 1 (7.8125 Hz) rises in
  // band 0 with weight 7.8125 / 13.809 and band 0's peak is not at a bin
  EXPECT_NEAR(fb[1 * 128 + 0], 7.8125 / 13.809, 1e-4);
  // no normalisation: every triangle peaks at most at 1, every band is non-empty
  for (int m = 0; m < 128; ++m) {
    float peak = 0.0f;
    for (int k = 0; k < 1025; ++k) peak = std::max(peak, fb[k * 128 + m]);
    EXPECT_LE(peak, 1.0f);
    EXPECT_GT(peak, 0.45f) << m;
  }
}

TEST(Mel, BandKernelMatchesDenseReference) {
  const MelSettings s;
  const auto fb = mel_filterbank(s);
  const auto bands = mel_bands_from_dense(fb, 1025, 128);
  const int64_t n_frames = 7;
  auto mag = random_signal(size_t(n_frames) * 1025, 3, 10.0f);
  for (auto& v : mag) v = std::abs(v);
  std::vector<float> got(128 * n_frames, -1.0f), want(128 * n_frames, -2.0f);
  mel_apply_bands(bands, mag.data(), 1025, n_frames, got.data(), n_frames);
  mel_apply_reference(fb.data(), 128, mag.data(), 1025, n_frames, want.data(), n_frames);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5 * std::abs(want[i]));
}

TEST(Mel, FftMatchesPlainDft) {
  const MelSettings s;
  const MelExtractor extractor(s);
  const auto x = random_signal(3000, 5);
  const auto mag = extractor.stft_magnitude(x);
  const auto ref = stft_magnitude_reference(x, s);
  ASSERT_EQ(mag.size(), ref.size());
  ASSERT_EQ(mag.size(), size_t(s.n_frames(3000)) * 1025);
  double peak = 0.0;
  for (const double v : ref) peak = std::max(peak, v);
  for (size_t i = 0; i < mag.size(); ++i) {
    ASSERT_NEAR(mag[i], ref[i], 1e-6 * ref[i] + 1e-9 * peak) << "index " << i;
  }
}

TEST(Mel, FrameCounts) {
  const MelSettings s;
  EXPECT_EQ(s.n_frames(160000), 626);
  EXPECT_EQ(s.n_frames(1000), 4);
  EXPECT_EQ(s.n_frames(255), 1);
  const MelExtractor extractor(s);
  EXPECT_EQ(extractor.compute(std::vector<float>(160000)).size(), size_t(128) * 626);
}

TEST(Mel, ReflectPadFollowsNumpy) {
  const std::vector<float> x = {1, 2, 3};
  // numpy.pad([1, 2, 3], 5, mode="reflect")
  EXPECT_EQ(reflect_pad(x, 5), (std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2}));
  // numpy.pad([1, 2, 3, 4], 2, mode="reflect"): torch's reflect for pad < length
  EXPECT_EQ(reflect_pad(std::vector<float>{1, 2, 3, 4}, 2),
            (std::vector<float>{3, 2, 1, 2, 3, 4, 3, 2}));
  EXPECT_EQ(reflect_pad(std::vector<float>{7}, 3), (std::vector<float>(7, 7.0f)));
}

TEST(Mel, RawShortClipUsesRepeatedReflection) {
  const MelSettings s;
  const MelExtractor extractor(s);
  const auto x = random_signal(40, 9);  // far shorter than n_fft / 2
  const auto mag = extractor.stft_magnitude(x);
  const auto ref = stft_magnitude_reference(x, s);
  ASSERT_EQ(mag.size(), ref.size());
  for (size_t i = 0; i < mag.size(); ++i) ASSERT_NEAR(mag[i], ref[i], 1e-6 * ref[i] + 1e-8);
  const auto one = extractor.compute(std::vector<float>{0.5f});
  EXPECT_EQ(one.size(), 128u);  // a one-sample clip: one frame of a constant signal
}

TEST(Mel, ExtractorIsThreadSafe) {
  const MelExtractor extractor;
  const auto x = random_signal(48000, 11);
  const auto expected = extractor.compute(x);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 5; ++r) results[t] = extractor.compute(x);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}

TEST(Mel, SettingsHashTracksEveryField) {
  const MelSettings base;
  auto changed = base;
  changed.hop_length = 512;
  EXPECT_NE(settings_hash(base), settings_hash(changed));
  changed = base;
  changed.f_max = 7999.0;
  EXPECT_NE(settings_hash(base), settings_hash(changed));
  EXPECT_EQ(settings_hash(base), settings_hash(MelSettings{}));
}

}  // namespace
}  // namespace greensed::features
