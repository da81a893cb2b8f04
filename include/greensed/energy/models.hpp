// Power models for what cannot be measured (spec energy.md §2.2.4, §2.2.5, §2.3): the CPU-load ×
// TDP curve of CodeCarbon ≥ 3.0.3, the TDP constant of CodeCarbon 1.x/2.x, the TDP lookup in a
// `Name,TDP` table loaded at run time, and the RAM models of CodeCarbon 2.x (3/8 W per GiB) and
// 3.x (per DIMM). Every model channel is labelled `estimated`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "greensed/energy/source.hpp"
#include "greensed/energy/system.hpp"

namespace greensed::energy {

// ---- CodeCarbon constants (spec §2.8) -----------------------------------------------------------
inline constexpr double kCcPowerConstantW = 85.0;       // unknown CPU, 1.x–3.3.0
inline constexpr double kCcTdpFraction = 0.5;           // CONSUMPTION_PERCENTAGE_CONSTANT
inline constexpr double kCcDefaultPowerPerCpuW = 4.0;   // DEFAULT_POWER_PER_CORE, 3.0+
inline constexpr double kCcRamWattsPerGib = 3.0 / 8.0;  // 2.0–2.8.x
inline constexpr double kCcRamSlotPowerX86W = 5.0;      // 3.0+
inline constexpr double kCcRamSlotPowerArmW = 1.5;      // 3.0+
inline constexpr double kCcJoulesToKwh = 2.77778e-7;    // 2.0+ (exact is 1/3.6e6)

// CodeCarbon ≥ 3.0.3 machine-mode CPU-load curve: P = TDP × (0.1 + 0.9 u³), u in [0, 1].
double cpu_load_power_w(double tdp_w, double util);

// RAM: CodeCarbon 2.x, 3/8 W per GiB.
double ram_power_per_gib_v2_w(double gib);
// RAM: CodeCarbon 3.x DIMM-count heuristic and per-DIMM power (non-monotonic above 128 GiB).
int ram_dimm_count_v3(double gib);
double ram_power_dimm_v3_w(double gib, bool arm = false);

// /proc/stat first line: busy = user+nice+system+irq+softirq+steal, total = busy+idle+iowait.
struct CpuTimes {
  uint64_t busy = 0, total = 0;
};
std::optional<CpuTimes> parse_proc_stat(const std::string& text);
// Busy fraction between two readings, clamped to [0, 1]; nullopt when no tick elapsed.
std::optional<double> cpu_utilisation(const CpuTimes& a, const CpuTimes& b);

// Facts about the machine (from <proc_root>/cpuinfo, meminfo; sockets from "physical id").
struct MachineInfo {
  std::string cpu_model = "Unknown";
  int logical_cpus = 1;
  int sockets = 1;
  double ram_total_gib = 0.0;
  bool arm = false;
};
MachineInfo read_machine_info(const IFileSystem& fs, const std::string& proc_root);

// CodeCarbon's model-name normalisation (§2.2.4): strip "(R)"/"(TM)", cut at " CPU @ ", drop
// " CPU" and "@ x.xxGHz", collapse spaces.
std::string normalise_cpu_name(const std::string& name);
// Looks `cpu_model` up in a `Name,TDP` CSV text: exact (case-insensitive), then normalised, then
// token-set containment accepted only when a single row matches. nullopt = unknown.
struct TdpMatch {
  std::string name;
  double tdp_w = 0.0;
  std::string how;  // exact | normalised | token-set
};
std::optional<TdpMatch> lookup_tdp(const std::string& csv_text, const std::string& origin,
                                   const std::string& cpu_model);

// CodeCarbon's cpu_power.csv (commit b05965e, 3.3.0; src/energy/data/PROVENANCE.md), compiled in.
const std::string& builtin_cpu_power_csv();
inline constexpr const char* kBuiltinTdpTableName =
    "built-in cpu_power.csv (CodeCarbon b05965e, 3.3.0)";

// The TDP the load model uses and how it was obtained: energy.cpu_tdp_w, else the table
// (energy.cpu_tdp_table, else the built-in one) × sockets, else the generic 4 W × logical CPUs.
struct TdpChoice {
  double tdp_w = 0.0;
  std::string how;       // user | table (×sockets) | default 4 W × logical CPUs
  bool generic = false;  // not specific to this CPU
};
TdpChoice choose_tdp(double user_tdp_w, const std::string& table_path, const MachineInfo& machine,
                     const IFileSystem& fs, std::vector<std::string>& notes);

// CPU-load × TDP model: P evaluated from the utilisation over each interval and held for it
// (what CodeCarbon does; spec §7.6).
class CpuLoadSource final : public Source {
 public:
  CpuLoadSource(double tdp_w, std::string detail, Role role);
  std::vector<ChannelInfo> channels() const override { return {info_}; }
  void start(int64_t t_ns) override { t_last_ = t_ns; }
  void sample(const TickContext& ctx, std::vector<Delta>& out) override;

 private:
  ChannelInfo info_;
  double tdp_w_;
  int64_t t_last_ = 0;
  PowerIntegrator integ_;
};

// A constant power (TDP constant, RAM models, user constant).
class ConstantPowerSource final : public Source {
 public:
  explicit ConstantPowerSource(ChannelInfo info, double power_w);
  std::vector<ChannelInfo> channels() const override { return {info_}; }
  void start(int64_t t_ns) override { t_last_ = t_ns; }
  void sample(const TickContext& ctx, std::vector<Delta>& out) override;
  double power_w() const { return power_w_; }

 private:
  ChannelInfo info_;
  double power_w_;
  int64_t t_last_ = 0;
  PowerIntegrator integ_;
};

}  // namespace greensed::energy
