// Helpers shared by the meter's translation units (meter_*.cpp); not part of the public API.
#pragma once

#include <fmt/format.h>
#include <time.h>

#include <cstdint>
#include <random>
#include <string>

#include "greensed/energy/models.hpp"

namespace greensed::energy::detail {

// CPU time of the calling thread (the meter's own cost, energy_meta.json "overhead").
inline int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// A random (version 4) UUID, CodeCarbon's run_id format.
inline std::string make_uuid4() {
  std::random_device rd;
  uint8_t b[16];
  for (auto& x : b) x = uint8_t(rd());
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += fmt::format("{:02x}", b[i]);
  }
  return s;
}

// Methods that read a hardware counter (as opposed to a model), i.e. what can prove dead.
inline bool is_counter_method(const std::string& m) {
  return m == "rapl-powercap" || m == "rapl-perf" || m == "rapl-dram";
}

// CodeCarbon converts joules with its rounded 2.77778e-7; power × time paths are exact.
inline double to_cc_kwh(int64_t uj, bool estimated) {
  return estimated ? double(uj) / 3.6e12 : double(uj) * 1e-6 * kCcJoulesToKwh;
}

}  // namespace greensed::energy::detail
