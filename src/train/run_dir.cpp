#include "greensed/train/run_dir.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/model/safetensors.hpp"
#include "greensed/report/epochs.hpp"
#include "greensed/train/checkpoint.hpp"

namespace greensed::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLockFile = "run.lock";
constexpr const char* kHistoryPrefix = "# history: ";
constexpr const char* kTrainStateKey = "greensed.train_state";

int checkpoint_epoch(const std::string& path) {
  const auto st = model::read_safetensors(path);
  return train_state_from_json(st.meta(kTrainStateKey), path).epoch;
}

// Keys a resumed run can never change, even with --allow-config-change: the checkpoint's place in
// the epoch depends on the batch composition, and its tensors' shapes on the network and the mel
// bands.
bool fixed_on_resume(const std::string& key) {
  if (key == "training.batch_size" || key == "feats.n_mels") return true;
  return key.rfind("net.", 0) == 0 && key != "net.dropout" && key != "net.dropout_recurrent";
}

// Keys that change neither the trained weights nor the measured F1: how long the run goes
// (n_epochs, stopping), where and how fast it runs, how energy is metered, and settings `train`
// never reads (synth, the reference's loader/backend knobs). Every other key changes what is
// trained or measured, so a resumed run may change it only with --allow-config-change.
bool changes_training(const std::string& key) {
  static const std::set<std::string> kFreeKeys = {
      "training.n_epochs",
      "training.early_stop_patience",
      "training.num_workers",
      "training.backend",
      "training.enable_progress_bar",
      "training.deterministic",
      "scaler.savepath",
      "features.cache_dir",
      "run.name",
      "run.dir",
      "run.threads",
      "run.checkpoint_every_epochs",
  };
  static const std::vector<std::string> kFreeSections = {"stopping.", "energy.", "synth."};
  if (kFreeKeys.count(key)) return false;
  for (const auto& s : kFreeSections) {
    if (key.rfind(s, 0) == 0) return false;
  }
  return true;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Epoch rows in an epochs.csv, counted without parsing the numbers (a half-written last row of a
// killed append does not count).
std::vector<std::string> data_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::error_code ec;
  if (!fs::exists(path, ec)) return lines;
  std::istringstream in(core::read_file(path));
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (!line.empty() && !in.eof()) lines.push_back(line);
  }
  return lines;
}

int leading_int(const std::string& line) {
  try {
    return std::stoi(line.substr(0, line.find(',')));
  } catch (const std::exception&) {
    return -1;
  }
}

// "checkpoints/best.safetensors (after epoch 3)" for each checkpoint of the run that loads.
std::vector<std::string> describe_checkpoints(const std::string& run_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  if (!fs::is_directory(dir, ec)) return out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".safetensors") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    const std::string rel = "checkpoints/" + f.filename().string();
    try {
      const auto st = model::read_safetensors(f.string());
      // Weights-only files (init.safetensors, written before step 1) are no resume point.
      if (!st.metadata.count(kTrainStateKey)) continue;
      const TrainState s = train_state_from_json(st.meta(kTrainStateKey), f.string());
      out.push_back(fmt::format("{} (after epoch {})", rel, s.epoch));
    } catch (const std::exception& e) {
      out.push_back(fmt::format("{} (unreadable: {})", rel, e.what()));
    }
  }
  return out;
}

std::mutex g_locks_mutex;
std::map<std::string, std::weak_ptr<RunDirLock>> g_locks;  // canonical run dir -> lock

}  // namespace

RunDirLock::~RunDirLock() {
  ::close(fd_);  // releases the flock; the file stays (removing it would race with a new holder)
}

std::shared_ptr<RunDirLock> lock_run_dir(const std::string& run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) {
    throw core::InputError(
        fmt::format("{}: cannot create the run directory ({})", run_dir, ec.message()));
  }
  const std::string key = fs::weakly_canonical(run_dir, ec).string();
  std::lock_guard guard(g_locks_mutex);
  if (auto held = g_locks[key].lock()) return held;
  const std::string path = (fs::path(run_dir) / kLockFile).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw core::InputError(fmt::format("{}: cannot open the run directory's lock file ({})", path,
                                       std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::string holder = "another process";
    char buf[32] = {};
    if (err == EWOULDBLOCK && ::pread(fd, buf, sizeof buf - 1, 0) > 0) {
      holder = fmt::format("process {}", std::string(buf).substr(0, std::string(buf).find('\n')));
    }
    if (err != EWOULDBLOCK) {
      // A filesystem without flock (some network mounts): train, but say the folder is unguarded.
      spdlog::warn(
          "[run] {}: cannot lock the run directory ({}); a second train on it would not be "
          "stopped",
          path, std::strerror(err));
      auto unguarded = std::shared_ptr<RunDirLock>(new RunDirLock(path, fd));
      g_locks[key] = unguarded;
      return unguarded;
    }
    ::close(fd);
    throw core::InputError(fmt::format(
        "{}: the run directory is in use by {} (it holds {}); wait for it to finish or stop it, "
        "or choose another --run-dir",
        run_dir, holder, path));
  }
  // The holder's pid, for the message above (the lock itself is the flock, not this text).
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    spdlog::warn("[run] {}: could not record this process's pid ({})", path, std::strerror(errno));
  }
  auto lock = std::shared_ptr<RunDirLock>(new RunDirLock(path, fd));
  g_locks[key] = lock;
  return lock;
}

