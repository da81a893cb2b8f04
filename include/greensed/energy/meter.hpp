// The energy meter (spec energy.md §7): sources chosen by a fallback chain, integer µJ
// accumulators per channel, a background sampler thread, and non-destructive nested windows.
//
// Every channel's accumulator only grows. A window (run → phase → epoch, or any name) is a pair of
// snapshots of all accumulators taken by a synchronous mark(); its energy is end − begin, so the
// epochs of a run sum to the run total to the µJ and adding windows never changes the total
// (CodeCarbon's tasks reset baselines; these do not, §2.7).
//
// Typical use by a training loop:
//   Meter meter(config.energy, SystemEnv::create(config.energy).env());
//   meter.start();
//   auto phase = meter.begin("train", WindowKind::kPhase);
//   auto epoch = meter.begin("epoch", WindowKind::kEpoch, k);
//   ...                              // sync the GPU first (§7.14 item 3)
//   WindowReport r = meter.end(epoch);  // r.cpu_uj ... for epochs.csv
//   Prediction p = meter.predict(n_epochs);
//   meter.stop(); write_outputs(meter, out_dir, ...);
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "greensed/core/config.hpp"
#include "greensed/energy/attribution.hpp"
#include "greensed/energy/env.hpp"
#include "greensed/energy/intensity.hpp"
#include "greensed/energy/models.hpp"
#include "greensed/energy/nvml.hpp"
#include "greensed/energy/predict.hpp"
#include "greensed/energy/source.hpp"
#include "greensed/energy/system.hpp"

namespace greensed::energy {

enum class WindowKind { kRun, kPhase, kEpoch, kCustom };

// Cumulative state of one channel; windows are differences of two of these.
struct ChannelTotals {
  int64_t uj = 0;
  double attr_busy_uj = 0.0;      // × CPU busy share (cpu channels) or PSS share (dram/ram)
  double attr_capacity_uj = 0.0;  // × CPU capacity share (cpu channels)
  int32_t wraps = 0, resets = 0, glitches = 0, drops = 0, errors = 0;
  std::array<int32_t, 32> flag_counts{};  // samples that raised each flag bit
};

struct Snapshot {
  int64_t t_ns = 0;
  int64_t wall_s = 0;
  int64_t samples = 0;
  uint64_t cpu_busy = 0, cpu_total = 0;                  // /proc/stat ticks
  double ram_used_gib_sum = 0.0, ram_percent_sum = 0.0;  // /proc/meminfo at each sample
  int64_t ram_n = 0;
  double gpu_util_sum = 0.0;
  int64_t gpu_util_n = 0;
  std::vector<ChannelTotals> channels;
};

// Energies of a window (or the run) by component, with the method that produced each.
struct WindowReport {
  int id = -1, parent = -1;
  WindowKind kind = WindowKind::kCustom;
  std::string name;
  int epoch = -1;
  int64_t wall_start_s = 0, wall_end_s = 0;
  double duration_s = 0.0;
  int64_t cpu_uj = 0, dram_uj = 0, ram_uj = 0, gpu_uj = 0;  // ram = measured dram or the model
  std::vector<int64_t> gpu_device_uj;                       // per tracked GPU
  int64_t total_uj = 0;                                     // cpu + ram + gpu (never dram twice)
  double total_kwh = 0.0, total_kwh_pue = 0.0, emissions_kg = 0.0;
  std::string cpu_method, dram_method, ram_method, gpu_method;
  uint32_t flags = 0;
  int wraps = 0, resets = 0, glitches = 0, drops = 0, errors = 0;
  int64_t samples = 0;
  double cpu_attr_j = 0.0, cpu_attr_capacity_j = 0.0, ram_attr_j = 0.0;
  double cpu_util_mean = -1.0, gpu_util_mean = -1.0;  // -1 = unknown
  // What CodeCarbon 2.3.4 would have reported (kWh, × PUE, its 2.77778e-7 J→kWh constant on
  // counter-derived components).
  double cc_cpu_kwh = 0.0, cc_gpu_kwh = 0.0, cc_ram_kwh = 0.0, cc_total_kwh = 0.0;
  // Mean memory in use over the window (MemTotal - MemAvailable at each sample); -1 = unknown.
  double ram_used_gib_mean = -1.0, ram_percent_mean = -1.0;
  // Run report only: energy carried from the earlier processes of a resumed run (all of it), and
  // the part of it that was work discarded by an interruption (metered after the last training
  // checkpoint, redone by the resumed run: in the run total, in no epoch).
  int64_t carried_uj = 0;
  int64_t discarded_uj = 0;
  double discarded_s = 0.0;
};

// How the run total splits into epoch windows and the time outside them (set-up, checkpoints,
// test, work discarded by interruptions). Each part is a difference of meter snapshots, so
// epochs_uj + outside_uj == run total exactly.
struct EpochAccounting {
  int n_epochs = 0;
  int64_t epochs_uj = 0, outside_uj = 0, total_uj = 0;
  double epochs_s = 0.0, outside_s = 0.0;
  // The gaps strictly between consecutive epochs of one process (checkpoint writing, records):
  // part of outside_uj. epochs_uj + between_uj is the training call, first epoch start to last
  // epoch end, the window the DCASE recipe's CodeCarbon tracker covers (on_train_start to
  // on_train_end: no set-up, no test).
  int64_t between_uj = 0;
  double between_s = 0.0;
  int64_t training_call_uj() const { return epochs_uj + between_uj; }
  double training_call_s() const { return epochs_s + between_s; }
};

class Meter {
 public:
  Meter(const core::EnergyConfig& config, const MeterEnv& env);
  ~Meter();
  Meter(const Meter&) = delete;
  Meter& operator=(const Meter&) = delete;

