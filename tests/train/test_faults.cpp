// Fault injection on `greensed train` (issue 15): SIGKILL at chosen points (core/fault.hpp's
// GREENSED_TEST_KILL_AT: during a checkpoint write, during validation, mid-epoch), each followed by
// --resume and compared row by row with an uninterrupted run, its energy checked against what
// each process metered; two trains on one run directory;
// the resume and config rules from the command line; a full tmpfs where one can be mounted.
// Tiny data (2 steps per epoch, 2 epochs) keeps each run to seconds.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "greensed/core/fs.hpp"
#include "greensed/report/epochs.hpp"

namespace {

namespace fs = std::filesystem;

const std::string kConfig = std::string(GREENSED_SOURCE_DIR) + "/configs/demo.yaml";

std::vector<std::string> tiny() {
  return {"--set", "synth.n_synth_train=4", "--set", "synth.n_synth_val=2", "--set",
          "synth.n_weak=8", "--set", "synth.n_unlabeled=4", "--set", "synth.n_test=2", "--set",
          "training.batch_size=[1, 1, 2]", "--set", "training.n_epochs=2", "--set",
          "training.n_epochs_warmup=1", "--set", "training.batch_size_val=4", "--set",
          "energy.measure_power_secs=0.2",
          // An energy checkpoint every second: a killed process leaves what it metered.
          "--set", "energy.checkpoint_interval_s=1"};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Child {
  pid_t pid;
  fs::path log;
};

// `greensed ARGS` in `dir`, stdout+stderr to dir/<log>; `kill_at` arms a kill point.
Child spawn(const fs::path& dir, std::vector<std::string> args, const std::string& log,
            const std::string& kill_at = "") {
  args.insert(args.begin(), GREENSED_BINARY);
  const fs::path log_path = dir / log;
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    if (!freopen(log_path.c_str(), "w", stderr)) _exit(126);
    dup2(fileno(stderr), STDOUT_FILENO);
    if (kill_at.empty()) {
      unsetenv("GREENSED_TEST_KILL_AT");
    } else {
      setenv("GREENSED_TEST_KILL_AT", kill_at.c_str(), 1);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return {pid, log_path};
}

int wait_for(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string text(const fs::path& p) {
  return fs::exists(p) ? greensed::core::read_file(p.string()) : "";
}

struct Outcome {
  int code;
  std::string output;
};

Outcome run(const fs::path& dir, const std::vector<std::string>& args,
            const std::string& kill_at = "") {
  const Child c = spawn(dir, args, "out.log", kill_at);
  const int code = wait_for(c);
  return {code, text(c.log)};
}

std::vector<std::string> train_args(const std::string& run_dir) {
  return with({"train", "--config", kConfig, "--run-dir", run_dir}, tiny());
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> out;
  const std::regex temp(R"(.*\.tmp\.[0-9]+\.[0-9]+$)");
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (std::regex_match(e.path().filename().string(), temp)) out.push_back(e.path().string());
  }
  return out;
}

// Every column a resumed run must reproduce exactly (losses, schedule, F1); wall time and kWh
// differ between processes.
void expect_same_rows(const fs::path& a_csv, const fs::path& b_csv) {
  const auto a = greensed::report::read_epochs(a_csv.string());
  const auto b = greensed::report::read_epochs(b_csv.string());
  ASSERT_EQ(a.size(), b.size());
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("epoch " + std::to_string(a[i].epoch));
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_TRUE(same(a[i].lr, b[i].lr));
    EXPECT_TRUE(same(a[i].consistency_weight, b[i].consistency_weight));
    EXPECT_TRUE(same(a[i].loss_total, b[i].loss_total))
        << a[i].loss_total << " " << b[i].loss_total;
    EXPECT_TRUE(same(a[i].loss_strong, b[i].loss_strong));
    EXPECT_TRUE(same(a[i].loss_weak, b[i].loss_weak));
    EXPECT_TRUE(same(a[i].loss_cons_strong, b[i].loss_cons_strong));
    EXPECT_TRUE(same(a[i].loss_cons_weak, b[i].loss_cons_weak));
    EXPECT_TRUE(same(a[i].teacher_loss_strong, b[i].teacher_loss_strong));
    EXPECT_TRUE(same(a[i].teacher_loss_weak, b[i].teacher_loss_weak));
    EXPECT_TRUE(same(a[i].val_synth_f1_student, b[i].val_synth_f1_student));
    EXPECT_TRUE(same(a[i].val_synth_f1_teacher, b[i].val_synth_f1_teacher));
    EXPECT_TRUE(same(a[i].val_weak_f1_student, b[i].val_weak_f1_student));
    EXPECT_TRUE(same(a[i].val_weak_f1_teacher, b[i].val_weak_f1_teacher));
    EXPECT_TRUE(same(a[i].val_obj, b[i].val_obj));
  }
}

size_t n_rows(const fs::path& csv) {
  return fs::exists(csv) ? greensed::report::read_epochs(csv.string()).size() : 0;
}

fs::path fresh(const std::string& name) {
  // Per process: engineers and CI may run the suite at the same time on one machine.
  const fs::path dir = fs::temp_directory_path() / (name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Removes a test's folder when the test passed (a failed one is kept to look at).
struct RemoveIfPassed {
  fs::path dir;
  ~RemoveIfPassed() {
    std::error_code ec;
    if (!::testing::Test::HasFailure()) fs::remove_all(dir, ec);
  }
};

// What the killed process metered, as it left it: energy_checkpoint.json's total (µJ), or -1 when
// it was killed before its first one.
int64_t killed_process_uj(const fs::path& run_dir) {
  const std::string t = text(run_dir / "energy_checkpoint.json");
  if (t.empty()) return -1;
  return nlohmann::json::parse(t).at("components_uj").at("total").get<int64_t>();
}

// The epoch numbers of the epoch windows in energy_windows.csv, in file order.
std::vector<std::string> epoch_windows(const fs::path& windows_csv) {
  std::istringstream in(text(windows_csv));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    if (f.size() > 3 && f[1] == "epoch") out.push_back(f[3]);
  }
  return out;
}

// What the resumed process metered in its own windows (the top-level ones under its run row, not
// the discarded-by-interruption row, which is carried energy): a lower bound of its own total.
int64_t resumed_process_windows_uj(const fs::path& windows_csv) {
  std::istringstream in(text(windows_csv));
  std::string line;
  std::getline(in, line);
  auto split = [](const std::string& l) {
    std::vector<std::string> f;
    std::stringstream ss(l);
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    return f;
  };
  const std::vector<std::string> header = split(line);
  const auto col = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return size_t(it - header.begin());
  };
  const size_t window = col("window"), parent = col("parent"), uj = col("total_uJ");
  int64_t sum = 0;
  while (std::getline(in, line)) {
    const auto f = split(line);
    if (f.size() <= uj) continue;
    if (f[parent] == "run" && f[window] != "discarded_by_interruption") sum += std::stoll(f[uj]);
  }
  return sum;
}

void synth(const fs::path& dir) {
  const Outcome r = run(dir, with({"synth", "--config", kConfig}, tiny()));
  ASSERT_EQ(r.code, 0) << r.output;
}

// Each kill point: the killed run dies by SIGKILL there, keeps its log lines, and --resume gives
// the uninterrupted run's rows; temporary files of the killed write are gone after the resume.
TEST(Faults, KillsAtChosenPointsThenResumeGiveTheUninterruptedRows) {
  const fs::path dir = fresh("greensed_test_faults_kill");
  const RemoveIfPassed cleanup{dir};
  ASSERT_NO_FATAL_FAILURE(synth(dir));
  const Outcome reference = run(dir, train_args("runs/reference"));
  ASSERT_EQ(reference.code, 0) << reference.output;
  ASSERT_EQ(greensed::report::read_epochs((dir / "runs/reference/epochs.csv").string()).size(), 2u);

  struct Case {
    std::string name, kill_at;
    int rows_before_resume;  // complete epoch rows the killed run leaves
    bool leaves_temp_file;
  };
  // 2 steps per epoch: step 3 is the first step of epoch 2.
  const std::vector<Case> cases = {
      {"checkpoint_write_epoch1", "before-rename last.safetensors@1", 0, true},
      {"checkpoint_write_epoch2", "before-rename last.safetensors@2", 1, true},
      {"checkpoint_half_written_epoch2", "mid-write last.safetensors@2", 1, true},
      {"validation_epoch2", "validation@2", 1, false},
      {"mid_epoch2", "step@3", 1, false},
  };
  int with_energy_checkpoint = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name + " (" + c.kill_at + ")");
    const std::string run_dir = "runs/" + c.name;
    const Outcome killed = run(dir, train_args(run_dir), c.kill_at);
    ASSERT_EQ(killed.code, 128 + SIGKILL) << killed.output;
    const fs::path rd = dir / run_dir;
    EXPECT_EQ(n_rows(rd / "epochs.csv"), size_t(c.rows_before_resume)) << text(rd / "epochs.csv");
    // The log is flushed line by line: the killed process's lines are in log.txt.
    const std::string log = text(rd / "log.txt");
    EXPECT_NE(log.find("steps per epoch"), std::string::npos) << log;
    if (c.rows_before_resume > 0) {
      EXPECT_NE(log.find("[train] epoch 1/2:"), std::string::npos);
    }
    EXPECT_EQ(!temp_files(rd).empty(), c.leaves_temp_file);
    const int64_t killed_uj = killed_process_uj(rd);
    if (killed_uj >= 0) ++with_energy_checkpoint;

    const Outcome resumed = run(dir, with(train_args(run_dir), {"--resume"}));
    ASSERT_EQ(resumed.code, 0) << resumed.output;
    expect_same_rows(dir / "runs/reference/epochs.csv", rd / "epochs.csv");
    EXPECT_TRUE(temp_files(rd).empty()) << temp_files(rd)[0];
    if (c.leaves_temp_file) {
      EXPECT_NE(resumed.output.find("temporary file"), std::string::npos);
    }
    const auto summary = nlohmann::json::parse(text(rd / "summary.json"));
    EXPECT_EQ(summary["status"], "finished");

    // Energy across the kill: the run's total is at least what the killed process metered (its
    // last energy checkpoint, newer than the training checkpoint resumed from) plus what the
    // resumed process metered in its own windows; the carried figure is all of the former.
    const auto meta = nlohmann::json::parse(text(rd / "energy_meta.json"));
    const int64_t run_uj = meta.at("epoch_accounting").at("run_uJ").get<int64_t>();
    const int64_t resumed_uj = resumed_process_windows_uj(rd / "energy_windows.csv");
    EXPECT_GT(resumed_uj, 0);
    EXPECT_GE(run_uj, std::max<int64_t>(killed_uj, 0) + resumed_uj)
        << "killed process " << killed_uj << " uJ, resumed process's windows " << resumed_uj;
    // The windows of every process: epoch 1's from the killed process when its checkpoint was
    // resumed, else from the run that started again; each epoch once.
    const std::vector<std::string> expected_epochs = {"1", "2"};
    EXPECT_EQ(epoch_windows(rd / "energy_windows.csv"), expected_epochs);
    if (killed_uj >= 0) {
      const double carried_uj = meta.at("run").at("carried_kWh").get<double>() * 3.6e12;
      EXPECT_GE(carried_uj, double(killed_uj) - 2.0) << "energy metered before the kill was lost";
    }
  }
  // At least one kill came after the killed process's first energy checkpoint: the carry ran.
  EXPECT_GE(with_energy_checkpoint, 1);
}

