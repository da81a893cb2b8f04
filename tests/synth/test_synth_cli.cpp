// `greensed synth` end to end: a tiny config produces a DESED tree that the data loader accepts,
// deterministically for any thread count, and never overwrites audio it did not make.
#include <gtest/gtest.h>

#include <sndfile.h>
#include <unistd.h>
#include "support/run_command.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "greensed/core/config.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/data/datasets.hpp"

namespace {

namespace fs = std::filesystem;
using namespace greensed;

using Result = greensed::test::CommandResult;

Result run(const std::string& args) {
  return greensed::test::run_greensed(args);
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("greensed_synth_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A tiny config whose data section points under `root` (the layout of configs/demo.yaml).
std::string write_config(const fs::path& root, const std::string& extra = "") {
  const std::string r = root.string();
  std::string yaml = "data:\n";
  const std::pair<const char*, const char*> keys[] = {
      {"synth_folder", "audio/train/synthetic21_train/soundscapes_16k/"},
      {"synth_tsv", "metadata/train/synthetic21_train/soundscapes.tsv"},
      {"weak_folder", "audio/train/weak_16k/"},
      {"weak_tsv", "metadata/train/weak.tsv"},
      {"unlabeled_folder", "audio/train/unlabel_in_domain_16k/"},
      {"synth_val_folder", "audio/validation/synthetic21_validation/soundscapes_16k/"},
      {"synth_val_tsv", "metadata/validation/synthetic21_validation/soundscapes.tsv"},
      {"synth_val_dur", "metadata/validation/synthetic21_validation/durations.tsv"},
      {"test_folder", "audio/validation/validation_16k/"},
      {"test_tsv", "metadata/validation/validation.tsv"},
      {"test_dur", "metadata/validation/validation_durations.tsv"}};
  for (const auto& [k, v] : keys) yaml += std::string("  ") + k + ": " + r + "/" + v + "\n";
  yaml +=
      "synth:\n  seed: 7\n  n_synth_train: 8\n  n_synth_val: 4\n  n_weak: 8\n"
      "  n_unlabeled: 8\n  n_test: 9\n" +
      extra;
  fs::create_directories(root);
  const auto path = root / "tiny.yaml";
  std::ofstream(path) << yaml;
  return path.string();
}

void write_wav(const fs::path& path, int rate, double seconds, double freq) {
  fs::create_directories(path.parent_path());
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = 2;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr);
  std::vector<float> x(size_t(seconds * rate) * 2);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(0.3 * std::sin(2 * M_PI * freq * (i / 2) / rate));
  sf_writef_float(f, x.data(), sf_count_t(x.size() / 2));
  sf_close(f);
}

TEST(SynthCli, TreeIsAcceptedByTheLoaderAndDeterministic) {
  TempDir a, b;
  const auto config_a = write_config(a.path / "data");
  const auto ra = run("synth --config " + config_a + " --threads 2");
  ASSERT_EQ(ra.code, 0) << ra.output;
  EXPECT_NE(ra.output.find("[synth] wrote 37 clips"), std::string::npos) << ra.output;

  const auto loaded = core::load_config(config_a);
  const auto sets = data::load_desed_sets(loaded.config);
  EXPECT_EQ(sets.synth_train.clips.size(), 8u);
  EXPECT_EQ(sets.synth_val.clips.size(), 4u);
  EXPECT_EQ(sets.synth_val.durations.size(), 4u);
  EXPECT_EQ(sets.weak_train.clips.size() + sets.weak_val.clips.size(), 8u);
  EXPECT_EQ(sets.unlabeled.files.size(), 8u);
  EXPECT_EQ(sets.test.clips.size(), 9u);
  int n_empty = 0;
  for (const auto& c : sets.test.clips) n_empty += c.events.empty();
  EXPECT_GE(n_empty, 2);  // event-less clips kept as one empty row
  // 16 kHz mono 16-bit audio of the listed duration.
  SF_INFO info{};
  SNDFILE* f = sf_open((fs::path(sets.synth_train.folder) / "0.wav").c_str(), SFM_READ, &info);
  ASSERT_NE(f, nullptr);
  sf_close(f);
  EXPECT_EQ(info.samplerate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.frames, 160000);
  EXPECT_EQ(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  // The real-like validation keeps the real clip durations (some shorter than 10 s) and has a
  // stereo clip (the 8th).
  int n_stereo = 0, n_short = 0;
  for (const auto& d : sets.test.durations) {
    SF_INFO ti{};
    SNDFILE* tf = sf_open((fs::path(sets.test.folder) / d.filename).c_str(), SFM_READ, &ti);
    ASSERT_NE(tf, nullptr) << d.filename;
    sf_close(tf);
    EXPECT_EQ(ti.frames, std::lround(d.duration * 16000)) << d.filename;
    n_stereo += ti.channels == 2;
    n_short += d.duration < 9.95;
  }
  EXPECT_GE(n_short, 2);
  EXPECT_EQ(n_stereo, 1);

  // Same seed on one thread under --out: byte-identical audio and tables.
  const auto rb = run("synth --config " + config_a + " --threads 1 --out " + b.path.string());
  ASSERT_EQ(rb.code, 0) << rb.output;
  const fs::path root_a = a.path / "data";
  for (const char* rel :
       {"audio/train/synthetic21_train/soundscapes_16k/3.wav",
        "metadata/train/synthetic21_train/soundscapes.tsv", "metadata/train/weak.tsv",
        "metadata/validation/validation.tsv", "metadata/validation/validation_durations.tsv"}) {
    EXPECT_EQ(core::read_file((root_a / rel).string()), core::read_file((b.path / rel).string()))
        << rel;
  }
  // Running again over its own output is allowed (the marker says the audio is ours).
  EXPECT_EQ(run("synth --config " + config_a + " --threads 2").code, 0);
}

TEST(SynthCli, RefusesToOverwriteForeignAudio) {
  TempDir t;
  const auto config = write_config(t.path / "data");
  const auto weak = t.path / "data/audio/train/weak_16k";
  fs::create_directories(weak);
  std::ofstream(weak / "Yreal_0.000_10.000.wav") << "x";
  const auto r = run("synth --config " + config);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("data.weak_folder: " + weak.string() +
                          "/ holds 1 audio files not made by `greensed synth` (no .greensed_synth "
                          "marker); refusing to overwrite them: choose another --out DIR or data "
                          "paths, or empty the folder"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(fs::exists(weak / "Yreal_0.000_10.000.wav"));
}

TEST(SynthCli, UsesARealSourceLibraryWhenPresent) {
  TempDir t;
  write_wav(t.path / "lib/foreground/Dog/bark.wav", 44100, 0.6, 700);
  write_wav(t.path / "lib/background/rain.wav", 22050, 3.0, 90);
  const auto config =
      write_config(t.path / "data", "  sources_dir: " + (t.path / "lib").string() + "\n");
  const auto r = run("synth --config " + config);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("[synth] real recordings mixed in for: Dog; 1 real backgrounds"),
            std::string::npos)
      << r.output;
}

}  // namespace