ResumePlan plan_resume(const std::string& run_dir, bool resume, const std::string& resume_from) {
  const fs::path dir(run_dir);
  const std::string epochs = (dir / "epochs.csv").string();
  const std::string last = (dir / "checkpoints/last.safetensors").string();
  std::error_code ec;
  ResumePlan plan;
  if (!resume_from.empty()) {
    const fs::path in_run = dir / resume_from;
    if (fs::path(resume_from).is_relative() && fs::exists(in_run, ec)) {
      plan.checkpoint = in_run.string();
    } else if (fs::exists(resume_from, ec)) {
      plan.checkpoint = resume_from;
    } else {
      throw core::InputError(fmt::format(
          "--resume-from {}: no such checkpoint (looked in {} and the working directory); the "
          "run's checkpoints: {}",
          resume_from, run_dir, fmt::join(describe_checkpoints(run_dir), ", ")));
    }
    plan.from_checkpoint = true;
    plan.epoch = checkpoint_epoch(plan.checkpoint);
    return plan;
  }
  const size_t n_rows = data_lines(epochs).size();
  const auto checkpoints = describe_checkpoints(run_dir);
  if (!resume) {
    if (n_rows > 0 || fs::exists(last, ec)) {
      throw core::InputError(fmt::format(
          "{}: already holds a run ({} epoch row(s) in epochs.csv, checkpoints: {}); pass --resume "
          "to continue it, or choose another --run-dir",
          run_dir, n_rows,
          checkpoints.empty() ? "none" : fmt::format("{}", fmt::join(checkpoints, ", "))));
    }
    return plan;
  }
  std::string choices;
  for (const auto& c : checkpoints) {
    if (c.find("(unreadable") == std::string::npos && c.rfind("checkpoints/last.", 0) != 0) {
      choices += fmt::format("\n  --resume-from {}", c.substr(0, c.find(" (")));
    }
  }
  if (!choices.empty()) {
    choices +=
        " (continue after that checkpoint's epoch; later rows are kept in "
        "epochs_discarded.csv)";
  }
  const std::string listed =
      checkpoints.empty() ? "none" : fmt::format("{}", fmt::join(checkpoints, ", "));
  if (fs::exists(last, ec)) {
    plan.from_checkpoint = true;
    plan.checkpoint = last;
    try {
      plan.epoch = checkpoint_epoch(last);
    } catch (const core::InputError& e) {
      // A damaged last checkpoint: say so with the choices, rather than have it deleted by hand.
      throw core::InputError(fmt::format(
          "{}: --resume cannot read checkpoints/last.safetensors ({}); nothing was changed. "
          "Choose one:{}\n  a new --run-dir (start again)",
          run_dir, e.what(), choices));
    }
    return plan;
  }
  if (n_rows > 0) {
    throw core::InputError(fmt::format(
        "{}: --resume found {} epoch row(s) in epochs.csv but no checkpoints/last.safetensors "
        "(checkpoints: {}); nothing was changed. Choose one:{}\n  a new --run-dir (start again)",
        run_dir, n_rows, listed, choices));
  }
  // No epoch finished (a kill in epoch 1, or during its first checkpoints, which come before its
  // row): start; the checkpoints of that unfinished epoch, if any, are written again.
  if (!checkpoints.empty()) {
    spdlog::info("[run] {}: no epoch row yet; starting (replacing {} of the unfinished epoch 1)",
                 run_dir, fmt::join(checkpoints, ", "));
  }
  return plan;
}

std::vector<ConfigChange> diff_configs(const core::Config& saved, const core::Config& now) {
  const auto a = core::config_entries(saved);
  const auto b = core::config_entries(now);
  GREENSED_CHECK(a.size() == b.size(), "config entries {} vs {}", a.size(), b.size());
  std::vector<ConfigChange> out;
  for (size_t i = 0; i < a.size(); ++i) {
    GREENSED_CHECK(a[i].first == b[i].first, "config key order {} vs {}", a[i].first, b[i].first);
    if (a[i].second != b[i].second) {
      out.push_back({a[i].first, a[i].second, b[i].second, changes_training(a[i].first)});
    }
  }
  return out;
}

