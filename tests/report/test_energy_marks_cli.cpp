// Which window each energy figure is, and estimates said where users read them (issue 13 item 2
// and item 5): `greensed normalize` names the window its factor uses (the training call, as the
// recipe's CodeCarbon training tracker) and prints the sum of the epochs and the whole run beside
// it; `greensed train`'s summary, `normalize` and `report` mark estimated figures; a train whose
// stderr is not a terminal prints plain progress lines (issue 12). A tiny 10-epoch run keeps it to
// seconds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "greensed/core/fs.hpp"

namespace {

namespace fs = std::filesystem;

const std::string kConfig = std::string(GREENSED_SOURCE_DIR) + "/configs/demo.yaml";
const std::string kTiny =
    " --set synth.n_synth_train=4 --set synth.n_synth_val=2 --set synth.n_weak=8"
    " --set synth.n_unlabeled=4 --set synth.n_test=2 --set 'training.batch_size=[1, 1, 2]'"
    " --set training.n_epochs=10 --set training.n_epochs_warmup=1"
    " --set training.batch_size_val=4 --set energy.measure_power_secs=0.2";

int sh(const fs::path& dir, const std::string& cmd, const std::string& log) {
  const std::string full = "cd '" + dir.string() + "' && " + cmd + " >" + log + " 2>&1";
  const int status = std::system(full.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string text(const fs::path& p) {
  return fs::exists(p) ? greensed::core::read_file(p.string()) : "";
}

TEST(EnergyMarks, NormalizeNamesItsWindowAndEveryFigureSaysHowItWasObtained) {
  const fs::path dir =
      fs::temp_directory_path() / ("greensed_test_energy_marks_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string g = std::string(GREENSED_BINARY);
  ASSERT_EQ(sh(dir, g + " synth --config " + kConfig + kTiny, "synth.log"), 0)
      << text(dir / "synth.log");
  ASSERT_EQ(
      sh(dir, g + " train --config " + kConfig + kTiny + " --run-dir run --progress-every 0.01",
         "train.log"),
      0)
      << text(dir / "train.log");

  const auto summary = nlohmann::json::parse(text(dir / "run/summary.json"));
  const auto& e = summary.at("energy");
  const double epochs = e.at("kwh_epochs"), call = e.at("kwh_training_call"), run = e.at("kwh_run");
  // The epochs < the training call (checkpoints between epochs) < the run (set-up, test).
  EXPECT_GT(call, epochs);
  EXPECT_LT(call, run);
  const bool estimate = e.at("estimate");
  for (const char* c : {"cpu", "ram", "gpu"}) {
    const std::string label = e.at(c);
    EXPECT_TRUE(label == "none" || label.rfind("ESTIMATE by ", 0) == 0 ||
                label.rfind("measured by ", 0) == 0)
        << c << ": " << label;
  }
  // stderr is a file here (as under Slurm or nohup): plain progress lines, in log.txt too.
  for (const auto& f : {dir / "train.log", dir / "run/log.txt"}) {
    const std::string t = text(f);
    EXPECT_NE(t.find("[train] epoch 1/10 step 1/2 (global 1)"), std::string::npos) << t;
    EXPECT_NE(t.find(" clips/s  ETA "), std::string::npos) << t;
    EXPECT_NE(t.find(" kWh so far"), std::string::npos) << t;
    EXPECT_EQ(t.find('\r'), std::string::npos) << "no terminal redraws in a log file";
  }
  // What will be measured or estimated is said before the first epoch starts.
  const size_t said = text(dir / "train.log").find("what this run's energy figures will be");
  ASSERT_NE(said, std::string::npos) << text(dir / "train.log");
  EXPECT_LT(said, text(dir / "train.log").find("[train] epoch 1/10"));
  // The end-of-training line says which window each figure is and how each part was obtained.
  const std::string log = text(dir / "train.log");
  EXPECT_NE(log.find("kWh for the training call (first epoch start to last epoch end)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("(cpu: " + e.at("cpu").get<std::string>() + "; ram: "), std::string::npos)
      << log;

  ASSERT_EQ(sh(dir, g + " normalize --config " + kConfig + " --from-run run", "norm.log"), 0)
      << text(dir / "norm.log");
  const auto n = nlohmann::json::parse(text(dir / "run/normalization.json"));
  EXPECT_EQ(n.at("window"), "training_call");
  EXPECT_DOUBLE_EQ(n.at("measured_kwh").get<double>(), call);
  EXPECT_DOUBLE_EQ(n.at("measured_kwh_10_epochs").get<double>(), epochs);
  EXPECT_DOUBLE_EQ(n.at("measured_kwh_whole_run").get<double>(), run);
  EXPECT_NEAR(n.at("normalisation_factor").get<double>(),
              n.at("reference_kwh").get<double>() / call,
              1e-9 * n.at("normalisation_factor").get<double>());
  EXPECT_EQ(n.at("estimate").get<bool>(), estimate);
  const std::string md = text(dir / "run/normalization.md");
  EXPECT_NE(md.find("the training call: first epoch start to last epoch end"), std::string::npos)
      << md;
  EXPECT_NE(md.find("the 10 epoch windows alone"), std::string::npos) << md;
  EXPECT_NE(md.find("the whole run (set-up and the test phase included)"), std::string::npos) << md;
  EXPECT_EQ(md.find("(an ESTIMATE)") != std::string::npos, estimate) << md;

  ASSERT_EQ(sh(dir, g + " report run --out rep", "report.log"), 0) << text(dir / "report.log");
  const std::string report = text(dir / "rep/report.md");
  EXPECT_NE(report.find("## How the energy was obtained"), std::string::npos) << report;
  EXPECT_NE(report.find("cpu: " + e.at("cpu").get<std::string>()), std::string::npos) << report;
  EXPECT_EQ(report.find("— ESTIMATED energy") != std::string::npos, estimate) << report;
  EXPECT_EQ(text(dir / "rep/f1_vs_energy.svg").find("ESTIMATE") != std::string::npos, estimate);
  EXPECT_EQ(text(dir / "rep/energy_per_batch_size.svg").find("ESTIMATE") != std::string::npos,
            estimate);
  if (!::testing::Test::HasFailure()) fs::remove_all(dir);
}

}  // namespace
