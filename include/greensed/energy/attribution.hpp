// Per-process attribution (spec energy.md §7.8), reported beside the machine totals: over each
// interval, the tracked processes' share of busy CPU time (experiment-impact-tracker), of CPU
// capacity (CodeCarbon process mode; a lower bound), and of used memory by PSS.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "greensed/energy/models.hpp"
#include "greensed/energy/system.hpp"

namespace greensed::energy {

struct Shares {
  double cpu_busy = 0.0;      // Δ(utime+stime)_S / Δbusy_system, in [0, 1]
  double cpu_capacity = 0.0;  // Δ(utime+stime)_S / Δtotal_system
  double memory = 0.0;        // Σ PSS_S / (MemTotal − MemAvailable)
  bool valid = false;
};

// utime+stime+cutime+cstime (clock ticks) from /proc/<pid>/stat; nullopt if unreadable.
std::optional<uint64_t> parse_pid_cpu_ticks(const std::string& stat_text);
// The parent pid field of /proc/<pid>/stat.
std::optional<int> parse_pid_ppid(const std::string& stat_text);
// Pss (kB) from smaps_rollup, falling back to Rss; nullopt if neither is present.
std::optional<uint64_t> parse_pss_kb(const std::string& smaps_rollup_text);
// MemTotal − MemAvailable (kB) from /proc/meminfo.
std::optional<uint64_t> parse_used_memory_kb(const std::string& meminfo_text);

// Tracks a process and (optionally) its descendants, found by walking PPIDs under proc_root.
class ProcessTracker {
 public:
  ProcessTracker(const IFileSystem& fs, std::string proc_root, int root_pid, bool descendants);
  // Shares over the interval since the previous call; the first call only sets the baseline.
  Shares update(const CpuTimes& system_now);
  int root_pid() const { return root_pid_; }

 private:
  const IFileSystem& fs_;
  std::string proc_root_;
  int root_pid_;
  bool descendants_;
  bool have_last_ = false;
  uint64_t last_proc_ticks_ = 0;
  CpuTimes last_system_;
};

}  // namespace greensed::energy
