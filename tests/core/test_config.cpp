#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <map>

#include "greensed/core/config.hpp"
#include "greensed/core/error.hpp"

namespace greensed::core {
namespace {

std::string error_of(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(yaml, "my.yaml", overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Config, DefaultsAreThe2022Baseline) {
  const Config c = parse_config("", "empty.yaml").config;
  EXPECT_EQ(c.training.batch_size, (std::vector<int>{12, 12, 24}));
  EXPECT_EQ(c.training.n_epochs, 200);
  EXPECT_EQ(c.training.n_epochs_warmup, 50);
  EXPECT_DOUBLE_EQ(c.training.ema_factor, 0.999);
  EXPECT_EQ(c.feats.n_mels, 128);
  EXPECT_EQ(c.feats.hop_length, 256);
  EXPECT_EQ(c.net.nb_filters, (std::vector<int>{16, 32, 64, 128, 128, 128, 128}));
  EXPECT_EQ(c.net.pooling[1], (std::vector<int>{2, 2}));
  EXPECT_EQ(c.net.pooling[6], (std::vector<int>{1, 2}));
  EXPECT_DOUBLE_EQ(c.opt.lr, 0.001);
}

TEST(Config, ShippedConfigsLoadWithoutWarnings) {
  for (const char* name : {"configs/default.yaml", "configs/demo.yaml"}) {
    const auto loaded = load_config(std::string(GREENSED_SOURCE_DIR) + "/" + name);
    EXPECT_TRUE(loaded.warnings.empty()) << name << ": " << loaded.warnings.front();
  }
}

TEST(Config, ReferenceDefaultYamlLoadsUnchanged) {
  // The DESED_task 2022 recipe's confs/default.yaml, including its duplicated `precision` key:
  // one warning naming both lines, nothing else.
  const auto loaded =
      load_config(std::string(GREENSED_TEST_DATA_DIR) + "/config/desed_task_2022_default.yaml");
  ASSERT_EQ(loaded.warnings.size(), 1u);
  EXPECT_NE(loaded.warnings[0].find(
                "desed_task_2022_default.yaml:24: duplicate key 'training.precision' (also on "
                "line 21); the last one is used"),
            std::string::npos)
      << loaded.warnings[0];
  EXPECT_EQ(loaded.config.data.weak_tsv, "../../data/dcase/dataset/metadata/train/weak.tsv");
  EXPECT_EQ(loaded.config.training.seed, 42);
}

TEST(Config, OverridesApplyAndValidate) {
  const auto c = parse_config("training:\n  n_epochs: 3\n", "my.yaml",
                              {"training.n_epochs=10", "net.dropout=0.25", "synth.n_weak=4"})
                     .config;
  EXPECT_EQ(c.training.n_epochs, 10);
  EXPECT_DOUBLE_EQ(c.net.dropout, 0.25);
  EXPECT_EQ(c.synth.n_weak, 4);
}

TEST(Config, UnknownKeysAndSectionsAreWarningsThatNameThem) {
  const auto loaded =
      parse_config("training:\n  n_epoch: 3\npretrained:\n  model: beats\n", "my.yaml");
  ASSERT_EQ(loaded.warnings.size(), 2u);
  EXPECT_NE(loaded.warnings[0].find("my.yaml:2: unknown key 'training.n_epoch' is ignored"),
            std::string::npos)
      << loaded.warnings[0];
  EXPECT_NE(loaded.warnings[1].find("my.yaml:3: unknown section 'pretrained' is ignored"),
            std::string::npos)
      << loaded.warnings[1];
}

TEST(Config, IgnoredRnnLayersIsAWarning) {
  const auto loaded = parse_config("net:\n  rnn_layers: 1\n", "my.yaml");
  ASSERT_EQ(loaded.warnings.size(), 1u);
  EXPECT_EQ(loaded.warnings[0],
            "my.yaml: net.rnn_layers is 1 but, as in the reference recipe, it is ignored: the CRNN "
            "always has 2 GRU layers");
}

// Exact messages: each names the file and line (or the override), the key, the rule and the value.
TEST(ConfigErrors, WrongType) {
  EXPECT_EQ(error_of("training:\n  n_epochs: ten\n"),
            "my.yaml:2: training.n_epochs: expected an integer, found 'ten'");
}

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(error_of("net:\n  dropout: 1.5\n"),
            "my.yaml:2: net.dropout: must be in [0, 1); found '1.5'");
}

TEST(ConfigErrors, BadBatchComposition) {
  EXPECT_EQ(error_of("training:\n  batch_size: [12, 12]\n"),
            "my.yaml:2: training.batch_size: must be 3 positive integers [synthetic, weak, "
            "unlabelled], e.g. [12, 12, 24]; found [12, 12]");
}

TEST(ConfigErrors, UnknownChoice) {
  EXPECT_EQ(error_of("training:\n  mixup: medium\n"),
            "my.yaml:2: training.mixup: must be one of: soft, hard, none; found 'medium'");
}

TEST(ConfigErrors, InconsistentNetLists) {
  EXPECT_EQ(
      error_of("net:\n  nb_filters: [16, 32]\n"),
      "my.yaml: net.nb_filters, net.kernel_size, net.padding, net.stride and net.pooling must "
      "have one entry per CNN block; found 2, 7, 7, 7 and 7 entries");
}

TEST(ConfigErrors, NetIsValidatedAtLoadWithTheModelsWording) {
  EXPECT_EQ(error_of("net:\n  kernel_size: [3, 3, 5, 3, 3, 3, 3]\n"),
            "my.yaml: net.kernel_size: greensed's convolutions are 3x3 (every entry must be 3); "
            "found 5 at index 2");
}

TEST(ConfigErrors, SyntaxError) {
  EXPECT_EQ(error_of("training:\n  batch_size: [12, 12\n"),
            "my.yaml:3:1: not valid YAML: end of sequence flow not found");
}

TEST(ConfigErrors, SectionNotAMapping) {
  EXPECT_EQ(error_of("feats: 128\n"),
            "my.yaml:1: section 'feats' must be a mapping of keys, found '128'");
}

TEST(ConfigErrors, BadOverride) {
  EXPECT_EQ(error_of("", {"training.n_epochs=abc"}),
            "--set training.n_epochs=abc: training.n_epochs: expected an integer, found 'abc'");
  EXPECT_EQ(error_of("", {"n_epochs=3"}),
            "--set n_epochs=3: expected section.key=value, e.g. --set training.n_epochs=10");
}

TEST(ConfigErrors, FrequencyAboveNyquist) {
  EXPECT_EQ(error_of("feats:\n  f_max: 9000\n"),
            "my.yaml: feats.f_max must be at most half of feats.sample_rate (8000 Hz); found 9000");
}

TEST(ConfigErrors, MissingFile) {
  try {
    load_config("/nonexistent/x.yaml");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/nonexistent/x.yaml: cannot open the config file (no such file); pass an existing "
              "YAML file, e.g. configs/demo.yaml");
  }
}

TEST(Config, ResolvedYamlRoundTrips) {
  const auto a = parse_config("training:\n  n_epochs: 7\n", "a.yaml").config;
  const auto b = parse_config(config_to_yaml(a), "b.yaml");
  EXPECT_TRUE(b.warnings.empty());
  EXPECT_EQ(config_to_yaml(a), config_to_yaml(b.config));
  EXPECT_EQ(b.config.training.n_epochs, 7);
}

TEST(Config, BatchComposition) {
  EXPECT_EQ(batch_composition(48), (std::vector<int>{12, 12, 24}));
  EXPECT_EQ(batch_composition(4), (std::vector<int>{1, 1, 2}));
  EXPECT_THROW(batch_composition(6), InputError);
}

// config_entries: one entry per key, values comparable as text (what a resumed run compares).
TEST(Config, EntriesListEveryKeyWithItsValue) {
  const Config a = parse_config("training: {seed: 7}\nopt: {lr: 0.002}\n", "a.yaml").config;
  Config b = a;
  b.training.batch_size = {2, 2, 4};
  const auto ea = config_entries(a);
  const auto eb = config_entries(b);
  ASSERT_EQ(ea.size(), eb.size());
  std::map<std::string, std::string> m(ea.begin(), ea.end());
  EXPECT_EQ(m.size(), ea.size());  // no key twice
  EXPECT_EQ(m.at("training.seed"), "7");
  EXPECT_EQ(m.at("opt.lr"), "0.002");
  EXPECT_EQ(m.at("training.batch_size"), "[12, 12, 24]");
  int n_diff = 0;
  for (size_t i = 0; i < ea.size(); ++i) n_diff += ea[i] != eb[i];
  EXPECT_EQ(n_diff, 1);
}

// Issue 15 item 8: yaml-cpp's lookup found the FIRST of duplicate keys, silently; PyYAML (the
// recipe's loader) keeps the last.
TEST(Config, DuplicateKeysWarnWithBothLinesAndTheLastWins) {
  const auto loaded = parse_config(
      "training:\n  n_epochs: 3\n  seed: 1\n  n_epochs: 5\ndata:\n  synth_tsv: first.tsv\n"
      "net:\n  dropout: 0.1\ndata:\n  synth_tsv: second.tsv\n",
      "dup.yaml");
  EXPECT_EQ(loaded.config.training.n_epochs, 5);
  EXPECT_EQ(loaded.config.training.seed, 1);
  EXPECT_EQ(loaded.config.data.synth_tsv, "second.tsv");
  EXPECT_DOUBLE_EQ(loaded.config.net.dropout, 0.1);
  ASSERT_EQ(loaded.warnings.size(), 2u);
  EXPECT_EQ(loaded.warnings[0],
            "dup.yaml:4: duplicate key 'training.n_epochs' (also on line 2); the last one is used, "
            "as PyYAML (the recipe's loader) does: delete one of them");
  EXPECT_EQ(loaded.warnings[1],
            "dup.yaml:9: duplicate key 'data' (also on line 5); the last one is used, as PyYAML "
            "(the recipe's loader) does: delete one of them");
  // errors in a rebuilt section still name the line
  try {
    parse_config("training:\n  n_epochs: 3\n  n_epochs: -1\n", "dup.yaml");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("dup.yaml:3: training.n_epochs:", 0), 0u) << e.what();
  }
}

