// audio: decoding (WAV/FLAC/OGG), channel mix, 16-bit scaling, resampling, pad/crop, error texts.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <numbers>

#include "greensed/audio/audio.hpp"
#include "greensed/core/error.hpp"

namespace greensed::audio {
namespace {

namespace fs = std::filesystem;

class Audio : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("greensed_audio_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::vector<float> tone(int n, double freq, int rate, double amp = 0.5) {
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i)
    x[i] = float(amp * std::sin(2.0 * std::numbers::pi * freq * i / rate));
  return x;
}

TEST_F(Audio, StereoFloatWavIsMixedByMean) {
  const std::vector<float> interleaved = {0.5f, -0.25f, 1.5f, 0.5f, -1.0f, -1.0f};
  write_wav(path("s.wav"), interleaved, 2, 16000, WavFormat::kFloat32);
  int rate = 0;
  const auto x = decode_mono(path("s.wav"), &rate);
  EXPECT_EQ(rate, 16000);
  EXPECT_EQ(x, (std::vector<float>{0.125f, 1.0f, -1.0f}));  // float data beyond ±1 is kept
  const auto info = probe(path("s.wav"));
  EXPECT_EQ(info.n_channels, 2);
  EXPECT_EQ(info.n_frames, 3);
}

TEST_F(Audio, Pcm16IsScaledLikeTorchaudio) {
  write_wav(path("p.wav"), std::vector<float>{0.25f, -0.5f, 0.0f, -1.0f}, 1, 16000);
  const auto x = decode_mono(path("p.wav"), nullptr);
  ASSERT_EQ(x.size(), 4u);
  // integer PCM arrives as int16 / 32768
  for (const float v : x) EXPECT_EQ(v * 32768.0f, std::round(v * 32768.0f));
  EXPECT_NEAR(x[0], 0.25f, 1.0f / 32768);
  EXPECT_NEAR(x[1], -0.5f, 1.0f / 32768);
  EXPECT_EQ(x[2], 0.0f);
}

void write_with_sndfile(const std::string& path, int format, const std::vector<float>& x,
                        int rate) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 1;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  ASSERT_EQ(sf_writef_float(f, x.data(), sf_count_t(x.size())), sf_count_t(x.size()));
  sf_close(f);
}

TEST_F(Audio, DecodesFlacAndOgg) {
  const auto x = tone(8000, 440.0, 16000);
  write_with_sndfile(path("a.flac"), SF_FORMAT_FLAC | SF_FORMAT_PCM_16, x, 16000);
  write_with_sndfile(path("a.ogg"), SF_FORMAT_OGG | SF_FORMAT_VORBIS, x, 16000);
  const auto flac = load_mono(path("a.flac"));
  ASSERT_EQ(flac.size(), x.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(flac[i], x[i], 1.0 / 32768);
  const auto ogg = load_mono(path("a.ogg"));
  ASSERT_EQ(ogg.size(), x.size());
  double err = 0.0, energy = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (ogg[i] - x[i]) * (ogg[i] - x[i]);
    energy += x[i] * x[i];
  }
  EXPECT_LT(err / energy, 1e-2);  // lossy codec: signal-to-error above 20 dB
}

TEST_F(Audio, ResamplesToSixteenKilohertz) {
  const auto x = tone(44100, 1000.0, 44100);
  write_wav(path("r.wav"), x, 1, 44100, WavFormat::kFloat32);
  const auto y = load_mono(path("r.wav"), 16000);
  ASSERT_EQ(y.size(), 16000u);
  const auto ideal = tone(16000, 1000.0, 16000);
  double max_err = 0.0;
  for (size_t i = 400; i < 15600; ++i)
    max_err = std::max(max_err, double(std::abs(y[i] - ideal[i])));
  EXPECT_LT(max_err, 1e-4);  // SOXR_HQ: 20-bit precision, passband to 91 % of Nyquist
  EXPECT_EQ(resample(ideal, 16000, 16000), ideal);
}

TEST_F(Audio, PadAndCropForEvaluation) {
  std::vector<float> x = {1, 2, 3};
  pad_or_crop(x, 5);
  EXPECT_EQ(x, (std::vector<float>{1, 2, 3, 0, 0}));
  pad_or_crop(x, 2);
  EXPECT_EQ(x, (std::vector<float>{1, 2}));
}

TEST_F(Audio, RandomCropShiftsLikeTheReference) {
  std::vector<float> source(50000);
  for (size_t i = 0; i < source.size(); ++i) source[i] = float(i);
  core::RngStream rng(42, uint64_t(core::RngStreamId::kCrop));
  core::RngStream twin = rng;
  for (int trial = 0; trial < 20; ++trial) {
    auto x = source;
    const double onset = random_crop(x, 16000, 16000, rng);
    const int64_t start = twin.randint(0, 50000 - 16000);
    ASSERT_EQ(x.size(), 16000u);
    EXPECT_EQ(x.front(), float(start));
    EXPECT_EQ(x.back(), float(start + 15999));
    EXPECT_EQ(onset, crop_onset_seconds(start, 16000));
  }
  std::vector<float> short_clip = {1, 2};
  EXPECT_EQ(random_crop(short_clip, 4, 16000, rng), 0.0);
  EXPECT_EQ(short_clip, (std::vector<float>{1, 2, 0, 0}));
}

