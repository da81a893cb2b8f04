// NVIDIA GPU energy through NVML, loaded with dlopen (never linked; spec energy.md §6.5).
//
// Per device: the total-energy counter (mJ since driver load) on Volta (arch 5) and newer when its
// first read succeeds (`nvml-energy`); otherwise board power polled at gpu_poll_interval_s and
// integrated with the trapezoid rule (`nvml-power-trapezoid`); otherwise nothing, loudly. GPUs are
// chosen by CUDA ordinal and mapped to NVML devices by PCI bus id (CUDA orders "fastest first",
// NVML by PCI address; CUDA_VISIBLE_DEVICES renumbers CUDA ordinals), spec §2.4 and §7.14 item 4.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "greensed/energy/source.hpp"
#include "greensed/energy/system.hpp"

namespace greensed::energy {

inline constexpr int kNvmlSuccess = 0;
inline constexpr int kNvmlErrorNotSupported = 3;
inline constexpr int kNvmlErrorGpuIsLost = 15;
inline constexpr int kNvmlArchVolta = 5;

struct NvmlDevice {
  int index = -1;
  std::string name, uuid, pci_bus_id;
  int arch = -1;  // nvmlDeviceArchitecture_t; -1 = unknown
};

// The NVML calls the meter uses; each returns an nvmlReturn_t value (0 = success).
class INvml {
 public:
  virtual ~INvml() = default;
  virtual std::string describe() const = 0;  // library path and symbol variants resolved
  virtual int device_count(int* count) = 0;
  virtual int device(int index, NvmlDevice* out) = 0;
  virtual int index_by_pci_bus_id(const std::string& bus_id, int* index) = 0;
  virtual int total_energy_mj(int index, uint64_t* mj) = 0;
  virtual int power_mw(int index, unsigned* mw) = 0;
  virtual int utilization_gpu(int index, unsigned* percent) = 0;
  virtual std::string error_string(int code) = 0;
};

// Loads `library` with dlopen and initialises NVML; nullptr with `why_not` filled when the library
// or a required symbol is missing or nvmlInit fails. Resolves the _v2 symbols first and falls back
// to the unversioned ones.
std::unique_ptr<INvml> load_nvml(const std::string& library, std::string* why_not);

// A CUDA ordinal → NVML index map. Order of trust: the CUDA driver's PCI bus ids (exact); else
// CUDA_VISIBLE_DEVICES read as NVML indices or UUIDs in NVML order (what CUDA does only with
// CUDA_DEVICE_ORDER=PCI_BUS_ID; recorded as an assumption).
struct GpuMapping {
  std::vector<int> nvml_index;  // by CUDA ordinal
  std::string how;              // "pci-bus-id" | "cuda-visible-devices-as-nvml" | "all-nvml"
  std::vector<std::string> notes;
};
GpuMapping map_cuda_to_nvml(INvml& nvml, const ICudaQuery* cuda, const std::string& cuda_visible);

// A GPU that was found but whose energy is not counted, and why.
struct GpuProblem {
  std::string device, reason;
};

// Per tracked GPU: the energy counter, else board power polled and integrated. A counter that
// fails kCounterFailuresBeforeFallback reads in a row switches to power polling for the rest of
// the run (flag gpu_power_fallback; the interval before the first failed read is lost, flagged
// read_error); a GPU with neither is reported in problems().
class NvmlSource final : public Source {
 public:
  // `cuda_ordinals` empty = every GPU of the mapping.
  NvmlSource(INvml& nvml, const GpuMapping& mapping, const std::vector<int>& cuda_ordinals,
             double poll_interval_s, std::vector<Candidate>& candidates);
  std::vector<ChannelInfo> channels() const override { return infos_; }
  void start(int64_t t_ns) override;
  void sample(const TickContext& ctx, std::vector<Delta>& out) override;
  double wanted_interval_s() const override;
  const std::vector<NvmlDevice>& devices() const { return devices_; }
  int n_without_energy() const { return n_without_energy_; }
  const std::vector<GpuProblem>& problems() const { return problems_; }
  static constexpr int kCounterFailuresBeforeFallback = 3;
  // Mean utilisation (percent) over all tracked GPUs at the last sample, -1 if unknown.
  double last_utilization() const { return last_util_; }

 private:
  struct Gpu {
    bool counter = false;
    CounterTracker tracker{CounterTracker::Kind::kMonotonic, 0, 0.0};
    PowerIntegrator power;
    int failures = 0;         // consecutive failed counter reads
    PowerIntegrator pending;  // power integrated since the first failed counter read
    int64_t pending_uj = 0;
  };
  std::vector<GpuProblem> problems_;
  INvml& nvml_;
  std::vector<ChannelInfo> infos_;
  std::vector<NvmlDevice> devices_;
  std::vector<Gpu> gpus_;
  double poll_interval_s_;
  int n_without_energy_ = 0;
  double last_util_ = -1.0;
};

}  // namespace greensed::energy
