// What the meter needs from the machine (MeterEnv), and the production implementations of it
// (SystemEnv: real files, the steady clock, perf, NVML by dlopen, the CUDA driver). Tests build a
// MeterEnv from fakes instead (tests/energy/fakes.hpp).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "greensed/core/config.hpp"
#include "greensed/energy/nvml.hpp"
#include "greensed/energy/system.hpp"

namespace greensed::energy {

// What the meter needs from the machine; tests pass fakes, production uses SystemEnv.
struct MeterEnv {
  const IFileSystem* fs = nullptr;
  const IClock* clock = nullptr;
  IPerf* perf = nullptr;     // nullptr = no perf fallback
  INvml* nvml = nullptr;     // nullptr = no NVIDIA GPU measurement
  std::string nvml_problem;  // why nvml is nullptr, for energy_meta.json
  const ICudaQuery* cuda = nullptr;
  std::optional<std::string> cuda_visible_devices;  // the environment variable, if set
  bool threaded = true;                             // false: only tick()/mark() sample (tests)
  bool announce = true;  // start() logs the start report (what is measured, what is not, fixes)
  int track_pid = 0;     // 0 = this process
  bool track_descendants = false;
};

// Owns the production implementations (real files, steady clock, perf, NVML by dlopen, CUDA).
class SystemEnv {
 public:
  static std::unique_ptr<SystemEnv> create(const core::EnergyConfig& config);
  MeterEnv env() const;

 private:
  RealFileSystem fs_;
  SteadyClock clock_;
  RealPerf perf_;
  std::unique_ptr<INvml> nvml_;
  std::string nvml_problem_;
  std::unique_ptr<ICudaQuery> cuda_;
};

}  // namespace greensed::energy
