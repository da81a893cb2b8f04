// Bad and unusual input files end to end (issue 15 items 3, 5, 12, 13, 14; issue 12 item 3):
// `greensed features`, `greensed infer` and `greensed energy` name every bad file with exit 2
// (never exit 3, never a silent result), list unreadable links, accept every audio extension, and
// infer scores a long file whole.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "greensed/audio/audio.hpp"
#include "greensed/core/config.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/data/labels.hpp"
#include "greensed/model/crnn.hpp"
#include "greensed/train/checkpoint.hpp"
#include "support/run_command.hpp"

namespace {

namespace fs = std::filesystem;
using namespace greensed;
using greensed::test::run_greensed;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class InputsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("greensed_inputs_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "in");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& rel) const { return (dir_ / rel).string(); }
  // A tone of `seconds` at 16 kHz (float WAV, so that NaN and inf survive).
  void write_clip(const std::string& rel, double seconds, float poison = 0.0f) const {
    std::vector<float> x(size_t(seconds * 16000));
    for (size_t k = 0; k < x.size(); ++k) x[k] = 0.2f * std::sin(0.05f * float(k));
    if (poison != 0.0f) x[x.size() / 2] = poison;
    audio::write_wav(path(rel), x, 1, 16000, audio::WavFormat::kFloat32);
  }
  // A checkpoint of an untrained CRNN of the default config (what infer needs to run).
  std::string checkpoint() const {
    const core::Config config = core::parse_config("", "(defaults)").config;
    model::Crnn student(config.net), teacher(config.net);
    core::RngStream rng(7, uint64_t(core::RngStreamId::kInit));
    student.init_parameters(rng);
    core::RngStream rng2(7, uint64_t(core::RngStreamId::kInit));
    teacher.init_parameters(rng2);
    train::save_checkpoint(path("model.safetensors"), student, teacher, {}, {},
                           train::TrainState{});
    return path("model.safetensors");
  }
  static size_t n_rows(const std::string& file) {
    std::ifstream in(file);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
    return n - 1;  // header
  }
  fs::path dir_;
};

// Item 3: NaN samples were cached as all-NaN features ("0 bad", exit 0).
TEST_F(InputsCli, FeaturesRejectNonFiniteAudioAndCacheNothingForIt) {
  write_clip("in/good.wav", 1.0);
  write_clip("in/nan.wav", 1.0, std::numeric_limits<float>::quiet_NaN());
  write_clip("in/inf.wav", 1.0, std::numeric_limits<float>::infinity());
  const auto r = run_greensed("features --input " + path("in") + " --cache " + path("cache"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "2 of 3 audio files could not be read")) << r.output;
  EXPECT_TRUE(contains(r.output, path("in/nan.wav") + ": bad audio: 1 of 16000 samples are NaN or "
                                                      "infinite"))
      << r.output;
  EXPECT_TRUE(contains(r.output, path("in/inf.wav") + ": bad audio:")) << r.output;
  std::ifstream in(path("cache/index.json"));
  const auto index = nlohmann::json::parse(in);
  const std::string dump = index.dump();
  EXPECT_TRUE(contains(dump, "good.wav")) << dump;
  EXPECT_FALSE(contains(dump, "nan.wav")) << dump;
  EXPECT_FALSE(contains(dump, "inf.wav")) << dump;
}

// Items 3, 5 and 14: infer wrote -nan scores; a symlink loop aborted the whole run with exit 3;
// a dangling link was skipped unlisted. Now each is skipped and listed, the rest is scored.
TEST_F(InputsCli, InferSkipsAndListsBadFilesAndLinks) {
  write_clip("in/good.wav", 2.0);
  write_clip("in/nan.wav", 2.0, std::numeric_limits<float>::quiet_NaN());
  fs::create_symlink("loop.wav", dir_ / "in" / "loop.wav");
  fs::create_symlink("gone.wav", dir_ / "in" / "dangling.wav");
  const auto r = run_greensed("infer --checkpoint " + checkpoint() + " --input " + path("in") +
                              " --out " + path("out"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "3 file(s) could not be read (the others were processed)"))
      << r.output;
  EXPECT_TRUE(contains(r.output, path("in/nan.wav") + ": bad audio:")) << r.output;
  EXPECT_TRUE(contains(r.output, path("in/loop.wav") + ": symbolic link loop")) << r.output;
  EXPECT_TRUE(contains(r.output, path("in/dangling.wav") + ": dangling symbolic link")) << r.output;
  EXPECT_TRUE(fs::exists(path("out/scores/good.tsv")));
  EXPECT_FALSE(fs::exists(path("out/scores/nan.tsv")));
  std::ifstream in(path("out/scores/good.tsv"));
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_FALSE(contains(text.str(), "nan")) << text.str().substr(0, 400);
}

// Items 5 and 14: the same links in a features folder are listed (exit 2), never exit 3; a link
// loop given as --input says so instead of "no such file".
TEST_F(InputsCli, FeaturesListLinksAndNameALoopGivenAsInput) {
  write_clip("in/good.wav", 1.0);
  fs::create_symlink("loop.wav", dir_ / "in" / "loop.wav");
  fs::create_symlink("gone.wav", dir_ / "in" / "dangling.wav");
  auto r = run_greensed("features --input " + path("in") + " --cache " + path("cache"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "2 of 3 audio files could not be read")) << r.output;
  EXPECT_TRUE(contains(r.output, path("in/loop.wav") + ": symbolic link loop")) << r.output;
  EXPECT_TRUE(contains(r.output, path("in/dangling.wav") + ": dangling symbolic link (to "
                                                           "'gone.wav', which does not exist)"))
      << r.output;
  for (const std::string& command :
       {"features --cache " + path("cache") + " --input ",
        std::string("infer --checkpoint x --out ") + path("o") + " --input "}) {
    r = run_greensed(command + path("in/loop.wav"));
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_TRUE(contains(r.output, "--input " + path("in/loop.wav") + ": symbolic link loop"))
        << r.output;
  }
}

// Item 14: features exited 0 on a folder without audio while infer exited 2.
TEST_F(InputsCli, FolderWithoutAudioIsExit2ForFeaturesAndInfer) {
  std::ofstream(path("in/notes.txt")) << "x";
  auto r = run_greensed("features --input " + path("in") + " --cache " + path("cache"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(
      r.output, "--input " + path("in") + ": holds no audio file (.wav, .flac, .ogg or .oga)"))
      << r.output;
  r = run_greensed("infer --checkpoint x --out " + path("o") + " --input " + path("in"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "holds no audio file (.wav, .flac, .ogg or .oga)")) << r.output;
  // the config's folders exist but hold no audio
  fs::create_directories(dir_ / "synth");
  std::ofstream(path("c.yaml")) << "data:\n  synth_folder: " << path("synth")
                                << "\nfeatures:\n  cache_dir: " << path("cache") << "\n";
  r = run_greensed("features --config " + path("c.yaml"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, path("c.yaml") + ": the data folders hold no audio file"))
      << r.output;
}

// Issue 12 item 3: .oga was accepted by the label tables but skipped by features and infer.
TEST_F(InputsCli, OgaIsAudioForFeaturesAndInfer) {
  write_clip("in/clip.oga", 1.0);  // WAV content: libsndfile reads by content, not by name
  auto r = run_greensed("features --input " + path("in") + " --cache " + path("cache"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "1 computed")) << r.output;
  r = run_greensed("infer --checkpoint " + checkpoint() + " --input " + path("in") + " --out " +
                   path("out"));
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(path("out/scores/clip.tsv")));
}

// Item 14: a WAV whose data chunk is cut short was accepted silently.
TEST_F(InputsCli, CutShortWavIsBadInput) {
  write_clip("in/cut.wav", 1.0);
  fs::resize_file(path("in/cut.wav"), fs::file_size(path("in/cut.wav")) - 8000);
  const auto r = run_greensed("features --input " + path("in") + " --cache " + path("cache"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, path("in/cut.wav") + ": cannot read audio: the file is cut short: "
                                                      "its WAV header announces 16000 samples"))
      << r.output;
}

// Item 12: infer scored only the first 10 s of a longer file (2 hours gave 156 frames).
TEST_F(InputsCli, InferScoresALongFileWhole) {
  write_clip("in/long.wav", 25.0);
  write_clip("in/short.wav", 10.0);
  const auto r = run_greensed("infer --checkpoint " + checkpoint() + " --input " + path("in") +
                              " --out " + path("out"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(
      contains(r.output, path("in/long.wav") + ": 25.0 s scored whole, in 3 windows of 10 s"))
      << r.output;
  EXPECT_EQ(n_rows(path("out/scores/short.tsv")), 156u);  // 10 s: unchanged
  // 25 s / 0.064 s per frame = 390.6 -> 391 frames, touching, the last one ending at 25 s
  EXPECT_EQ(n_rows(path("out/scores/long.tsv")), 391u);
  std::ifstream in(path("out/scores/long.tsv"));
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  EXPECT_EQ(last.substr(0, last.find('\t', last.find('\t') + 1)), "24.960\t25.000") << last;
  // evaluate accepts the long score file (frames touch)
  std::string gt = "filename\tonset\toffset\tevent_label\n";
  for (size_t c = 0; c < data::kClassNames.size(); ++c)
    gt += "long.wav\t" + std::to_string(2 * c) + "\t" + std::to_string(2 * c + 1) + "\t" +
          std::string(data::kClassNames[c]) + "\n";
  std::ofstream(path("gt.tsv")) << gt;
  std::ofstream(path("dur.tsv")) << "filename\tduration\nlong.wav\t25.0\nshort.wav\t10.0\n";
  const auto e = run_greensed("evaluate --ground-truth " + path("gt.tsv") + " --durations " +
                              path("dur.tsv") + " --scores " + path("out/scores"));
  EXPECT_EQ(e.code, 0) << e.output;
}

// Items 3 and 5 in `greensed train`: a clip with a NaN sample trained until "training diverged"
// without naming the clip; a symlink loop in a data folder aborted the run with exit 3. Now the
// loop is listed as a warning and the NaN clip is an InputError naming it, before any epoch.
TEST_F(InputsCli, TrainNamesANonFiniteClipAndListsALinkLoop) {
  const std::string config = std::string(GREENSED_SOURCE_DIR) + "/configs/demo.yaml";
  const std::string tiny =
      " --set synth.n_synth_train=8 --set synth.n_synth_val=4 --set synth.n_weak=8"
      " --set synth.n_unlabeled=8 --set synth.n_test=4 --set training.n_epochs=1"
      " --set training.batch_size=[1,1,2] --set training.batch_size_val=4";
  const std::string in_dir = "cd " + dir_.string() + " && " + GREENSED_BINARY;
  auto r = test::run_shell(in_dir + " synth --config " + config + tiny);
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path weak = dir_ / "data/demo/audio/train/weak_16k";
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(weak)) {
    if (e.path().extension() == ".wav") names.push_back(e.path().filename().string());
  }
  ASSERT_FALSE(names.empty());
  std::sort(names.begin(), names.end());
  write_clip("data/demo/audio/train/weak_16k/" + names[0], 10.0,
             std::numeric_limits<float>::quiet_NaN());
  fs::create_symlink("loop.wav", dir_ / "data/demo/audio/train/unlabel_in_domain_16k/loop.wav");
  r = test::run_shell(in_dir + " train --config " + config + " --run-dir runs/x" + tiny);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_TRUE(contains(
      r.output, "weak_16k/" + names[0] + ": bad audio: 1 of 160000 samples are NaN or infinite"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "unlabel_in_domain_16k/loop.wav: symbolic link loop")) << r.output;
  EXPECT_FALSE(contains(r.output, "diverged")) << r.output;
}

// Item 14: a command that does not exist still wrote a 0 kWh emissions row.
TEST_F(InputsCli, EnergyWithACommandThatDoesNotExistWritesNoRow) {
  const auto r = run_greensed("energy --out " + path("e") + " -- greensed_no_such_command_x");
  EXPECT_EQ(r.code, 127) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "could not run 'greensed_no_such_command_x': No such file or "
                       "directory; nothing was measured and no emissions row written"))
      << r.output;
  EXPECT_FALSE(fs::exists(path("e/emissions.csv")));
  EXPECT_FALSE(fs::exists(path("e/energy_checkpoint.json")));
}

}  // namespace