  // Reads every starting point, opens the run window, starts the sampler thread.
  void start();
  // Final sample, closes open windows and the run, stops the thread. Idempotent.
  void stop();
  bool running() const { return running_; }

  // One sampler step (the thread calls it; tests call it directly with a FakeClock).
  void tick();
  // Samples every channel now and returns the snapshot (window boundaries use it).
  Snapshot mark();

  // Windows nest under the innermost open one. `epoch` is the window's index (the epoch number for
  // kEpoch windows, -1 = none).
  int begin(const std::string& name, WindowKind kind, int epoch = -1);
  WindowReport end(int window_id);
  // The innermost open window with this name and index (-1 = any index); -1 when none.
  int find_open(const std::string& name, int index) const;
  // A closed window keeps the report it had when it ended: a later demotion changes the run and
  // the windows still open, never what was already reported (epochs.csv) for a closed one.
  WindowReport report(int window_id) const;          // closed windows, or open ones up to now
  WindowReport run_report() const;                   // the run so far (+ carried energy)
  std::vector<WindowReport> window_reports() const;  // every closed window, run first

  // Projection of the whole run after each epoch window (kEpoch) that ended; the first available
  // one (after epoch 2) is kept for energy_meta.json beside the final actual. Epochs carried by
  // restore() count as done.
  Prediction predict(int total_epochs) const;
  std::optional<Prediction> first_prediction() const {
    std::lock_guard lock(mutex_);
    return first_prediction_;
  }
  EpochAccounting epoch_accounting() const;

  // Energy totals for resume: serialize() gives JSON text (totals, the epochs for the predictor,
  // the closed windows' energy_windows.csv rows); restore() (before start()) carries them into
  // this run's run_report(), emissions and energy_windows.csv.
  std::string serialize() const;
  void restore(const std::string& json_text);
  // Resume: `training_totals` is what the training checkpoint saved (may be empty); when the file
  // `energy_checkpoint_path` holds newer totals of the same run, the energy between the two is
  // carried as work discarded by the interruption (its own line; in the run total, in no epoch).
  void resume(const std::string& training_totals, const std::string& energy_checkpoint_path);
  // energy_windows.csv rows of earlier processes of this run (their own header first), or "".
  const std::string& carried_windows_csv() const { return carried_windows_csv_; }
  // This process's share of the discarded work (found by resume()), for its energy_windows.csv row.
  WindowReport discarded_report() const;

  // Periodic checkpoint written atomically by the sampler thread, every
  // energy.checkpoint_interval_s seconds, and at stop().
  void set_checkpoint(const std::string& path);

  // ---- what was found and decided, for energy_meta.json and summaries -------------------------
  std::vector<ChannelInfo> channels() const;
  std::vector<Candidate> candidates() const;
  std::vector<std::string> notes() const {
    std::lock_guard lock(mutex_);
    return notes_;
  }
  const MachineInfo& machine() const { return machine_; }
  const TdpChoice& tdp() const { return tdp_; }
  const Intensity& intensity() const { return intensity_; }
  const core::EnergyConfig& config() const { return config_; }
  const std::vector<NvmlDevice>& gpus() const;
  std::string gpu_mapping() const { return gpu_mapping_how_; }
  double interval_s() const { return interval_s_; }
  double requested_interval_s() const { return config_.measure_power_secs; }
  double min_wrap_period_s() const { return min_wrap_s_; }
  // Meter cost: CPU seconds of the sampler thread and of mark() calls on callers' threads.
  double sampler_cpu_s() const { return double(sampler_cpu_ns_.load()) * 1e-9; }
  double mark_cpu_s() const { return double(mark_cpu_ns_.load()) * 1e-9; }
  std::string run_id() const { return run_id_; }
  double carried_duration_s() const { return carried_s_; }
  std::string method(Component c) const;
  // GPUs found but not counted (neither energy counter nor power readable), for the start report.
  const std::vector<GpuProblem>& gpu_problems() const { return gpu_problems_; }
  // kernel.perf_event_paranoid as read at discovery (<proc_root>/sys/kernel/...), or nullopt.
  std::optional<int> perf_paranoid() const { return perf_paranoid_; }
  bool rapl_permission_denied() const { return rapl_permission_denied_; }

