// The run directory's rules (README "The run directory"): one owner at a time, --resume never
// deletes, a resumed run trains what the saved config says unless the user explicitly changes it,
// and temporary files of a killed write are removed at the next start.
//
//   <run_dir>/run.lock      flock(2)ed by the process that trains in the folder; holds its pid
//   <run_dir>/config.yaml   the config in force, then one "# history: {json}" line per change
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "greensed/core/config.hpp"
#include "greensed/data/datasets.hpp"

namespace greensed::train {

// An advisory lock on a run directory, held while the object lives (and released by the kernel
// when the process dies, however it dies).
class RunDirLock {
 public:
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;
  const std::string& path() const { return path_; }

 private:
  friend std::shared_ptr<RunDirLock> lock_run_dir(const std::string& run_dir);
  RunDirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

// Creates `run_dir` and takes its lock. A second process gets InputError (exit 2) naming the
// holder's pid; in the same process a second call returns the lock already held.
std::shared_ptr<RunDirLock> lock_run_dir(const std::string& run_dir);

// Where a run starts: from scratch or from a checkpoint.
struct ResumePlan {
  bool from_checkpoint = false;
  std::string checkpoint;  // the file to load when from_checkpoint
  int epoch = 0;           // the epochs that checkpoint has finished
};

// Decides (and changes nothing): without `resume` a folder that already holds epoch rows or a
// last checkpoint is refused; with `resume` the run continues from `resume_from` when given
// (relative to the run directory, or as given), else from checkpoints/last.safetensors; with epoch
// rows but no last checkpoint it refuses and names the choices (the run's other checkpoints, or a
// new run directory). Throws InputError.
ResumePlan plan_resume(const std::string& run_dir, bool resume, const std::string& resume_from);

// One key whose value differs between the saved config and the new one.
struct ConfigChange {
  std::string key, old_value, new_value;
  bool changes_training = true;  // false: the keys listed in run_dir.cpp (length, stopping, ...)
};

std::vector<ConfigChange> diff_configs(const core::Config& saved, const core::Config& now);

// Checks `config` against <run_dir>/config.yaml when resuming (`after_epoch` finished): keys that
// change what is trained or measured are an InputError naming each key with its old and new value
// unless `allow_change` (the batch composition and the network's shape cannot change at all);
// then writes config.yaml (the config in force plus its history, one line
// per resume that changed something). Call it before any other write to the run directory.
// Returns the changes accepted now.
std::vector<ConfigChange> check_and_write_config(const std::string& run_dir,
                                                 const core::Config& config, bool resuming,
                                                 int after_epoch, bool allow_change);

// The history recorded in <run_dir>/config.yaml: a JSON array (for summary.json), [] when none.
nlohmann::json config_history(const std::string& run_dir);

// Rows of <run_dir>/epochs.csv past `epoch` (those a resume from an earlier checkpoint re-trains)
// are appended to epochs_discarded.csv before epochs.csv is rewritten; returns how many.
int keep_discarded_rows(const std::string& run_dir, int epoch);

// Removes temporary files left in the run directory by a killed write; logs what it removed.
void remove_orphan_temp_files_in_run(const std::string& run_dir);

// Validation needs clips: an empty synthetic validation table or an empty weak hold-out would
// print F1 0 as if measured. InputError naming the file and key.
void require_validation_sets(const data::DesedSets& sets, const core::Config& config);

}  // namespace greensed::train
