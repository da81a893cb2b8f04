// CPU package and DRAM energy from RAPL: the powercap sysfs tree (spec energy.md §6.1) and, when
// that is unreadable, the perf RAPL PMU (§6.2).
//
// Selection (§7.4, §7.14 item 5): Σ package + Σ dram; psys only when asked (it then replaces the
// package sum as the CPU component); core and uncore never (they are inside package). Zone ids are
// hexadecimal (intel-rapl:a is zone 10); domains are identified by `name`, never by index. The same
// package seen through intel-rapl (MSR) and intel-rapl-mmio is kept once, MSR preferred (MMIO only
// when the MSR zone is unreadable). Per-die packages that mirror one socket counter (identical
// absolute values and identical deltas over two samples) are de-duplicated at run time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "greensed/energy/source.hpp"
#include "greensed/energy/system.hpp"

namespace greensed::energy {

struct RaplOptions {
  bool use_psys = false;
  bool include_dram = true;
  double fallback_p_max_w = 1000.0;  // plausibility bound when constraint_0_max_power_uw is absent
};

// One zone of the powercap tree.
struct PowercapZone {
  std::string path;          // canonical directory
  std::string provider;      // intel-rapl | intel-rapl-mmio
  std::vector<int> id;       // hex parts of "intel-rapl:0:2" -> {0, 2}
  std::string name;          // package-0, package-0-die-1, dram, psys, core, uncore
  int64_t range_uj = 0;      // max_energy_range_uj, 0 = unreadable
  double max_power_w = 0.0;  // constraint_0_max_power_uw, 0 = absent
  int energy_error = 0;      // errno of the first energy_uj read
};

// Finds every zone under `root` (control-type directories and flat symlinks,
// realpath-deduplicated).
std::vector<PowercapZone> scan_powercap(const IFileSystem& fs, const std::string& root);

class RaplPowercapSource final : public Source {
 public:
  // Keeps the zones that pass selection; `candidates` receives every zone with its decision.
  RaplPowercapSource(const IFileSystem& fs, const std::string& root, const RaplOptions& options,
                     std::vector<Candidate>& candidates);
  bool has_cpu() const;  // a readable package (or psys, when asked) zone was chosen
  bool has_dram() const;
  bool any_permission_denied() const { return permission_denied_; }
  std::vector<ChannelInfo> channels() const override { return infos_; }
  void start(int64_t t_ns) override;
  void sample(const TickContext& ctx, std::vector<Delta>& out) override;
  // Mirrored dies found since the last call (the meter then re-reads channels()).
  bool take_role_change();
  std::vector<Candidate> mirror_decisions() const { return mirror_log_; }

 private:
  struct Zone {
    std::string energy_path;
    CounterTracker tracker;
    int64_t last_delta = -1;
    int mirror_of = -1;     // index of the die this one mirrors (confirmed)
    int mirror_streak = 0;  // consecutive equal samples with the candidate twin
    int twin = -1;          // candidate twin (same package, another die)
  };
  const IFileSystem& fs_;
  std::vector<ChannelInfo> infos_;
  std::vector<Zone> zones_;
  bool permission_denied_ = false;
  bool roles_changed_ = false;
  std::vector<Candidate> mirror_log_;
};

// The perf RAPL PMU under <perf_root>/power: type, cpumask, events/energy-{pkg,ram,psys}[.scale].
struct PerfEvent {
  std::string name;  // energy-pkg
  uint64_t config = 0;
  double scale = 0.0;  // J per count (2^-32 on every CPU seen so far)
  std::string unit;
};
struct PerfPmu {
  bool present = false;
  uint32_t type = 0;
  std::vector<int> cpus;  // one CPU per package
  std::vector<PerfEvent> events;
  std::string problem;  // why it is unusable, when present == false
};
PerfPmu read_perf_pmu(const IFileSystem& fs, const std::string& perf_root);

class PerfRaplSource final : public Source {
 public:
  PerfRaplSource(const IFileSystem& fs, IPerf& perf, const std::string& perf_root,
                 const RaplOptions& options, std::vector<Candidate>& candidates);
  ~PerfRaplSource() override;
  bool has_cpu() const;
  bool has_dram() const;
  // Packages (CPU of the cpumask) whose event could not be opened while another one could: their
  // energy is absent from the sum. "" when every package is counted.
  const std::string& missing() const { return missing_; }
  std::vector<ChannelInfo> channels() const override { return infos_; }
  void start(int64_t t_ns) override;
  void sample(const TickContext& ctx, std::vector<Delta>& out) override;

 private:
  std::string missing_;
  struct Counter {
    int handle = -1;
    double scale = 0.0;
    uint64_t first = 0;
    int64_t emitted_uj = 0;
    bool started = false;
    uint64_t last = 0;
  };
  IPerf& perf_;
  std::vector<ChannelInfo> infos_;
  std::vector<Counter> counters_;
};

// Parses a kernel CPU list ("0", "0,28", "0-3,8").
std::vector<int> parse_cpu_list(const std::string& text);

}  // namespace greensed::energy
