// `greensed synth --config configs/demo.yaml` (the embedded default, 950 clips) writes where the
// demo's data section points, and the data loader accepts the tree with the same config.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "greensed/core/config.hpp"
#include "greensed/data/datasets.hpp"

namespace {

namespace fs = std::filesystem;
using namespace greensed;

TEST(SynthDemo, DemoConfigTreeLoads) {
  const fs::path dir = fs::temp_directory_path() / ("greensed_demo_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string config = std::string(GREENSED_SOURCE_DIR) + "/configs/demo.yaml";
  const std::string command =
      "cd " + dir.string() + " && " + GREENSED_BINARY + " synth --config " + config + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const fs::path cwd = fs::current_path();
  fs::current_path(dir);  // the demo's data paths are relative, as in the reference recipe
  const auto loaded = core::load_config(config);
  const auto sets = data::load_desed_sets(loaded.config);
  fs::current_path(cwd);
  EXPECT_EQ(sets.synth_train.clips.size(), size_t(loaded.config.synth.n_synth_train));
  EXPECT_EQ(sets.synth_val.clips.size(), size_t(loaded.config.synth.n_synth_val));
  EXPECT_EQ(sets.weak_train.clips.size() + sets.weak_val.clips.size(),
            size_t(loaded.config.synth.n_weak));
  EXPECT_EQ(sets.unlabeled.files.size(), size_t(loaded.config.synth.n_unlabeled));
  EXPECT_EQ(sets.test.clips.size(), size_t(loaded.config.synth.n_test));
  fs::remove_all(dir);
}

}  // namespace