// Found by fuzz_config: a complex mapping key (`? [a, b]`) made yaml-cpp's as<std::string>()
// throw its own exception, which reached main as an internal error (exit 3). It is an unknown
// key or section like any other: a warning naming it.
TEST(Config, ComplexKeysAreUnknownKeysNotACrash) {
  LoadedConfig loaded;
  ASSERT_NO_THROW(loaded = parse_config("training:\n  ? [a, b]\n  : 1\n  n_epochs: 4\n"
                                        "? {x: 1}\n: 2\n",
                                        "complex.yaml"));
  EXPECT_EQ(loaded.config.training.n_epochs, 4);
  ASSERT_EQ(loaded.warnings.size(), 2u);
  EXPECT_NE(loaded.warnings[0].find("unknown key 'training.[a, b]' is ignored"), std::string::npos)
      << loaded.warnings[0];
  EXPECT_NE(loaded.warnings[1].find("unknown section '{x: 1}' is ignored"), std::string::npos)
      << loaded.warnings[1];
}

// Found by fuzz_config: `--set training.n_epochs=3` on a config whose `training:` is a scalar made
// yaml-cpp throw its own exception (exit 3, "operator[] call on a scalar"); on a sequence it was
// silently replaced by a mapping. Both are the section's error, naming the file and line.
TEST(ConfigErrors, OverrideIntoASectionThatIsNotAMapping) {
  for (const auto& [yaml, found] :
       {std::pair{"training: 5\n", "'5'"}, std::pair{"data: {}\ntraining: [1, 2]\n", "[1, 2]"}}) {
    try {
      parse_config(yaml, "my.yaml", {"training.n_epochs=3"});
      ADD_FAILURE() << "no error for " << yaml;
    } catch (const InputError& e) {
      const std::string line = std::string(yaml).rfind("training", 0) == 0 ? "1" : "2";
      EXPECT_EQ(std::string(e.what()),
                "my.yaml:" + line + ": section 'training' must be a mapping of keys, found " +
                    found + " (so --set training.n_epochs=3 cannot set a key in it)");
    }
  }
}

// Issue 15 item 5: std::filesystem::exists threw on a symlink loop (exit 3).
TEST(ConfigErrors, SymlinkLoopIsAnInputError) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("greensed_config_loop_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::create_symlink("loop.yaml", dir / "loop.yaml");
  EXPECT_THROW(load_config((dir / "loop.yaml").string()), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace greensed::core