std::vector<ConfigChange> check_and_write_config(const std::string& run_dir,
                                                 const core::Config& config, bool resuming,
                                                 int after_epoch, bool allow_change) {
  const std::string path = (fs::path(run_dir) / "config.yaml").string();
  std::vector<std::string> history;
  std::vector<ConfigChange> changes;
  std::error_code ec;
  if (resuming && fs::exists(path, ec)) {
    const std::string text = core::read_file(path);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(kHistoryPrefix, 0) == 0) history.push_back(line);
    }
    core::LoadedConfig saved;
    try {
      saved = core::load_config(path);
    } catch (const core::InputError& e) {
      if (!allow_change) {
        throw core::InputError(
            fmt::format("{}: the saved config of the run cannot be read ({}); restore it, or pass "
                        "--allow-config-change to replace it with the config given now",
                        path, e.what()));
      }
      spdlog::warn("[run] {}: unreadable ({}); replaced by the config given now", path, e.what());
    }
    if (!saved.config.source_path.empty()) changes = diff_configs(saved.config, config);
    std::string refused, fixed;
    for (const auto& c : changes) {
      const std::string line =
          fmt::format("\n  {}: {} (saved) -> {} (now)", c.key, c.old_value, c.new_value);
      if (fixed_on_resume(c.key)) fixed += line;
      if (c.changes_training) refused += line;
    }
    if (!fixed.empty()) {
      throw core::InputError(fmt::format(
          "{}: these keys cannot change when a run is resumed (the checkpoint's place in the "
          "epoch depends on the batch composition, its tensors on the network):{}\nResume with "
          "the saved config ({}), or start a new --run-dir with --init-from {} to begin from "
          "its weights",
          run_dir, fixed, path, (fs::path(run_dir) / "checkpoints/last.safetensors").string()));
    }
    if (!refused.empty() && !allow_change) {
      throw core::InputError(fmt::format(
          "{}: the config given now differs from the run's saved config in keys that change what "
          "is trained or measured:{}\nResume with the saved config (e.g. --config {}), start a new "
          "--run-dir, or pass --allow-config-change to continue with the new values (recorded in "
          "config.yaml and summary.json)",
          run_dir, refused, path));
    }
    if (!changes.empty()) {
      nlohmann::json entry = {{"after_epoch", after_epoch},
                              {"time", utc_now()},
                              {"allow_config_change", allow_change},
                              {"changes", nlohmann::json::array()}};
      for (const auto& c : changes) {
        entry["changes"].push_back({{"key", c.key},
                                    {"old", c.old_value},
                                    {"new", c.new_value},
                                    {"changes_training", c.changes_training}});
        spdlog::log(c.changes_training ? spdlog::level::warn : spdlog::level::info,
                    "[run] config change on resume after epoch {}: {}: {} -> {}{}", after_epoch,
                    c.key, c.old_value, c.new_value,
                    c.changes_training ? " (--allow-config-change)" : "");
      }
      history.push_back(kHistoryPrefix + entry.dump());
    }
  }
  std::string text = core::config_to_yaml(config);
  if (!history.empty()) {
    text += "# Changes made when the run was resumed (greensed train --resume), oldest first:\n";
    for (const auto& h : history) text += h + "\n";
  }
  core::write_file_atomic(path, text);
  return changes;
}

nlohmann::json config_history(const std::string& run_dir) {
  nlohmann::json out = nlohmann::json::array();
  const std::string path = (fs::path(run_dir) / "config.yaml").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  std::istringstream in(core::read_file(path));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(kHistoryPrefix, 0) != 0) continue;
    try {
      out.push_back(nlohmann::json::parse(line.substr(std::strlen(kHistoryPrefix))));
    } catch (const nlohmann::json::exception& e) {
      spdlog::warn("[run] {}: unreadable history line ({})", path, e.what());
    }
  }
  return out;
}

int keep_discarded_rows(const std::string& run_dir, int epoch) {
  const std::string epochs = (fs::path(run_dir) / "epochs.csv").string();
  std::string rows;
  int n = 0;
  for (const auto& line : data_lines(epochs)) {
    if (leading_int(line) > epoch) {
      rows += line + "\n";
      ++n;
    }
  }
  if (n == 0) return 0;
  const std::string kept = (fs::path(run_dir) / "epochs_discarded.csv").string();
  if (!fs::exists(kept)) core::append_lines(kept, report::epochs_csv_header());
  core::append_lines(kept, rows);
  spdlog::warn(
      "[run] {}: resuming after epoch {}; the {} later row(s) of epochs.csv are re-trained and "
      "kept in {}",
      run_dir, epoch, n, kept);
  return n;
}

void remove_orphan_temp_files_in_run(const std::string& run_dir) {
  for (const auto& f : core::remove_orphan_temp_files(run_dir, /*recursive=*/true)) {
    spdlog::info("[run] removed {} (the temporary file of a write cut short by a kill)", f);
  }
}

void require_validation_sets(const data::DesedSets& sets, const core::Config& config) {
  if (sets.synth_val.clips.empty()) {
    throw core::InputError(fmt::format(
        "{}: the synthetic validation table (data.synth_val_tsv) lists no clip; validation would "
        "report F1 0 as if measured. Give a table with clips (greensed synth writes one)",
        config.data.synth_val_tsv));
  }
  if (sets.weak_val.clips.empty()) {
    throw core::InputError(fmt::format(
        "{}: no weak clip is held out for validation ({} weak clips, training.weak_split {}{}); "
        "lower training.weak_split or add weak clips",
        config.data.weak_tsv, sets.weak_train.clips.size(), config.training.weak_split,
        config.data.weak_split_file.empty()
            ? ""
            : ", data.weak_split_file " + config.data.weak_split_file));
  }
}

}  // namespace greensed::train
