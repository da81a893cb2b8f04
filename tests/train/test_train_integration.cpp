// End to end: generate a tiny DESED-layout dataset, train 3 epochs, check the run directory; then
// kill a second run after epoch 2 (SIGKILL) and resume it: the deterministic columns of every
// epochs.csv row must equal the uninterrupted run's.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/model/safetensors.hpp"
#include "greensed/report/epochs.hpp"

namespace {

namespace fs = std::filesystem;

// Per process: several engineers (and CI) may run the suite at once on one machine.
const fs::path kDir =
    fs::temp_directory_path() / ("greensed_test_train_" + std::to_string(getpid()));

std::vector<std::string> tiny_overrides() {
  return {"--set", "synth.n_synth_train=8",
          "--set", "synth.n_synth_val=4",
          "--set", "synth.n_weak=8",
          "--set", "synth.n_unlabeled=8",
          "--set", "synth.n_test=4",
          "--set", "training.batch_size=[1, 1, 2]",
          "--set", "training.n_epochs=3",
          "--set", "training.n_epochs_warmup=1",
          "--set", "training.batch_size_val=4",
          "--set", "energy.measure_power_secs=0.2"};
}

pid_t spawn(std::vector<std::string> args) {
  args.insert(args.begin(), GREENSED_BINARY);
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(kDir.c_str()) != 0) _exit(126);
    const std::string log = (kDir / "child.log").string();
    freopen(log.c_str(), "a", stderr);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run(std::vector<std::string> args) {
  return wait_for(spawn(std::move(args)));
}

// Rows of an epochs.csv being written by another process: a row caught half-written does not count.
size_t count_rows(const fs::path& path) {
  if (!fs::exists(path)) return 0;
  try {
    return greensed::report::read_epochs(path.string()).size();
  } catch (const greensed::core::InputError&) {
    return 0;
  }
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string core_log() {
  return greensed::core::read_file((kDir / "child.log").string());
}
const std::string config_ = std::string(GREENSED_SOURCE_DIR) + "/configs/demo.yaml";

void check_run_directory() {
  const fs::path run = kDir / "runs/full";
  for (const char* f : {"config.yaml", "epochs.csv", "emissions.csv", "energy_windows.csv",
                        "energy_meta.json", "summary.json", "log.txt",
                        "checkpoints/best.safetensors", "checkpoints/last.safetensors"}) {
    EXPECT_TRUE(fs::exists(run / f)) << f;
  }
  const auto summary =
      nlohmann::json::parse(greensed::core::read_file((run / "summary.json").string()));
  EXPECT_EQ(summary["status"], "finished");
  EXPECT_EQ(summary["epochs_done"], 3);
  EXPECT_TRUE(summary["test"]["student"].contains("psds1"));
}

void check_energy_conservation() {
  const auto rows = greensed::report::read_epochs((kDir / "runs/full/epochs.csv").string());
  ASSERT_EQ(rows.size(), 3u);
  double sum = 0;
  for (const auto& r : rows) {
    EXPECT_GT(r.kwh, 0.0);
    EXPECT_NEAR(r.kwh, r.kwh_cpu + r.kwh_ram + r.kwh_gpu, 1e-15);
    sum += r.kwh;
  }
  EXPECT_NEAR(sum, rows.back().kwh_cumulative, 1e-15);
  const auto summary =
      nlohmann::json::parse(greensed::core::read_file((kDir / "runs/full/summary.json").string()));
  EXPECT_NEAR(summary["energy"]["kwh_epochs"].get<double>(), sum, 1e-15);
  EXPECT_GT(summary["energy"]["kwh_run"].get<double>(), sum);  // set-up and test come on top
}

void check_checkpoint_names() {
  const auto ckpt =
      greensed::model::read_safetensors((kDir / "runs/full/checkpoints/last.safetensors").string());
  EXPECT_TRUE(ckpt.contains("sed_student.cnn.cnn.conv0.weight"));
  EXPECT_TRUE(ckpt.contains("sed_teacher.rnn.rnn.weight_hh_l1_reverse"));
  EXPECT_TRUE(ckpt.contains("sed_teacher.cnn.cnn.batchnorm3.running_var"));
  EXPECT_TRUE(ckpt.contains("optimizer.exp_avg"));
  int64_t n = 0;
  for (const auto& [name, t] : ckpt.tensors) {
    if (name.rfind("sed_student.", 0) == 0 && name.find("running_") == std::string::npos &&
        name.find("num_batches") == std::string::npos) {
      n += t.numel();
    }
  }
  EXPECT_EQ(n, 1112420);
}

// --trace writes one JSON line per step with the keys, and does not change what is trained.
void check_trace() {
  ASSERT_EQ(run(with({"train", "--config", config_, "--run-dir", "runs/traced", "--trace",
                      "runs/traced/trace.jsonl"},
                     tiny_overrides())),
            0)
      << core_log();
  const auto a = greensed::report::read_epochs((kDir / "runs/full/epochs.csv").string());
  const auto b = greensed::report::read_epochs((kDir / "runs/traced/epochs.csv").string());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].loss_total, b[i].loss_total) << "epoch " << a[i].epoch;
    EXPECT_EQ(a[i].loss_cons_weak, b[i].loss_cons_weak) << "epoch " << a[i].epoch;
    EXPECT_EQ(a[i].val_synth_f1_teacher, b[i].val_synth_f1_teacher) << "epoch " << a[i].epoch;
  }
  std::ifstream in(kDir / "runs/traced/trace.jsonl");
  std::string line;
  int64_t n = 0;
  double sum_total = 0;
  uint64_t last_student_counter = 0, last_teacher_counter = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    ++n;
    EXPECT_EQ(j["step"], n);
    for (const char* key : {"epoch", "synth", "weak", "unlabeled", "mixup", "lr",
                            "consistency_weight", "ema_alpha", "loss"}) {
      EXPECT_TRUE(j.contains(key)) << key << " in " << line;
    }
    EXPECT_EQ(j["synth"].size(), 1u);
    EXPECT_EQ(j["unlabeled"].size(), 2u);
    const std::string name = j["synth"][0];
    EXPECT_EQ(name.find('/'), std::string::npos) << "a file name, no folder: " << name;
    if (!j["mixup"].is_null()) {
      EXPECT_TRUE(j["mixup"]["strong"].contains("perm"));
    }
    if (j["epoch"] == 1) sum_total += j["loss"]["total"].get<double>();
    // Where the dropout streams stood (a replay draws the same masks from them): the student's
    // and the teacher's own streams, each moving forward from step to step.
    ASSERT_TRUE(j.contains("dropout_streams")) << line;
    const auto& ds = j["dropout_streams"];
    EXPECT_EQ(ds["student"]["stream"], uint64_t(greensed::core::RngStreamId::kDropoutStudent));
    EXPECT_EQ(ds["teacher"]["stream"], uint64_t(greensed::core::RngStreamId::kDropoutTeacher));
    const uint64_t sc = ds["student"]["counter"], tc = ds["teacher"]["counter"];
    if (n > 1) {
      EXPECT_GT(sc, last_student_counter) << line;
      EXPECT_GT(tc, last_teacher_counter) << line;
    }
    last_student_counter = sc, last_teacher_counter = tc;
  }
  ASSERT_EQ(n, b.back().step);
  const int64_t steps_per_epoch = b.front().step;
  EXPECT_NEAR(sum_total / double(steps_per_epoch), b.front().loss_total, 1e-12);
}

