// `greensed features` end to end: config folders, bad files (exit 2, every one named, the rest
// cached), a second run computes nothing, --dump writes [frames, mels] float32 .npy in [0, 1].
#include <gtest/gtest.h>

#include "support/run_command.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "greensed/audio/audio.hpp"
#include "greensed/features/npy.hpp"

namespace {

namespace fs = std::filesystem;
using namespace greensed;

using Result = greensed::test::CommandResult;

Result run(const std::string& args) {
  return greensed::test::run_greensed(args);
}

class FeaturesCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("greensed_cmd_features_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    for (const char* sub : {"synth", "weak"}) fs::create_directories(dir_ / sub);
    for (int i = 0; i < 3; ++i) write_clip((dir_ / "synth" / fmt("s{}.wav", i)).string(), i);
    for (int i = 0; i < 2; ++i) write_clip((dir_ / "weak" / fmt("w{}.wav", i)).string(), 5 + i);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string fmt(const char* pattern, int i) {
    std::string s = pattern;
    return s.replace(s.find("{}"), 2, std::to_string(i));
  }
  static void write_clip(const std::string& path, int seed) {
    std::vector<float> x(16000 * 2);
    for (size_t k = 0; k < x.size(); ++k)
      x[k] = 0.2f * std::sin(0.01f * float(k) * float(seed + 1));
    audio::write_wav(path, x, 1, 16000);
  }
  std::string config() const {
    const std::string path = (dir_ / "conf.yaml").string();
    std::ofstream(path) << "data:\n  synth_folder: " << (dir_ / "synth").string()
                        << "\n  weak_folder: " << (dir_ / "weak").string()
                        << "\n  unlabeled_folder: " << (dir_ / "missing").string()
                        << "\nfeatures:\n  cache_dir: " << (dir_ / "cache").string() << "\n";
    return path;
  }
  fs::path dir_;
};

TEST_F(FeaturesCommand, ConfigFoldersAndSecondRunComputesNothing) {
  auto r = run("features --threads 2 --config " + config());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("5 computed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("data.unlabeled_folder = " + (dir_ / "missing").string() +
                          " does not exist; skipped"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "cache" / "index.json"));
  r = run("features --threads 2 --config " + config());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("0 computed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("5 already cached"), std::string::npos) << r.output;
  // --dump names config clips by their data key (DESED reuses 0.wav, 1.wav, ... across sets)
  r = run("features --config " + config() + " --dump " + (dir_ / "dump").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "dump" / "synth_folder" / "s2.npy"));
  EXPECT_TRUE(fs::exists(dir_ / "dump" / "weak_folder" / "w1.npy"));
}

TEST_F(FeaturesCommand, CorruptFileIsNamedAndTheRestCached) {
  const auto bad = dir_ / "synth" / "corrupt.wav";
  std::ofstream(bad) << "RIFF....WAVEjunkjunkjunk";
  const auto r = run("features --threads 2 --input " + (dir_ / "synth").string() + " --cache " +
                     (dir_ / "c").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("1 of 4 audio files could not be read"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(bad.string() + ": cannot read audio:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 computed"), std::string::npos) << r.output;
  const auto again = run("features --threads 2 --input " + (dir_ / "synth").string() + " --cache " +
                         (dir_ / "c").string());
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.output.find("0 computed"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("3 already cached"), std::string::npos) << again.output;
}

TEST_F(FeaturesCommand, DumpWritesScaledFeatures) {
  const auto r = run("features --input " + (dir_ / "weak").string() + " --cache " +
                     (dir_ / "c").string() + " --dump " + (dir_ / "dump").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto a = features::read_npy_f32((dir_ / "dump" / "w0.npy").string());
  ASSERT_EQ(a.shape, (std::vector<int64_t>{626, 128}));
  float lo = 1, hi = 0;
  for (const float v : a.values) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_EQ(lo, 0.0f);
  EXPECT_NEAR(hi, 1.0f, 1e-6);
  EXPECT_TRUE(fs::exists(dir_ / "dump" / "w1.npy"));
}

TEST_F(FeaturesCommand, MissingInputIsBadInput) {
  const auto r = run("features --input " + (dir_ / "nowhere").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--input " + (dir_ / "nowhere").string() + ": no such file or directory"),
            std::string::npos)
      << r.output;
}

}  // namespace
