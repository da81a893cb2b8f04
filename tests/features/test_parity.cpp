// Parity of greensed's log-mel front end with an independent float64 numpy implementation of
// torchaudio's definitions (scripts/make_feature_goldens.py; fixtures in tests/data/features/).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

#include "greensed/audio/audio.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/features/db_scaler.hpp"
#include "greensed/features/mel.hpp"
#include "greensed/features/npy.hpp"

namespace greensed::features {
namespace {

const std::string kDir = std::string(GREENSED_TEST_DATA_DIR) + "/features/";

struct Case {
  std::string name, input, mode;
  int64_t n_frames, n_frames_stored;
};

std::vector<Case> load_cases() {
  const auto doc = nlohmann::json::parse(core::read_file(kDir + "cases.json"));
  std::vector<Case> cases;
  for (const auto& c : doc) {
    cases.push_back({c["case"], c["input"], c["mode"], c["n_frames"], c["n_frames_stored"]});
  }
  return cases;
}

// greensed's dB features of a case: decode, mix, resample, pad to 10 s (or raw), mel, dB.
std::vector<float> greensed_db(const Case& c, const MelExtractor& extractor) {
  auto x = audio::load_mono(kDir + c.input, 16000);
  if (c.mode == "pad10") audio::pad_or_crop(x, 160000);
  auto mel = extractor.compute(x);
  amplitude_to_db(mel);
  return mel;
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, DbWithinOneMilliDbAndClampsExact) {
  const auto cases = load_cases();
  const auto it =
      std::find_if(cases.begin(), cases.end(), [&](const Case& c) { return c.name == GetParam(); });
  ASSERT_NE(it, cases.end()) << GetParam() << " missing from cases.json";
  const Case& c = *it;
  const MelExtractor extractor;
  const auto db = greensed_db(c, extractor);
  const auto golden = read_npy_f32(kDir + c.name + "_db.npy");
  const int64_t n_frames = int64_t(db.size()) / 128;
  ASSERT_EQ(n_frames, c.n_frames);
  ASSERT_EQ(golden.shape, (std::vector<int64_t>{128, c.n_frames_stored}));
  double max_diff = 0.0;
  int64_t n_clamped = 0, worst_m = 0, worst_t = 0;
  for (int64_t m = 0; m < 128; ++m) {
    for (int64_t t = 0; t < n_frames; ++t) {
      const float got = db[m * n_frames + t];
      const float want = t < c.n_frames_stored ? golden.values[m * c.n_frames_stored + t] : kDbMin;
      if (want == kDbMin || want == kDbMax) {
        // the generator guarantees no unclamped value within 0.01 dB of a clamp edge
        ASSERT_EQ(got, want) << c.name << " mel " << m << " frame " << t;
        ++n_clamped;
      } else {
        const double diff = std::abs(double(got) - double(want));
        if (diff > max_diff) max_diff = diff, worst_m = m, worst_t = t;
      }
    }
  }
  EXPECT_LE(max_diff, 1e-3) << c.name << ": max |dB diff| " << max_diff << " at mel " << worst_m
                            << " frame " << worst_t << " (golden "
                            << golden.values[worst_m * c.n_frames_stored + worst_t] << " dB)";
  RecordProperty("max_abs_db_diff", std::to_string(max_diff));
  std::printf("%s: max |dB diff| %.3g over %lld values, %lld clamped values exact\n",
              c.name.c_str(), max_diff, (long long)(128 * n_frames - n_clamped),
              (long long)n_clamped);
}

INSTANTIATE_TEST_SUITE_P(Golden, Parity,
                         ::testing::Values("sweep", "noise", "silence", "short", "short_raw",
                                           "clipped", "stereo44k"));

}  // namespace
}  // namespace greensed::features

namespace greensed::features {
namespace {

// The resampler on its own: libsoxr's output for the 44.1 kHz stereo file vs the analytic 16 kHz
// signal (same tones sampled at 16 kHz). Tolerance 2e-4 (−74 dBFS): the 16-bit input's
// quantisation (±1.5e-5 per channel) plus SOXR_HQ's 20-bit precision; 25 ms at each end are left
// out, where the fades and the filter's edge meet.
TEST(ParityResampler, SoxrMatchesIdealSignal) {
  const auto y = audio::load_mono(kDir + "stereo44k.wav", 16000);
  const auto ideal = read_npy_f32(kDir + "stereo44k_ideal16k.npy");
  ASSERT_EQ(y.size(), ideal.values.size());
  double max_err = 0.0;
  for (size_t i = 400; i + 400 < y.size(); ++i) {
    max_err = std::max(max_err, std::abs(double(y[i]) - double(ideal.values[i])));
  }
  std::printf("resampler: max |soxr - ideal| %.3g\n", max_err);
  EXPECT_LE(max_err, 2e-4);
}

// The instance min-max scaler on greensed's dB vs the same formula on the golden dB: the scaled
// features agree to 1e-3 dB / (max − min) and their extremes are exactly 0 and (nearly) 1.
TEST(ParityScaled, MinMaxOfGoldenAndGreensedAgree) {
  const MelExtractor extractor;
  for (const Case& c : load_cases()) {
    if (c.name == "silence") continue;  // constant: scales to 0 everywhere (unit-tested)
    auto db = greensed_db(c, extractor);
    const auto golden = read_npy_f32(kDir + c.name + "_db.npy");
    const int64_t n_frames = int64_t(db.size()) / 128;
    std::vector<double> want(db.size());
    double lo = 1e9, hi = -1e9;
    for (int64_t m = 0; m < 128; ++m) {
      for (int64_t t = 0; t < n_frames; ++t) {
        const double v = t < c.n_frames_stored ? golden.values[m * c.n_frames_stored + t] : kDbMin;
        want[m * n_frames + t] = v;
        lo = std::min(lo, v), hi = std::max(hi, v);
      }
    }
    scale_instance(db, 1, NormType::kMinMax);
    double max_diff = 0.0;
    for (size_t i = 0; i < db.size(); ++i) {
      max_diff = std::max(max_diff, std::abs(db[i] - (want[i] - lo) / (hi - lo + kScalerEps)));
    }
    EXPECT_LE(max_diff, 1e-3 / (hi - lo) + 1e-6) << c.name;
    EXPECT_EQ(*std::min_element(db.begin(), db.end()), 0.0f) << c.name;
  }
}

}  // namespace
}  // namespace greensed::features
