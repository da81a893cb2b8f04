#include <gtest/gtest.h>

#include "greensed/core/error.hpp"
#include "greensed/train/sweep.hpp"

namespace greensed::train {
namespace {

const char* kSweep = R"(base_config: configs/demo.yaml
batch_sizes: [8, 16]
seeds: [1, 2]
grid:
  training.n_epochs: [5]
set: [training.validation_interval=1]
slurm:
  partition: gpu
  time: "02:00:00"
  cpus_per_task: 4
  mem: 8G
  gpus: 1
  extra: ["--qos=short"]
)";

std::string error_of(const std::string& yaml) {
  try {
    parse_sweep(yaml, "sweep.yaml");
  } catch (const core::InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Sweep, ExpandsBatchSeedAndGrid) {
  const Sweep s = parse_sweep(kSweep, "sweep.yaml");
  ASSERT_EQ(s.runs.size(), 4u);
  EXPECT_EQ(s.runs[0].name, "b8_s1_training.n_epochs-5");
  EXPECT_EQ(s.runs[3].name, "b16_s2_training.n_epochs-5");
  EXPECT_EQ(
      s.runs[1].overrides,
      (std::vector<std::string>{"training.validation_interval=1", "training.batch_size=[2, 2, 4]",
                                "training.seed=2", "training.n_epochs=5"}));
}

TEST(Sweep, SlurmScriptHasArrayResourcesAndPerTaskCommand) {
  const Sweep s = parse_sweep(kSweep, "sweep.yaml");
  const std::string script = slurm_script(s, "/tmp/out", "/opt/greensed");
  EXPECT_NE(script.find("#SBATCH --array=0-3\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --cpus-per-task=4\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --mem=8G\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --time=02:00:00\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --partition=gpu\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --gres=gpu:1\n"), std::string::npos);
  EXPECT_NE(script.find("#SBATCH --qos=short\n"), std::string::npos);
  EXPECT_NE(script.find("  1) overrides=(--set 'training.validation_interval=1' --set "
                        "'training.batch_size=[2, 2, 4]' --set 'training.seed=2' --set "
                        "'training.n_epochs=5') ;;"),
            std::string::npos)
      << script;
  EXPECT_NE(script.find("exec '/opt/greensed' train --config '"), std::string::npos);
  EXPECT_NE(script.find("--run-dir '/tmp/out'/\"$name\" --resume"), std::string::npos) << script;
}

TEST(SweepErrors, BatchNotMultipleOfFour) {
  EXPECT_EQ(
      error_of("base_config: c.yaml\nbatch_sizes: [8, 6]\n"),
      "sweep.yaml:2: batch_sizes: 6 is not a positive multiple of 4 (1/4 synthetic, 1/4 weak, "
      "1/2 unlabelled)");
}

TEST(SweepErrors, UnknownKey) {
  EXPECT_EQ(error_of("base_config: c.yaml\nseed: [1]\n"),
            "sweep.yaml:2: unknown key 'seed' (known: base_config, batch_sizes, seeds, grid, set, "
            "slurm)");
}

TEST(SweepErrors, GridValueIsValidatedAgainstTheConfigSchema) {
  EXPECT_EQ(error_of("base_config: c.yaml\nbatch_sizes: [8]\nseeds: [1]\ngrid:\n  "
                     "training.n_epochs: [zero]\n"),
            "sweep.yaml: run b8_s1_training.n_epochs-zero: --set training.n_epochs=zero: "
            "training.n_epochs: expected an integer, found 'zero'");
}

TEST(SweepErrors, MissingBaseConfig) {
  EXPECT_EQ(error_of("seeds: [1]\n"),
            "sweep.yaml: base_config is required (the config every run starts from)");
}

}  // namespace
}  // namespace greensed::train
