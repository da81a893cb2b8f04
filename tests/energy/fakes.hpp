// Test fixtures for the energy module: temporary powercap and /proc trees, a scripted perf PMU,
// a scripted NVML and CUDA, and a meter environment wired to them.
#pragma once

#include <unistd.h>

#include <cerrno>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "greensed/core/config.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/nvml.hpp"
#include "greensed/energy/system.hpp"

namespace greensed::energy::testing {

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    path_ = (std::filesystem::temp_directory_path() /
             ("greensed_energy_" + tag + "_" + std::to_string(::getpid()) + "_" +
              std::to_string(std::random_device{}())))
                .string();
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline void put(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path) << text;
}

// A powercap tree: zones live under <root>/intel-rapl[-mmio]/..., flat symlinks at <root>.
class FakePowercap {
 public:
  explicit FakePowercap(std::string root) : root_(std::move(root)) {}
  // Adds a zone "intel-rapl:0:2" (provider from the prefix) with a name and counter.
  std::string zone(const std::string& id, const std::string& name, int64_t energy_uj,
                   int64_t range_uj, int64_t max_power_uw = 0) {
    const std::string provider = id.substr(0, id.find(':'));
    std::string dir = root_ + "/" + provider;
    // Nest sub-zones inside their parents: intel-rapl:0:2 lives in intel-rapl:0/.
    std::string prefix = id.substr(0, id.find(':'));
    std::string rest = id.substr(id.find(':') + 1);
    std::string acc = prefix;
    size_t pos = 0;
    while (true) {
      const size_t colon = rest.find(':', pos);
      acc += ":" + rest.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      dir += "/" + acc;
      if (colon == std::string::npos) break;
      pos = colon + 1;
    }
    std::filesystem::create_directories(dir);
    put(dir + "/name", name + "\n");
    put(dir + "/max_energy_range_uj", std::to_string(range_uj) + "\n");
    if (max_power_uw > 0) {
      put(dir + "/constraint_0_name", "long_term\n");
      put(dir + "/constraint_0_max_power_uw", std::to_string(max_power_uw) + "\n");
    }
    set(dir, energy_uj);
    std::error_code ec;
    std::filesystem::create_directory_symlink(dir, root_ + "/" + id, ec);  // flat link
    return dir;
  }
  static void set(const std::string& zone_dir, int64_t energy_uj) {
    put(zone_dir + "/energy_uj", std::to_string(energy_uj) + "\n");
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

// /proc with stat (cpu line), meminfo, cpuinfo and per-pid stat/smaps_rollup.
class FakeProc {
 public:
  explicit FakeProc(std::string root, int logical_cpus = 4, uint64_t mem_total_kb = 16777216)
      : root_(std::move(root)), total_kb_(mem_total_kb) {
    std::string cpuinfo;
    for (int i = 0; i < logical_cpus; ++i) {
      cpuinfo += "processor\t: " + std::to_string(i) +
                 "\nmodel name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz\nphysical id\t: 0\n\n";
    }
    put(root_ + "/cpuinfo", cpuinfo);
    meminfo(total_kb_ / 2);
    stat(0, 0);
  }
  // Cumulative busy and idle ticks of the machine.
  void stat(uint64_t busy, uint64_t idle) {
    busy_ = busy;
    idle_ = idle;
    put(root_ + "/stat", "cpu  " + std::to_string(busy) + " 0 0 " + std::to_string(idle) +
                             " 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n");
  }
  // Advances the machine by `ticks` with the given busy fraction.
  void run(uint64_t ticks, double busy_fraction) {
    const uint64_t b = uint64_t(std::llround(ticks * busy_fraction));
    stat(busy_ + b, idle_ + (ticks - b));
  }
  void meminfo(uint64_t available_kb) {
    put(root_ + "/meminfo",
        "MemTotal:       " + std::to_string(total_kb_) +
            " kB\nMemFree:        1 kB\nMemAvailable:   " + std::to_string(available_kb) + " kB\n");
  }
  void pid(int pid, int ppid, uint64_t utime, uint64_t stime, uint64_t pss_kb) {
    const std::string dir = root_ + "/" + std::to_string(pid);
    put(dir + "/stat", std::to_string(pid) + " (my (odd) name) S " + std::to_string(ppid) +
                           " 1 1 0 -1 0 0 0 0 0 " + std::to_string(utime) + " " +
                           std::to_string(stime) + " 0 0 20 0 1 0 100 0 0\n");
    put(dir + "/smaps_rollup", "00400000-7fff [rollup]\nRss:  " + std::to_string(pss_kb * 2) +
                                   " kB\nPss:  " + std::to_string(pss_kb) + " kB\n");
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
  uint64_t total_kb_;
  uint64_t busy_ = 0, idle_ = 0;
};

// A perf PMU whose counts the test scripts.
class FakePerf final : public IPerf {
 public:
  int open(uint32_t, uint64_t config, int cpu) override {
    if (open_error) return -open_error;
    if (cpu == fail_cpu) return -EACCES;
    handles.push_back({config, cpu});
    counts.push_back(0);
    return int(handles.size()) - 1;
  }
  int64_t read(int h) override { return read_error ? -read_error : int64_t(counts[h]); }
  void close(int) override { ++closed; }
  std::vector<std::pair<uint64_t, int>> handles;
  std::vector<uint64_t> counts;
  int open_error = 0, read_error = 0, closed = 0;
  int fail_cpu = -1;  // opens on this CPU fail with EACCES (one package of several)
};

inline void make_perf_pmu(const std::string& perf_root, const std::string& cpumask,
                          std::initializer_list<std::pair<const char*, const char*>> events) {
  put(perf_root + "/power/type", "23\n");
  put(perf_root + "/power/cpumask", cpumask + "\n");
  for (const auto& [name, event] : events) {
    put(perf_root + "/power/events/" + name, std::string(event) + "\n");
    put(perf_root + "/power/events/" + name + ".scale", "2.3283064365386962890625e-10\n");
    put(perf_root + "/power/events/" + name + ".unit", "Joules\n");
  }
}

// NVML in C++: per device arch, scripted mJ counter, power, errors.
class FakeNvml final : public INvml {
 public:
  struct Dev {
    NvmlDevice info;
    uint64_t energy_mj = 0;
    unsigned power_mw = 0;
    int energy_rc = kNvmlSuccess;
    int power_rc = kNvmlSuccess;
    unsigned util = 50;
  };
  std::vector<Dev> devs;
  std::string describe() const override { return "fake"; }
  int device_count(int* n) override {
    *n = int(devs.size());
    return kNvmlSuccess;
  }
  int device(int i, NvmlDevice* out) override {
    if (i < 0 || i >= int(devs.size())) return 2;
    *out = devs[i].info;
    return kNvmlSuccess;
  }
  int index_by_pci_bus_id(const std::string& bus, int* index) override {
    for (const auto& d : devs) {
      if (d.info.pci_bus_id == bus) {
        *index = d.info.index;
        return kNvmlSuccess;
      }
    }
    return 6;
  }
  int total_energy_mj(int i, uint64_t* mj) override {
    if (devs[i].energy_rc != kNvmlSuccess) return devs[i].energy_rc;
    *mj = devs[i].energy_mj;
    return kNvmlSuccess;
  }
  int power_mw(int i, unsigned* mw) override {
    if (devs[i].power_rc != kNvmlSuccess) return devs[i].power_rc;
    *mw = devs[i].power_mw;
    return kNvmlSuccess;
  }
  int utilization_gpu(int i, unsigned* p) override {
    *p = devs[i].util;
    return kNvmlSuccess;
  }
  std::string error_string(int code) override { return "nvml error " + std::to_string(code); }
  Dev& add(const std::string& name, const std::string& bus, int arch) {
    Dev d;
    d.info.index = int(devs.size());
    d.info.name = name;
    d.info.uuid = "GPU-" + std::to_string(devs.size()) + "aaaa";
    d.info.pci_bus_id = bus;
    d.info.arch = arch;
    devs.push_back(d);
    return devs.back();
  }
};

class FakeCuda final : public ICudaQuery {
 public:
  std::vector<std::string> bus_ids;  // by CUDA ordinal
  bool available() const override { return true; }
  int device_count() const override { return int(bus_ids.size()); }
  std::string pci_bus_id(int o) const override { return bus_ids[o]; }
};

// A config pointing every root at the fakes; the sampler thread off.
inline core::EnergyConfig fake_config(const std::string& powercap, const std::string& perf,
                                      const std::string& proc) {
  core::EnergyConfig c;
  c.powercap_root = powercap;
  c.perf_root = perf;
  c.proc_root = proc;
  c.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  return c;
}

inline MeterEnv fake_env(const IFileSystem& fs, const IClock& clock, IPerf* perf = nullptr,
                         INvml* nvml = nullptr, const ICudaQuery* cuda = nullptr) {
  MeterEnv e;
  e.fs = &fs;
  e.clock = &clock;
  e.perf = perf;
  e.nvml = nvml;
  e.nvml_problem = nvml ? "" : "no NVML in this test";
  e.cuda = cuda;
  e.threaded = false;
  e.announce = false;
  e.track_pid = 4242;
  return e;
}

inline const ChannelInfo* find_channel(const std::vector<ChannelInfo>& chs, const std::string& n) {
  for (const auto& c : chs) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

}  // namespace greensed::energy::testing
