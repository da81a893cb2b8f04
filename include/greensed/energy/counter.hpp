// Integer micro-joule arithmetic for energy counters and power samples (spec energy.md §1, §7.5,
// §7.6). Energies are int64 µJ everywhere inside the meter; kWh only at the edges.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace greensed::energy {

// Quality flags of a channel or window (bit set; names in flag_names()).
enum Flag : uint32_t {
  kFlagPossibleMissedWrap = 1u << 0,  // an interval longer than the shortest wrap period
  kFlagReset = 1u << 1,               // counter restarted from ~0 (driver reload, write of 0)
  kFlagWrapUncorrectable = 1u << 2,   // went backwards with max_energy_range_uj unknown
  kFlagReadError = 1u << 3,           // a read failed; the value was not fabricated
  kFlagGlitch = 1u << 4,              // one bad read, the counter came back on its trajectory
  kFlagImplausibleHigh = 1u << 5,     // implied power above the plausible maximum
  kFlagDeadCounter = 1u << 6,         // read 0 while the CPU was busy: demoted
  kFlagEstimated = 1u << 7,           // a model, not a measurement
  kFlagShortWindow = 1u << 8,         // window shorter than min_reliable_window_s
  kFlagGenericTdp = 1u << 9,          // TDP not known for this CPU: a default was used
  kFlagIntensityDefault = 1u << 10,   // world-average carbon intensity
  kFlagNoGpuEnergy = 1u << 11,        // a GPU was found but its energy cannot be read
  kFlagResumed = 1u << 12,            // totals include energy carried from a killed run
  kFlagUnclosed = 1u << 13,           // a window still open at the end: closed by the meter
  kFlagMissingDomain = 1u << 14,      // a package or GPU was found but is not counted
  kFlagAllVisibleGpus = 1u << 15,     // no gpu_ids: every visible GPU (idle or not) is summed in
  kFlagGpuPowerFallback = 1u << 16,   // a GPU energy counter failed mid-run: power polling since
};
std::vector<std::string> flag_names(uint32_t flags);
std::string flags_text(uint32_t flags);  // "reset|glitch" or ""

// What one update added to a channel.
struct Delta {
  int64_t uj = 0;
  uint32_t flags = 0;
  int wraps = 0, resets = 0, glitches = 0, drops = 0, errors = 0;
  int held = 0;  // a backward step awaiting classification: its energy comes with the next read
  void add(const Delta& d) {
    uj += d.uj;
    flags |= d.flags;
    wraps += d.wraps;
    resets += d.resets;
    glitches += d.glitches;
    drops += d.drops;
    errors += d.errors;
    held += d.held;
  }
};

// The counter delta algorithm of spec §7.5, told apart by the implied power:
//   forward step                      -> accepted (flag POSSIBLE_MISSED_WRAP if the interval
//                                        exceeded the shortest wrap period);
//   backward step, range known, one wrap plausible -> accepted as a wrap;
//   backward step otherwise           -> held for one more read: if the counter comes back on its
//                                        old trajectory it was a glitch (the bad value is ignored),
//                                        else it was a reset (energy since the reset is accepted)
//                                        or, with the range unknown, an uncorrectable wrap.
// A negative delta is never accumulated; a failed read leaves the state untouched.
class CounterTracker {
 public:
  enum class Kind { kWrapping, kMonotonic };  // RAPL (range) | NVML mJ, perf (64-bit)
  // range_uj = max_energy_range_uj (0 = unknown); p_max_w bounds the plausible power.
  CounterTracker(Kind kind, int64_t range_uj, double p_max_w);

  // Feeds a raw reading in µJ at monotonic time t_ns; returns what it adds.
  Delta update(int64_t raw_uj, int64_t t_ns);
  Delta read_error();
  bool started() const { return have_last_; }
  int64_t last() const { return last_; }
  // Shortest time in which the counter can wrap (range / p_max), 0 = never wraps.
  double wrap_period_s() const;

 private:
  Kind kind_;
  int64_t range_uj_;
  double p_max_w_;
  bool have_last_ = false;
  int64_t last_ = 0;
  int64_t t_last_ = 0;
  bool pending_ = false;  // a backward step waiting for its classification
  int64_t pending_raw_ = 0;
};

// Energy from power samples: the trapezoid rule (§7.6), or sample-and-hold when only one power is
// known per interval, carried in µJ with the sub-µJ remainder kept so nothing drifts.
class PowerIntegrator {
 public:
  // Adds power_w held constant for dt_ns; returns whole µJ added.
  int64_t add_constant(double power_w, int64_t dt_ns);
  // Adds the trapezoid between the previous sample and this one; the first call only sets the
  // starting point.
  int64_t add_sample(double power_w, int64_t t_ns);
  bool started() const { return have_last_; }

 private:
  double remainder_uj_ = 0.0;
  bool have_last_ = false;
  double last_w_ = 0.0;
  int64_t t_last_ = 0;
};

// perf RAPL counts are 2^-32 J each; converts a cumulative count to whole µJ exactly (no drift).
int64_t perf_count_to_uj(uint64_t count);

inline double uj_to_kwh(int64_t uj) {
  return double(uj) / 3.6e12;
}

}  // namespace greensed::energy
