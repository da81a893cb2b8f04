// The run directory's rules (src/train/run_dir.cpp): the lock, the resume decision, the config
// check with its history, rows kept when a resume re-trains them, and the validation-set check.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/model/safetensors.hpp"
#include "greensed/report/epochs.hpp"
#include "greensed/train/checkpoint.hpp"
#include "greensed/train/run_dir.hpp"

namespace greensed::train {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("greensed_test_run_dir_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

// A checkpoint file holding only the train state (enough for the resume decision's listing).
void write_state_only_checkpoint(const fs::path& path, int epoch) {
  TrainState s;
  s.epoch = epoch;
  model::Safetensors file;
  file.metadata["greensed.train_state"] = train_state_to_json(s);
  model::write_safetensors(path.string(), file);
}

void write_rows(const fs::path& run, int n) {
  std::string text = report::epochs_csv_header();
  for (int e = 1; e <= n; ++e) {
    report::EpochRecord r;
    r.epoch = e;
    r.step = e * 4;
    text += report::epochs_csv_row(r);
  }
  core::write_file_atomic((run / "epochs.csv").string(), text);
}

TEST(RunDir, LockIsExclusiveAcrossProcessesAndNamesTheHolder) {
  const fs::path run = fresh_dir("lock");
  int to_parent[2], to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  const pid_t child = fork();
  if (child == 0) {
    int code = 0;
    try {
      auto lock = lock_run_dir(run.string());
      char c = 'L';
      if (write(to_parent[1], &c, 1) != 1) code = 4;
      if (read(to_child[0], &c, 1) != 1) code = 5;  // hold the lock until told
    } catch (...) {
      code = 3;
    }
    _exit(code);
  }
  char c = 0;
  ASSERT_EQ(read(to_parent[0], &c, 1), 1);
  const std::string msg = message_of([&] { lock_run_dir(run.string()); });
  EXPECT_NE(msg.find("in use by process " + std::to_string(child)), std::string::npos) << msg;
  EXPECT_NE(msg.find("--run-dir"), std::string::npos) << msg;
  ASSERT_EQ(write(to_child[1], "x", 1), 1);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Released with the process: this process takes it, and a second call returns the same lock.
  auto a = lock_run_dir(run.string());
  auto b = lock_run_dir((run / "." / "").string());
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(core::read_file((run / "run.lock").string()), std::to_string(getpid()) + "\n");
}

TEST(RunDir, ResumeWithRowsButNoLastCheckpointRefusesAndChangesNothing) {
  const fs::path run = fresh_dir("resume_refuses");
  write_rows(run, 3);
  write_state_only_checkpoint(run / "checkpoints/best.safetensors", 2);
  const std::string before = core::read_file((run / "epochs.csv").string());
  const std::string msg = message_of([&] { plan_resume(run.string(), true, ""); });
  EXPECT_NE(msg.find("3 epoch row(s)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no checkpoints/last.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--resume-from checkpoints/best.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(after epoch 2)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("new --run-dir"), std::string::npos) << msg;
  EXPECT_EQ(core::read_file((run / "epochs.csv").string()), before);
  EXPECT_TRUE(fs::exists(run / "checkpoints/best.safetensors"));

  // The offered choice works: relative to the run directory, or as given.
  ResumePlan p = plan_resume(run.string(), true, "checkpoints/best.safetensors");
  EXPECT_TRUE(p.from_checkpoint);
  EXPECT_EQ(p.checkpoint, (run / "checkpoints/best.safetensors").string());
  p = plan_resume(run.string(), false, (run / "checkpoints/best.safetensors").string());
  EXPECT_EQ(p.checkpoint, (run / "checkpoints/best.safetensors").string());
  EXPECT_NE(message_of([&] {
              plan_resume(run.string(), true, "checkpoints/nope.safetensors");
            }).find("no such checkpoint"),
            std::string::npos);
}

// A last checkpoint cut short: the error offers the choices, so nobody has to delete it by hand.
TEST(RunDir, UnreadableLastCheckpointRefusesWithTheChoices) {
  const fs::path run = fresh_dir("resume_damaged");
  write_rows(run, 2);
  write_state_only_checkpoint(run / "checkpoints/best.safetensors", 1);
  write_state_only_checkpoint(run / "checkpoints/last.safetensors", 2);
  const std::string whole = core::read_file((run / "checkpoints/last.safetensors").string());
  core::write_file_atomic((run / "checkpoints/last.safetensors").string(),
                          whole.substr(0, whole.size() / 2));
  const std::string msg = message_of([&] { plan_resume(run.string(), true, ""); });
  EXPECT_NE(msg.find("cannot read checkpoints/last.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--resume-from checkpoints/best.safetensors"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("--resume-from checkpoints/last"), std::string::npos) << msg;
  EXPECT_NE(msg.find("new --run-dir"), std::string::npos) << msg;
}

TEST(RunDir, ResumeDecisions) {
  const fs::path run = fresh_dir("resume");
  EXPECT_FALSE(plan_resume(run.string(), false, "").from_checkpoint);  // empty: start
  EXPECT_FALSE(plan_resume(run.string(), true, "").from_checkpoint);   // --resume of nothing
  // Killed in epoch 1: a header-only epochs.csv and a half-written row are no epoch rows.
  core::write_file_atomic((run / "epochs.csv").string(), report::epochs_csv_header() + "1,4,0.0");
  EXPECT_FALSE(plan_resume(run.string(), true, "").from_checkpoint);
  write_rows(run, 2);
  EXPECT_NE(message_of([&] { plan_resume(run.string(), false, ""); }).find("pass --resume"),
            std::string::npos);
  write_state_only_checkpoint(run / "checkpoints/last.safetensors", 2);
  const ResumePlan p = plan_resume(run.string(), true, "");
  EXPECT_TRUE(p.from_checkpoint);
  EXPECT_EQ(p.checkpoint, (run / "checkpoints/last.safetensors").string());
}

TEST(RunDir, ConfigChangesOnResumeAreRefusedOrRecorded) {
  const fs::path run = fresh_dir("config");
  const std::string saved_path = (run / "config.yaml").string();
  core::Config c;
  c.source_path = "a.yaml";
  EXPECT_TRUE(check_and_write_config(run.string(), c, false, 0, false).empty());
  const std::string saved = core::read_file(saved_path);

  core::Config d = c;
  d.opt.lr = 0.002;
  d.training.seed = 7;
  d.training.n_epochs = 300;  // lengthening a run is no change of what is trained
  std::string msg = message_of([&] { check_and_write_config(run.string(), d, true, 2, false); });
  EXPECT_NE(msg.find("opt.lr: 0.001 (saved) -> 0.002 (now)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("training.seed: 42 (saved) -> 7 (now)"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("n_epochs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--allow-config-change"), std::string::npos) << msg;
  EXPECT_EQ(core::read_file(saved_path), saved) << "config.yaml must be written after the check";

  core::Config longer = c;
  longer.training.n_epochs = 300;
  auto changes = check_and_write_config(run.string(), longer, true, 2, false);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].changes_training);

  changes = check_and_write_config(run.string(), d, true, 3, true);
  EXPECT_EQ(changes.size(), 2u);
  const auto history = config_history(run.string());
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0]["after_epoch"], 2);
  EXPECT_EQ(history[0]["changes"][0]["key"], "training.n_epochs");
  EXPECT_EQ(history[1]["after_epoch"], 3);
  EXPECT_EQ(history[1]["allow_config_change"], true);
  EXPECT_EQ(history[1]["changes"].size(), 2u);
  // The saved file stays a loadable config (history lines are comments) holding the new values.
  const auto reloaded = core::load_config(saved_path);
  EXPECT_TRUE(reloaded.warnings.empty());
  EXPECT_EQ(reloaded.config.opt.lr, 0.002);
  // The same config again: nothing to record, history kept.
  EXPECT_TRUE(check_and_write_config(run.string(), d, true, 4, false).empty());
  EXPECT_EQ(config_history(run.string()).size(), 2u);
}

TEST(RunDir, RowsPastTheResumedCheckpointAreKept) {
  const fs::path run = fresh_dir("discarded");
  write_rows(run, 4);
  EXPECT_EQ(keep_discarded_rows(run.string(), 4), 0);
  EXPECT_FALSE(fs::exists(run / "epochs_discarded.csv"));
  EXPECT_EQ(keep_discarded_rows(run.string(), 2), 2);
  const auto kept = report::read_epochs((run / "epochs_discarded.csv").string());
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].epoch, 3);
  EXPECT_EQ(kept[1].epoch, 4);
}

TEST(RunDir, EmptyValidationSetIsAnInputError) {
  core::Config c;
  c.data.synth_val_tsv = "data/val.tsv";
  c.data.weak_tsv = "data/weak.tsv";
  data::DesedSets sets;
  std::string msg = message_of([&] { require_validation_sets(sets, c); });
  EXPECT_NE(msg.find("data/val.tsv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.synth_val_tsv"), std::string::npos) << msg;
  sets.synth_val.clips.resize(1);
  msg = message_of([&] { require_validation_sets(sets, c); });
  EXPECT_NE(msg.find("data/weak.tsv"), std::string::npos) << msg;
  EXPECT_NE(msg.find("training.weak_split"), std::string::npos) << msg;
  sets.weak_val.clips.resize(1);
  EXPECT_NO_THROW(require_validation_sets(sets, c));
}

}  // namespace
}  // namespace greensed::train