 private:
  // Takes an earlier process's components, duration and CodeCarbon-equivalent kWh from its saved
  // totals (a training checkpoint's or energy_checkpoint.json): the part restore and resume share.
  void carry(const nlohmann::json& totals);
  struct Window {
    int id, parent;
    WindowKind kind;
    std::string name;
    int epoch;
    Snapshot begin, end;
    bool open;
    std::optional<WindowReport> frozen;  // the report at end(), kept as is
  };
  void add_source(std::unique_ptr<Source> source);
  void discover(const MeterEnv& env);
  void sample_locked(int64_t t_ns);
  void check_dead_counters_locked(const std::vector<Delta>& deltas, double dt_s);
  void demote_locked(Component c, const std::string& why);
  Snapshot snapshot_locked() const;
  WindowReport make_report(const Window& w, const Snapshot& end) const;
  void thread_main();

  core::EnergyConfig config_;
  const IFileSystem* fs_;
  const IClock* clock_;
  bool threaded_;
  bool announce_;
  std::string run_id_;
  MachineInfo machine_;
  TdpChoice tdp_;
  Intensity intensity_;
  std::vector<std::string> notes_;
  std::vector<Candidate> candidates_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<size_t> source_offset_;
  std::vector<ChannelInfo> infos_;
  class RaplPowercapSource* rapl_ = nullptr;
  NvmlSource* nvml_source_ = nullptr;
  std::string gpu_mapping_how_;
  std::unique_ptr<ProcessTracker> tracker_;
  double interval_s_ = 1.0;
  double min_wrap_s_ = 0.0;

  mutable std::mutex mutex_;
  std::vector<ChannelTotals> totals_;
  std::vector<double> attr_rem_;
  int64_t samples_ = 0;
  int64_t t_last_ns_ = 0;
  CpuTimes cpu_last_{};
  bool cpu_last_valid_ = false;
  uint64_t cpu_busy_acc_ = 0, cpu_total_acc_ = 0;
  double gpu_util_sum_ = 0.0;
  int64_t gpu_util_n_ = 0;
  double ram_used_gib_sum_ = 0.0, ram_percent_sum_ = 0.0;
  int64_t ram_n_ = 0;
  struct DeadWatch {
    double zero_s = 0.0, busy_s = 0.0;
    bool demoted = false;
  };
  DeadWatch dead_cpu_, dead_dram_;
  double last_util_ = 0.0;
  bool last_util_valid_ = false;
  double epoch_sum_j_ = 0.0, epoch_sum_s_ = 0.0;
  std::vector<Window> windows_;
  std::vector<int> open_stack_;
  EpochPredictor predictor_;
  mutable std::optional<Prediction> first_prediction_;
  int64_t carried_cpu_uj_ = 0, carried_dram_uj_ = 0, carried_ram_uj_ = 0, carried_gpu_uj_ = 0;
  int64_t carried_discarded_uj_ = 0;
  double carried_s_ = 0.0, carried_discarded_s_ = 0.0;
  int64_t carried_epochs_uj_ = 0, carried_total_uj_ = 0;  // of the earlier processes
  double carried_epochs_s_ = 0.0;
  int64_t carried_between_uj_ = 0;  // gaps between the earlier processes' epochs
  double carried_between_s_ = 0.0;
  int carried_epochs_n_ = 0;
  double carried_cc_kwh_[3] = {0, 0, 0};
  std::string carried_windows_csv_;
  // The segment this process found discarded at resume (one energy_windows.csv row), by component.
  int64_t new_discarded_cpu_uj_ = 0, new_discarded_ram_uj_ = 0, new_discarded_gpu_uj_ = 0,
          new_discarded_dram_uj_ = 0;
  double new_discarded_s_ = 0.0;
  std::string chain_id_;  // run_id of the first process of a resumed run
  bool resumed_ = false;
  std::vector<GpuProblem> gpu_problems_;
  std::optional<int> perf_paranoid_;
  bool rapl_permission_denied_ = false;
  bool all_visible_gpus_ = false;
  uint32_t static_flags_ = 0;  // flags every window carries (missing domain, all GPUs)

  std::atomic<bool> running_{false};
  bool stopped_ = false;
  std::thread thread_;
  std::condition_variable cv_;
  bool stop_thread_ = false;
  std::string checkpoint_path_;
  double checkpoint_interval_s_ = 60.0;
  std::atomic<int64_t> sampler_cpu_ns_{0}, mark_cpu_ns_{0};
};

}  // namespace greensed::energy