// checkpoints/init.safetensors holds both models before step 1; --init-from starts the student
// (and its copy, the teacher) from such a file whatever the seed.
void check_init_from() {
  const std::string init = (kDir / "runs/full/checkpoints/init.safetensors").string();
  ASSERT_EQ(run(with(with({"train", "--config", config_, "--run-dir", "runs/init_from",
                           "--init-from", init},
                          tiny_overrides()),
                     {"--set", "training.seed=7", "--set", "training.n_epochs=1"})),
            0)
      << core_log();
  const auto a = greensed::model::read_safetensors(init);
  const auto b = greensed::model::read_safetensors(
      (kDir / "runs/init_from/checkpoints/init.safetensors").string());
  int n_compared = 0;
  for (const auto& [name, t] : a.tensors) {
    if (name.rfind("sed_student.", 0) != 0 || t.dtype != greensed::model::DType::kF32) continue;
    const std::string teacher = "sed_teacher." + name.substr(12);
    ASSERT_TRUE(b.contains(name) && b.contains(teacher)) << name;
    const auto& s = b.at(name);
    const auto& tt = b.at(teacher);
    EXPECT_EQ(s.f32, t.f32) << name;
    EXPECT_EQ(tt.f32, t.f32) << teacher;
    ++n_compared;
  }
  EXPECT_EQ(n_compared, 62 + 14);  // every parameter tensor, and the BatchNorm running statistics
}