TEST_F(Audio, OnsetRoundsLikePython) {
  // Python: round(s / 16000, 3) for s in (8, 24, 40, 123457, 16008, 24008)
  EXPECT_EQ(crop_onset_seconds(8, 16000), 0.001);
  EXPECT_EQ(crop_onset_seconds(24, 16000), 0.002);
  EXPECT_EQ(crop_onset_seconds(40, 16000), 0.003);
  EXPECT_EQ(crop_onset_seconds(123457, 16000), 7.716);
  EXPECT_EQ(crop_onset_seconds(16008, 16000), 1.0);
  EXPECT_EQ(crop_onset_seconds(24008, 16000), 1.5);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST_F(Audio, MissingFileIsNamed) {
  EXPECT_EQ(error_of([&] { load_mono(path("nope.wav")); }),
            path("nope.wav") + ": cannot read audio: no such file");
}

TEST_F(Audio, EmptyFileIsNamed) {
  std::ofstream(path("empty.wav")).close();
  EXPECT_EQ(error_of([&] { load_mono(path("empty.wav")); }),
            path("empty.wav") + ": cannot read audio: the file is empty (0 bytes)");
}

TEST_F(Audio, CorruptFileGivesLibsndfilesReason) {
  std::ofstream(path("bad.wav")) << "this is not audio at all";
  EXPECT_EQ(error_of([&] { load_mono(path("bad.wav")); }),
            path("bad.wav") +
                ": cannot read audio: Format not recognised (libsndfile); expected a WAV, FLAC or "
                "OGG file");
}

TEST_F(Audio, HeaderWithoutSamplesIsRejected) {
  write_wav(path("zero.wav"), std::vector<float>{}, 1, 16000);
  EXPECT_EQ(error_of([&] { load_mono(path("zero.wav")); }),
            path("zero.wav") + ": cannot read audio: the file holds no samples");
}

TEST_F(Audio, DirectoryIsRejected) {
  EXPECT_EQ(error_of([&] { load_mono(dir_.string()); }),
            dir_.string() + ": cannot read audio: is a directory");
}

// Issue 15 item 3: NaN/Inf samples went into the cache as all-NaN features ("0 bad", exit 0).
TEST_F(Audio, NonFiniteSamplesAreBadInput) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  write_wav(path("nan.wav"), std::vector<float>{0.1f, nan, 0.2f, nan}, 1, 16000,
            WavFormat::kFloat32);
  EXPECT_EQ(error_of([&] { load_mono(path("nan.wav")); }),
            path("nan.wav") +
                ": bad audio: 2 of 4 samples are NaN or infinite (the first, sample 1 at 0.000 s, "
                "is nan); the file is corrupt or was written from a failed computation: regenerate "
                "it or remove it from the data");
  // one bad channel of a stereo file shows in the mix
  std::vector<float> stereo(2 * 16000, 0.25f);
  stereo[2 * 8000 + 1] = -inf;
  write_wav(path("inf.wav"), stereo, 2, 16000, WavFormat::kFloat32);
  const std::string e = error_of([&] { decode_mono(path("inf.wav"), nullptr); });
  EXPECT_NE(e.find("1 of 16000 samples are NaN or infinite (the first, sample 8000 at 0.500 s, is "
                   "-inf)"),
            std::string::npos)
      << e;
}

// Issue 15 item 14: libsndfile read a WAV cut short as a shorter clip, silently.
TEST_F(Audio, WavCutShortIsRejected) {
  write_wav(path("full.wav"), tone(16000, 440, 16000), 1, 16000);
  const auto size = fs::file_size(path("full.wav"));
  fs::copy_file(path("full.wav"), path("cut.wav"));
  fs::resize_file(path("cut.wav"), size - 10000);  // 5000 samples short
  EXPECT_EQ(error_of([&] { load_mono(path("cut.wav")); }),
            path("cut.wav") +
                ": cannot read audio: the file is cut short: its WAV header announces 16000 "
                "samples (1.000 s) but the file holds 11000 (0.688 s); copy or download it again");
  EXPECT_EQ(load_mono(path("full.wav")).size(), 16000u);
}

// Issue 12 item 3: one extension list; issue 15 items 5 and 14: links listed, never a crash.
TEST_F(Audio, OneExtensionListAndUnreadableEntriesListed) {
  EXPECT_TRUE(has_audio_extension("a/b.OGA"));
  EXPECT_TRUE(has_audio_extension("x.flac"));
  EXPECT_FALSE(has_audio_extension("x.mp3"));
  EXPECT_FALSE(has_audio_extension("wav"));
  EXPECT_EQ(audio_extensions_text(), ".wav, .flac, .ogg or .oga");
  write_wav(path("a.wav"), tone(160, 440, 16000), 1, 16000);
  write_wav(path("b.oga"), tone(160, 440, 16000), 1, 16000);  // libsndfile reads by content
  std::ofstream(path("notes.txt")) << "x";
  fs::create_symlink("loop.wav", path("loop.wav"));
  fs::create_symlink("nowhere.wav", path("dangling.flac"));
  fs::create_directory(path("dir.wav"));
  const FolderListing l = list_audio_folder(dir_.string());
  EXPECT_EQ(l.files, (std::vector<std::string>{path("a.wav"), path("b.oga")}));
  ASSERT_EQ(l.unreadable.size(), 3u);
  EXPECT_EQ(l.unreadable[0], path("dangling.flac") +
                                 ": dangling symbolic link (to 'nowhere.wav', which does not "
                                 "exist)");
  EXPECT_EQ(l.unreadable[1], path("dir.wav") + ": is a directory");
  EXPECT_EQ(l.unreadable[2].rfind(path("loop.wav") + ": symbolic link loop (", 0), 0u)
      << l.unreadable[2];
  EXPECT_EQ(error_of([&] {
              load_mono(path("loop.wav"));
            }).rfind(path("loop.wav") + ": cannot read audio: symbolic link loop", 0),
            0u);
  EXPECT_EQ(load_mono(path("b.oga")).size(), 160u);
}

}  // namespace
}  // namespace greensed::audio
