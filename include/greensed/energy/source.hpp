// A source turns one kind of hardware counter or power model into channels of µJ. Every source
// reports what it found, what it chose and what it rejected with the reason (spec §7.4), so
// energy_meta.json can say why each number was produced the way it was.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "greensed/energy/counter.hpp"

namespace greensed::energy {

// CodeCarbon's components plus the measured DRAM and the platform (psys) domain.
enum class Component { kCpu, kDram, kRam, kGpu };
const char* component_name(Component c);

// How a channel's energy enters the totals.
enum class Role {
  kSelected,  // part of greensed's best estimate for its component
  kShadow,    // kept for comparison or as the fallback if the selected channel dies
};

struct ChannelInfo {
  std::string name;  // unique: "package-0", "dram-0", "gpu0", "cpu-load-tdp", "ram-dimm-v3"
  Component component = Component::kCpu;
  std::string method;      // rapl-powercap | rapl-perf | nvml-energy | nvml-power-trapezoid |
                           // cpu-load-tdp | tdp-constant | user-constant | ram-per-gib-v2 |
                           // ram-dimm-v3 | rapl-dram
  std::string detail;      // where it comes from and how (path, formula, constants)
  bool estimated = false;  // a model, not a measurement
  Role role = Role::kSelected;
  bool codecarbon_234 = false;  // what CodeCarbon 2.3.4 would have summed for this component
  int device = -1;              // GPU: NVML index
  double wrap_period_s = 0.0;   // shortest wrap period, 0 = none
};

// One thing discovery looked at, for energy_meta.json.
struct Candidate {
  std::string source;    // rapl-powercap, rapl-perf, nvml, ...
  std::string name;      // zone / event / device name
  std::string path;      // file or identifier
  std::string decision;  // chosen | rejected | shadow
  std::string reason;
};

// Passed to every source at each sample: what the meter knows about the interval.
struct TickContext {
  int64_t t_ns = 0;
  double cpu_util = 0.0;  // machine busy fraction over the interval just ended, [0, 1]
  bool cpu_util_valid = false;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual std::vector<ChannelInfo> channels() const = 0;
  // Reads the starting point of every channel at t_ns (no energy yet).
  virtual void start(int64_t t_ns) = 0;
  // Adds what each channel consumed since the previous call; out.size() == channels().size().
  virtual void sample(const TickContext& ctx, std::vector<Delta>& out) = 0;
  // True when the source needs samples faster than the meter's interval (power-polled GPUs).
  virtual double wanted_interval_s() const { return 0.0; }
};

}  // namespace greensed::energy
