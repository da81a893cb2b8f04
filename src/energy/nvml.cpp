#include "greensed/energy/nvml.hpp"

#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace greensed::energy {
namespace {

using Handle = void*;

// NVML's C entry points, resolved by name. The _v2 variants first, unversioned as fallback.
class DlNvml final : public INvml {
 public:
  DlNvml(void* lib, std::string library) : lib_(lib), library_(std::move(library)) {}
  ~DlNvml() override {
    if (shutdown_) shutdown_();
    ::dlclose(lib_);
  }

  bool load(std::string* why_not) {
    init_ = resolve<InitFn>({"nvmlInit_v2", "nvmlInit"});
    shutdown_ = resolve<VoidFn>({"nvmlShutdown"});
    count_ = resolve<CountFn>({"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
    by_index_ = resolve<ByIndexFn>({"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
    by_pci_ =
        resolve<ByPciFn>({"nvmlDeviceGetHandleByPciBusId_v2", "nvmlDeviceGetHandleByPciBusId"});
    index_ = resolve<IndexFn>({"nvmlDeviceGetIndex"});
    name_ = resolve<StrFn>({"nvmlDeviceGetName"});
    uuid_ = resolve<StrFn>({"nvmlDeviceGetUUID"});
    arch_ = resolve<ArchFn>({"nvmlDeviceGetArchitecture"});
    energy_ = resolve<EnergyFn>({"nvmlDeviceGetTotalEnergyConsumption"});
    power_ = resolve<PowerFn>({"nvmlDeviceGetPowerUsage"});
    util_ = resolve<UtilFn>({"nvmlDeviceGetUtilizationRates"});
    error_ = resolve<ErrFn>({"nvmlErrorString"});
    pci_ = resolve<PciFn>(
        {"nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2", "nvmlDeviceGetPciInfo"});
    if (!init_ || !count_ || !by_index_ || !power_) {
      *why_not = fmt::format(
          "{}: missing a required NVML symbol (nvmlInit, "
          "nvmlDeviceGetCount, nvmlDeviceGetHandleByIndex or "
          "nvmlDeviceGetPowerUsage)",
          library_);
      return false;
    }
    const int rc = init_();
    if (rc != kNvmlSuccess) {
      *why_not = fmt::format("{}: nvmlInit failed ({})", library_, error_string(rc));
      shutdown_ = nullptr;
      return false;
    }
    return true;
  }

  std::string describe() const override {
    std::string s = library_;
    for (const auto& r : resolved_) s += " " + r;
    return s;
  }
  int device_count(int* count) override {
    unsigned n = 0;
    const int rc = count_(&n);
    *count = int(n);
    return rc;
  }
  int device(int index, NvmlDevice* out) override {
    Handle h = nullptr;
    int rc = by_index_(unsigned(index), &h);
    if (rc != kNvmlSuccess) return rc;
    out->index = index;
    char buf[256] = {0};
    if (name_ && name_(h, buf, sizeof buf) == kNvmlSuccess) out->name = buf;
    std::memset(buf, 0, sizeof buf);
    if (uuid_ && uuid_(h, buf, sizeof buf) == kNvmlSuccess) out->uuid = buf;
    unsigned arch = 0;
    out->arch = arch_ && arch_(h, &arch) == kNvmlSuccess ? int(arch) : -1;
    // nvmlPciInfo_t: busIdLegacy[16], domain, bus, device, pciDeviceId, pciSubSystemId,
    // busId[32]; read into an oversized buffer so a larger future struct cannot overflow it.
    alignas(8) char pci[512] = {0};
    if (pci_ && pci_(h, pci) == kNvmlSuccess) {
      const char* bus_id = pci + 16 + 5 * sizeof(unsigned);
      out->pci_bus_id = std::string(bus_id, strnlen(bus_id, 32));
      if (out->pci_bus_id.empty()) out->pci_bus_id = std::string(pci, strnlen(pci, 16));
    }
    return kNvmlSuccess;
  }
  int index_by_pci_bus_id(const std::string& bus_id, int* index) override {
    if (!by_pci_ || !index_) return kNvmlErrorNotSupported;
    Handle h = nullptr;
    int rc = by_pci_(bus_id.c_str(), &h);
    if (rc != kNvmlSuccess) return rc;
    unsigned i = 0;
    rc = index_(h, &i);
    *index = int(i);
    return rc;
  }
  int total_energy_mj(int index, uint64_t* mj) override {
    if (!energy_) return kNvmlErrorNotSupported;
    Handle h = nullptr;
    const int rc = by_index_(unsigned(index), &h);
    if (rc != kNvmlSuccess) return rc;
    unsigned long long v = 0;
    const int r = energy_(h, &v);
    *mj = v;
    return r;
  }
  int power_mw(int index, unsigned* mw) override {
    Handle h = nullptr;
    const int rc = by_index_(unsigned(index), &h);
    return rc != kNvmlSuccess ? rc : power_(h, mw);
  }
  int utilization_gpu(int index, unsigned* percent) override {
    if (!util_) return kNvmlErrorNotSupported;
    Handle h = nullptr;
    const int rc = by_index_(unsigned(index), &h);
    if (rc != kNvmlSuccess) return rc;
    unsigned rates[2] = {0, 0};  // nvmlUtilization_t {gpu, memory}
    const int r = util_(h, rates);
    *percent = rates[0];
    return r;
  }
  std::string error_string(int code) override {
    if (error_) {
      const char* s = error_(code);
      if (s) return fmt::format("{} ({})", s, code);
    }
    return fmt::format("NVML error {}", code);
  }

 private:
  using InitFn = int (*)();
  using VoidFn = int (*)();
  using CountFn = int (*)(unsigned*);
  using ByIndexFn = int (*)(unsigned, Handle*);
  using ByPciFn = int (*)(const char*, Handle*);
  using IndexFn = int (*)(Handle, unsigned*);
  using StrFn = int (*)(Handle, char*, unsigned);
  using ArchFn = int (*)(Handle, unsigned*);
  using EnergyFn = int (*)(Handle, unsigned long long*);
  using PowerFn = int (*)(Handle, unsigned*);
  using UtilFn = int (*)(Handle, unsigned*);
  using ErrFn = const char* (*)(int);
  using PciFn = int (*)(Handle, void*);

  template <class F>
  F resolve(std::initializer_list<const char*> names) {
    for (const char* n : names) {
      if (void* p = ::dlsym(lib_, n)) {
        resolved_.push_back(n);
        return reinterpret_cast<F>(p);
      }
    }
    return nullptr;
  }

  void* lib_;
  std::string library_;
  std::vector<std::string> resolved_;
  InitFn init_ = nullptr;
  VoidFn shutdown_ = nullptr;
  CountFn count_ = nullptr;
  ByIndexFn by_index_ = nullptr;
  ByPciFn by_pci_ = nullptr;
  IndexFn index_ = nullptr;
  StrFn name_ = nullptr, uuid_ = nullptr;
  ArchFn arch_ = nullptr;
  EnergyFn energy_ = nullptr;
  PowerFn power_ = nullptr;
  UtilFn util_ = nullptr;
  ErrFn error_ = nullptr;
  PciFn pci_ = nullptr;
};

std::string upper(std::string s) {
  for (auto& ch : s) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

// "00000000:3B:00.0" and "0000:3b:00.0" name the same device.
std::string normalise_bus_id(const std::string& id) {
  std::string s = upper(id);
  const size_t colon = s.find(':');
  if (colon != std::string::npos && colon > 4) s = s.substr(colon - 4);
  return s;
}

}  // namespace

std::unique_ptr<INvml> load_nvml(const std::string& library, std::string* why_not) {
  void* lib = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = ::dlerror();
    *why_not = fmt::format("cannot load {} ({}); no NVIDIA driver on this machine?", library,
                           err ? err : "unknown error");
    return nullptr;
  }
  auto nvml = std::make_unique<DlNvml>(lib, library);
  if (!nvml->load(why_not)) return nullptr;
  return nvml;
}

GpuMapping map_cuda_to_nvml(INvml& nvml, const ICudaQuery* cuda, const std::string& cuda_visible) {
  GpuMapping m;
  int n = 0;
  if (nvml.device_count(&n) != kNvmlSuccess) n = 0;
  std::vector<NvmlDevice> devs(n);
  for (int i = 0; i < n; ++i) nvml.device(i, &devs[i]);

  if (cuda && cuda->available()) {
    m.how = "pci-bus-id";
    for (int c = 0; c < cuda->device_count(); ++c) {
      const std::string bus = cuda->pci_bus_id(c);
      int idx = -1;
      if (nvml.index_by_pci_bus_id(bus, &idx) != kNvmlSuccess) {
        idx = -1;
        for (const auto& d : devs) {
          if (!bus.empty() && normalise_bus_id(d.pci_bus_id) == normalise_bus_id(bus))
            idx = d.index;
        }
      }
      if (idx < 0) {
        m.notes.push_back(fmt::format("CUDA device {} (PCI {}) has no NVML device", c, bus));
      }
      m.nvml_index.push_back(idx);
    }
    return m;
  }
  if (!cuda_visible.empty()) {
    m.how = "cuda-visible-devices-as-nvml";
    m.notes.push_back(
        "no CUDA driver to ask for PCI bus ids: CUDA_VISIBLE_DEVICES entries were read as NVML "
        "indices or UUIDs in PCI order (exact only with CUDA_DEVICE_ORDER=PCI_BUS_ID)");
    size_t pos = 0;
    while (pos <= cuda_visible.size()) {
      size_t comma = cuda_visible.find(',', pos);
      if (comma == std::string::npos) comma = cuda_visible.size();
      const std::string item = trim(cuda_visible.substr(pos, comma - pos));
      pos = comma + 1;
      if (item.empty()) continue;
      int idx = -1;
      if (std::all_of(item.begin(), item.end(), ::isdigit)) {
        const int v = std::stoi(item);
        if (v < n) idx = v;
      } else {
        for (const auto& d : devs) {
          if (!d.uuid.empty() && d.uuid.rfind(item, 0) == 0) idx = d.index;
        }
      }
      if (idx < 0) {
        // CUDA stops at the first invalid entry; so do we.
        m.notes.push_back(
            fmt::format("CUDA_VISIBLE_DEVICES entry '{}' matches no NVML device; "
                        "later entries are ignored, as CUDA does",
                        item));
        break;
      }
      m.nvml_index.push_back(idx);
    }
    return m;
  }
  m.how = "all-nvml";
  for (int i = 0; i < n; ++i) m.nvml_index.push_back(i);
  return m;
}

NvmlSource::NvmlSource(INvml& nvml, const GpuMapping& mapping,
                       const std::vector<int>& cuda_ordinals, double poll_interval_s,
                       std::vector<Candidate>& candidates)
    : nvml_(nvml), poll_interval_s_(poll_interval_s) {
  std::vector<int> ordinals = cuda_ordinals;
  if (ordinals.empty()) {
    for (int c = 0; c < int(mapping.nvml_index.size()); ++c) ordinals.push_back(c);
  }
  for (int c : ordinals) {
    Candidate cand{"nvml", fmt::format("cuda:{}", c), "", "rejected", ""};
    if (c < 0 || c >= int(mapping.nvml_index.size()) || mapping.nvml_index[c] < 0) {
      cand.reason = fmt::format("CUDA device {} not visible ({} visible, mapping {})", c,
                                mapping.nvml_index.size(), mapping.how);
      candidates.push_back(cand);
      continue;
    }
    NvmlDevice dev;
    const int idx = mapping.nvml_index[c];
    const int rc = nvml_.device(idx, &dev);
    cand.name = fmt::format("cuda:{} -> nvml:{}", c, idx);
    cand.path = dev.pci_bus_id;
    if (rc != kNvmlSuccess) {
      cand.reason = "nvmlDeviceGetHandleByIndex failed: " + nvml_.error_string(rc);
      candidates.push_back(cand);
      continue;
    }
    Gpu gpu;
    ChannelInfo info;
    info.name = fmt::format("gpu{}", idx);
    info.component = Component::kGpu;
    info.device = idx;
    uint64_t mj = 0;
    const int erc = dev.arch >= kNvmlArchVolta || dev.arch < 0 ? nvml_.total_energy_mj(idx, &mj)
                                                               : kNvmlErrorNotSupported;
    unsigned mw = 0;
    if (erc == kNvmlSuccess) {
      gpu.counter = true;
      info.method = "nvml-energy";
      info.detail =
          fmt::format("{} ({}), nvmlDeviceGetTotalEnergyConsumption (mJ)", dev.name, dev.uuid);
      info.codecarbon_234 = true;
      cand.decision = "chosen";
      cand.reason = fmt::format("energy counter (architecture {})", dev.arch);
    } else if (nvml_.power_mw(idx, &mw) == kNvmlSuccess) {
      info.method = "nvml-power-trapezoid";
      info.estimated = false;
      info.detail = fmt::format(
          "{} ({}): no energy counter ({}); nvmlDeviceGetPowerUsage polled every {} s, trapezoid "
          "rule",
          dev.name, dev.uuid, nvml_.error_string(erc), poll_interval_s);
      cand.decision = "chosen";
      cand.reason = "power polling (no energy counter: " + nvml_.error_string(erc) +
                    "); CodeCarbon 2.3.4 would fail or report 0 for this GPU";
      ++n_without_energy_;
    } else {
      cand.reason = "neither the energy counter nor power can be read: " + nvml_.error_string(erc);
      ++n_without_energy_;
      problems_.push_back(
          {fmt::format("{} (nvml:{}, {})", dev.name, idx, dev.pci_bus_id), cand.reason});
      candidates.push_back(cand);
      continue;
    }
    candidates.push_back(cand);
    infos_.push_back(info);
    devices_.push_back(dev);
    gpus_.push_back(gpu);
  }
}

double NvmlSource::wanted_interval_s() const {
  for (const auto& g : gpus_) {
    if (!g.counter) return poll_interval_s_;
  }
  return 0.0;
}

void NvmlSource::start(int64_t t_ns) {
  for (size_t i = 0; i < gpus_.size(); ++i) {
    auto& g = gpus_[i];
    if (g.counter) {
      uint64_t mj = 0;
      if (nvml_.total_energy_mj(devices_[i].index, &mj) == kNvmlSuccess) {
        g.tracker.update(int64_t(mj) * 1000, t_ns);
      }
    } else {
      unsigned mw = 0;
      if (nvml_.power_mw(devices_[i].index, &mw) == kNvmlSuccess)
        g.power.add_sample(mw * 1e-3, t_ns);
    }
  }
}

void NvmlSource::sample(const TickContext& ctx, std::vector<Delta>& out) {
  double util_sum = 0.0;
  int util_n = 0;
  for (size_t i = 0; i < gpus_.size(); ++i) {
    auto& g = gpus_[i];
    const int idx = devices_[i].index;
    if (g.counter) {
      uint64_t mj = 0;
      const int rc = nvml_.total_energy_mj(idx, &mj);
      if (rc != kNvmlSuccess) {
        out[i].add(g.tracker.read_error());
        // Integrate power meanwhile: used only if the counter does not come back.
        unsigned mw = 0;
        if (nvml_.power_mw(idx, &mw) == kNvmlSuccess) {
          g.pending_uj += g.pending.add_sample(mw * 1e-3, ctx.t_ns);
        }
        if (++g.failures >= kCounterFailuresBeforeFallback && g.pending.started()) {
          g.counter = false;
          g.power = g.pending;
          out[i].uj += g.pending_uj;
          out[i].flags |= kFlagGpuPowerFallback;
          g.pending_uj = 0;
        }
      } else {
        out[i].add(g.tracker.update(int64_t(mj) * 1000, ctx.t_ns));
        g.failures = 0;
        g.pending = PowerIntegrator();
        g.pending_uj = 0;
      }
    } else {
      unsigned mw = 0;
      const int rc = nvml_.power_mw(idx, &mw);
      if (rc != kNvmlSuccess) {
        out[i].errors += 1;
        out[i].flags |= kFlagReadError;
      } else {
        out[i].uj += g.power.add_sample(mw * 1e-3, ctx.t_ns);
        if (g.failures > 0) out[i].flags |= kFlagGpuPowerFallback;
      }
    }
    unsigned u = 0;
    if (nvml_.utilization_gpu(idx, &u) == kNvmlSuccess) {
      util_sum += u;
      ++util_n;
    }
  }
  last_util_ = util_n ? util_sum / util_n : -1.0;
}

}  // namespace greensed::energy
