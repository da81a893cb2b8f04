// The meter's view of the operating system: a clock, a file reader with injectable errors, the perf
// RAPL PMU and the CUDA driver. Production implementations are thin; tests substitute fakes
// (spec energy.md §7.3), so no test needs RAPL, a GPU or root.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace greensed::energy {

// Monotonic time for every Δt (never the wall clock, spec §7.14 item 10); wall time only for
// timestamps in files.
class IClock {
 public:
  virtual ~IClock() = default;
  virtual int64_t now_ns() const = 0;       // monotonic
  virtual int64_t wall_time_s() const = 0;  // seconds since the epoch
};

class SteadyClock final : public IClock {
 public:
  int64_t now_ns() const override;
  int64_t wall_time_s() const override;
};

// A scripted clock: time moves only when the test says so.
class FakeClock final : public IClock {
 public:
  int64_t now_ns() const override { return t_ns_; }
  int64_t wall_time_s() const override { return 1700000000 + t_ns_ / 1000000000; }
  void advance_s(double s) { t_ns_ += int64_t(s * 1e9); }
  void set_ns(int64_t t) { t_ns_ = t; }

 private:
  int64_t t_ns_ = 1000000000;
};

// Result of reading a small text file: `error` is an errno value (0 = read fine).
struct ReadResult {
  std::string text;
  int error = 0;
  bool ok() const { return error == 0; }
};

// Every sysfs/procfs read of the meter goes through this interface.
class IFileSystem {
 public:
  virtual ~IFileSystem() = default;
  virtual ReadResult read(const std::string& path) const = 0;
  // Entry names of a directory, sorted; empty when it does not exist.
  virtual std::vector<std::string> list(const std::string& dir) const = 0;
  // Canonical path with symlinks resolved; "" when it does not exist.
  virtual std::string realpath(const std::string& path) const = 0;
};

class RealFileSystem final : public IFileSystem {
 public:
  ReadResult read(const std::string& path) const override;
  std::vector<std::string> list(const std::string& dir) const override;
  std::string realpath(const std::string& path) const override;
};

// Wraps another file system and fails reads of chosen paths with a chosen errno. Permission
// errors are injected this way instead of with chmod, because root ignores mode bits.
class FaultyFileSystem final : public IFileSystem {
 public:
  explicit FaultyFileSystem(const IFileSystem& inner) : inner_(inner) {}
  // Reads of `path` (exact, after the caller's spelling) fail with `error` until cleared.
  void fail(const std::string& path, int error);
  void clear(const std::string& path);
  ReadResult read(const std::string& path) const override;
  std::vector<std::string> list(const std::string& dir) const override { return inner_.list(dir); }
  std::string realpath(const std::string& path) const override { return inner_.realpath(path); }

 private:
  const IFileSystem& inner_;
  mutable std::mutex mutex_;
  std::map<std::string, int> failures_;
};

// perf_event_open on the RAPL PMU. `open` returns a handle >= 0 or -errno; `read` returns the
// 64-bit count (wrap-free, kept by the kernel) or -errno.
class IPerf {
 public:
  virtual ~IPerf() = default;
  virtual int open(uint32_t type, uint64_t config, int cpu) = 0;
  virtual int64_t read(int handle) = 0;
  virtual void close(int handle) = 0;
};

class RealPerf final : public IPerf {
 public:
  int open(uint32_t type, uint64_t config, int cpu) override;
  int64_t read(int handle) override;
  void close(int handle) override;
};

// CUDA's view of the GPUs: device count and PCI bus id per CUDA ordinal, in CUDA's order (fastest
// first unless CUDA_DEVICE_ORDER=PCI_BUS_ID) after CUDA_VISIBLE_DEVICES remapping.
class ICudaQuery {
 public:
  virtual ~ICudaQuery() = default;
  virtual bool available() const = 0;
  virtual int device_count() const = 0;
  virtual std::string pci_bus_id(int ordinal) const = 0;  // "0000:3B:00.0"
};

// libcuda.so.1 loaded with dlopen (never linked); unavailable when there is no driver.
std::unique_ptr<ICudaQuery> load_cuda_driver();

// Parses a small non-negative integer file ("12345\n"); false on anything else.
bool parse_int64(const std::string& text, int64_t* value);
std::string trim(const std::string& s);

}  // namespace greensed::energy