// Two trains on one folder, the resume rules and the config check, from the command line.
TEST(Faults, RunDirectoryHasOneOwnerAndResumeNeverDeletes) {
  const fs::path dir = fresh("greensed_test_faults_rundir");
  const RemoveIfPassed cleanup{dir};
  ASSERT_NO_FATAL_FAILURE(synth(dir));
  const fs::path rd = dir / "runs/a";

  // A second train while the first holds the run directory: exit 2 naming the holder's pid.
  const Child first = spawn(dir, train_args("runs/a"), "first.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (text(rd / "run.lock").empty() || text(rd / "config.yaml").empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const Outcome second = run(dir, with(train_args("runs/a"), {"--resume"}));
  EXPECT_EQ(second.code, 2) << second.output;
  EXPECT_NE(second.output.find("in use by process " + std::to_string(first.pid)), std::string::npos)
      << second.output;
  ASSERT_EQ(wait_for(first), 0) << text(first.log);
  const std::string rows = text(rd / "epochs.csv");
  EXPECT_EQ(greensed::report::read_epochs((rd / "epochs.csv").string()).size(), 2u) << rows;
  EXPECT_EQ(text(rd / "log.txt").find("in use by"), std::string::npos)
      << "the refused process must not write into the run's log";

  // --resume without a last checkpoint refuses, changes nothing and offers the choices.
  fs::rename(rd / "checkpoints/last.safetensors", dir / "last.safetensors");
  Outcome r = run(dir, with(train_args("runs/a"), {"--resume"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--resume-from checkpoints/best.safetensors"), std::string::npos)
      << r.output;
  EXPECT_EQ(text(rd / "epochs.csv"), rows);
  fs::rename(dir / "last.safetensors", rd / "checkpoints/last.safetensors");

  // A changed learning rate or batch size on resume: exit 2 naming key, old and new value, and
  // config.yaml untouched.
  const std::string saved = text(rd / "config.yaml");
  r = run(dir, with(train_args("runs/a"), {"--resume", "--set", "opt.lr=0.002"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("opt.lr: 0.001 (saved) -> 0.002 (now)"), std::string::npos) << r.output;
  r = run(dir, with(train_args("runs/a"), {"--resume", "--set", "training.batch_size=[2, 2, 4]"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("training.batch_size: [1, 1, 2] (saved) -> [2, 2, 4] (now)"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(text(rd / "config.yaml"), saved);

  fs::copy_file(rd / "checkpoints/last.safetensors", rd / "checkpoints/epoch2.safetensors");
  // Asked for explicitly: one more epoch at a new learning rate, recorded in both places.
  r = run(dir, with(train_args("runs/a"), {"--resume", "--allow-config-change", "--set",
                                           "opt.lr=0.002", "--set", "training.n_epochs=3"}));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(greensed::report::read_epochs((rd / "epochs.csv").string()).size(), 3u);
  const auto summary = nlohmann::json::parse(text(rd / "summary.json"));
  ASSERT_EQ(summary["config_history"].size(), 1u) << summary.dump(1);
  EXPECT_EQ(summary["config_history"][0]["after_epoch"], 2);
  EXPECT_NE(text(rd / "config.yaml").find("\"key\":\"opt.lr\""), std::string::npos);

  // --resume-from an earlier checkpoint: later rows are re-trained and kept aside, not lost.
  r = run(dir,
          with(train_args("runs/a"), {"--resume-from", "checkpoints/epoch2.safetensors", "--set",
                                      "opt.lr=0.002", "--set", "training.n_epochs=3"}));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(n_rows(rd / "epochs_discarded.csv"), 1u);
  EXPECT_EQ(n_rows(rd / "epochs.csv"), 3u);

  // An empty synthetic validation table is bad input, not F1 0.
  greensed::core::write_file_atomic((dir / "empty_val.tsv").string(),
                                    "filename\tonset\toffset\tevent_label\n");
  r = run(dir, with(train_args("runs/empty_val"), {"--set", "data.synth_val_tsv=empty_val.tsv"}));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("data.synth_val_tsv"), std::string::npos) << r.output;
}

// A run directory on a full tmpfs: a clear error (exit 2, the file and the reason named), no
// temporary file left, and epochs.csv holds only whole rows.
TEST(Faults, FullDiskIsAClearErrorAndLeavesNoTemporaryFile) {
  const fs::path dir = fresh("greensed_test_faults_full");
  const RemoveIfPassed cleanup{dir};
  const fs::path mnt = dir / "small";
  fs::create_directories(mnt);
  // 12 MiB: the run starts (config, log, init checkpoint ~9 MB) and fills up at epoch 1's
  // checkpoints.
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=12m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "; needs root or CAP_SYS_ADMIN): the full-disk case is not tested";
  }
  struct Unmount {
    fs::path p;
    ~Unmount() { umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  ASSERT_NO_FATAL_FAILURE(synth(dir));
  const Outcome r = run(dir, train_args("small/run"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos) << r.output;
  EXPECT_TRUE(temp_files(mnt).empty()) << temp_files(mnt)[0];
  if (fs::exists(mnt / "run/epochs.csv")) {
    EXPECT_NO_THROW(greensed::report::read_epochs((mnt / "run/epochs.csv").string()));
  }
}

}  // namespace