void check_kill_and_resume() {
  const std::vector<std::string> args =
      with({"train", "--config", config_, "--run-dir", "runs/killed"}, tiny_overrides());
  const pid_t pid = spawn(args);
  const fs::path epochs = kDir / "runs/killed/epochs.csv";
  // Kill -9 as soon as epoch 2's row is on disk.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  for (;;) {
    if (count_rows(epochs) >= 2) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no second epoch row";
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, WNOHANG), 0) << "the run ended before it could be killed";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  EXPECT_EQ(wait_for(pid), 128 + SIGKILL);
  ASSERT_EQ(run(with(args, {"--resume"})), 0) << core_log();

  const auto a = greensed::report::read_epochs((kDir / "runs/full/epochs.csv").string());
  const auto b = greensed::report::read_epochs(epochs.string());
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].lr, b[i].lr);
    EXPECT_EQ(a[i].consistency_weight, b[i].consistency_weight);
    EXPECT_EQ(a[i].loss_total, b[i].loss_total) << "epoch " << a[i].epoch;
    EXPECT_EQ(a[i].loss_strong, b[i].loss_strong);
    EXPECT_EQ(a[i].loss_cons_strong, b[i].loss_cons_strong);
    EXPECT_EQ(a[i].teacher_loss_weak, b[i].teacher_loss_weak);
    EXPECT_EQ(a[i].val_synth_f1_teacher, b[i].val_synth_f1_teacher);
    EXPECT_EQ(a[i].val_obj, b[i].val_obj);
  }
  // Energy totals carried over: the resumed run's cumulative kWh includes the killed part.
  EXPECT_GT(b.back().kwh_cumulative, b[1].kwh_cumulative);
}

// One test (ctest runs each TEST in its own process; the runs below are shared by every check).
TEST(TrainIntegration, ThreeEpochsKillAndResume) {
  fs::remove_all(kDir);
  fs::create_directories(kDir);
  ASSERT_EQ(run(with({"synth", "--config", config_}, tiny_overrides())), 0) << core_log();
  ASSERT_EQ(run(with({"train", "--config", config_, "--run-dir", "runs/full"}, tiny_overrides())),
            0)
      << core_log();
  {
    SCOPED_TRACE("run directory");
    check_run_directory();
  }
  {
    SCOPED_TRACE("energy of the epochs sums to the run total");
    check_energy_conservation();
  }
  {
    SCOPED_TRACE("checkpoint tensor names");
    check_checkpoint_names();
  }
  {
    SCOPED_TRACE("--trace");
    check_trace();
  }
  {
    SCOPED_TRACE("init.safetensors and --init-from");
    check_init_from();
  }
  {
    SCOPED_TRACE("kill -9 after epoch 2, then --resume");
    check_kill_and_resume();
  }
  if (!HasFailure()) fs::remove_all(kDir);  // a failed run's folder is kept to look at
}

}  // namespace
