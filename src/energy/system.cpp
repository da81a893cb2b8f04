#include "greensed/energy/system.hpp"

#include "greensed/energy/env.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace greensed::energy {

int64_t SteadyClock::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t SteadyClock::wall_time_s() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ReadResult RealFileSystem::read(const std::string& path) const {
  ReadResult r;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      r.error = errno;
      break;
    }
    if (n == 0) break;
    r.text.append(buf, size_t(n));
    if (r.text.size() > (1u << 20)) break;  // sysfs/procfs files the meter reads are small
  }
  ::close(fd);
  return r;
}

std::vector<std::string> RealFileSystem::list(const std::string& dir) const {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string RealFileSystem::realpath(const std::string& path) const {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) return "";
  return buf;
}

void FaultyFileSystem::fail(const std::string& path, int error) {
  std::lock_guard lock(mutex_);
  failures_[path] = error;
}

void FaultyFileSystem::clear(const std::string& path) {
  std::lock_guard lock(mutex_);
  failures_.erase(path);
}

ReadResult FaultyFileSystem::read(const std::string& path) const {
  {
    std::lock_guard lock(mutex_);
    const auto it = failures_.find(path);
    if (it != failures_.end()) return ReadResult{"", it->second};
  }
  return inner_.read(path);
}

int RealPerf::open(uint32_t type, uint64_t config, int cpu) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.type = type;
  attr.size = sizeof attr;
  attr.config = config;
  const long fd = ::syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  return fd < 0 ? -errno : int(fd);
}

int64_t RealPerf::read(int handle) {
  uint64_t count = 0;
  const ssize_t n = ::read(handle, &count, sizeof count);
  if (n != sizeof count) return n < 0 ? -errno : -EIO;
  return int64_t(count & 0x7fffffffffffffffull);
}

void RealPerf::close(int handle) {
  ::close(handle);
}

namespace {

// The CUDA driver API subset used to learn PCI bus ids per CUDA ordinal.
class DriverCuda final : public ICudaQuery {
 public:
  explicit DriverCuda(void* lib) : lib_(lib) {
    using Init = int (*)(unsigned);
    using Count = int (*)(int*);
    auto init = reinterpret_cast<Init>(::dlsym(lib, "cuInit"));
    auto count = reinterpret_cast<Count>(::dlsym(lib, "cuDeviceGetCount"));
    get_ = reinterpret_cast<Get>(::dlsym(lib, "cuDeviceGet"));
    bus_ = reinterpret_cast<Bus>(::dlsym(lib, "cuDeviceGetPCIBusId"));
    if (init && count && get_ && bus_ && init(0) == 0 && count(&n_) == 0) ok_ = true;
  }
  ~DriverCuda() override { ::dlclose(lib_); }
  bool available() const override { return ok_; }
  int device_count() const override { return ok_ ? n_ : 0; }
  std::string pci_bus_id(int ordinal) const override {
    int dev = 0;
    char buf[64] = {0};
    if (!ok_ || get_(&dev, ordinal) != 0 || bus_(buf, sizeof buf, dev) != 0) return "";
    return buf;
  }

 private:
  using Get = int (*)(int*, int);
  using Bus = int (*)(char*, int, int);
  void* lib_;
  Get get_ = nullptr;
  Bus bus_ = nullptr;
  int n_ = 0;
  bool ok_ = false;
};

}  // namespace

std::unique_ptr<ICudaQuery> load_cuda_driver() {
  void* lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return nullptr;
  auto cuda = std::make_unique<DriverCuda>(lib);
  if (!cuda->available()) return nullptr;
  return cuda;
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

bool parse_int64(const std::string& text, int64_t* value) {
  const std::string t = trim(text);
  if (t.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *value = v;
  return true;
}

}  // namespace greensed::energy

// ---- SystemEnv (declared in env.hpp): the production implementations bundled for a Meter --------
namespace greensed::energy {

std::unique_ptr<SystemEnv> SystemEnv::create(const core::EnergyConfig& config) {
  auto env = std::unique_ptr<SystemEnv>(new SystemEnv());
  env->nvml_ = load_nvml(config.nvml_library, &env->nvml_problem_);
  if (env->nvml_) env->cuda_ = load_cuda_driver();
  return env;
}

MeterEnv SystemEnv::env() const {
  MeterEnv e;
  e.fs = &fs_;
  e.clock = &clock_;
  e.perf = const_cast<RealPerf*>(&perf_);
  e.nvml = nvml_.get();
  e.nvml_problem = nvml_problem_;
  e.cuda = cuda_.get();
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) e.cuda_visible_devices = v;
  return e;
}

}  // namespace greensed::energy
