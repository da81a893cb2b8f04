#include "greensed/energy/counter.hpp"

#include <cmath>

namespace greensed::energy {

std::vector<std::string> flag_names(uint32_t flags) {
  static const char* kNames[] = {"possible_missed_wrap",
                                 "reset",
                                 "wrap_uncorrectable",
                                 "read_error",
                                 "glitch",
                                 "implausible_high",
                                 "dead_counter",
                                 "estimated",
                                 "short_window",
                                 "generic_tdp",
                                 "intensity_default",
                                 "no_gpu_energy",
                                 "resumed",
                                 "unclosed",
                                 "missing_domain",
                                 "all_visible_gpus",
                                 "gpu_power_fallback"};
  std::vector<std::string> names;
  for (int b = 0; b < int(sizeof kNames / sizeof kNames[0]); ++b) {
    if (flags & (1u << b)) names.push_back(kNames[b]);
  }
  return names;
}

std::string flags_text(uint32_t flags) {
  std::string s;
  for (const auto& n : flag_names(flags)) s += (s.empty() ? "" : "|") + n;
  return s;
}

CounterTracker::CounterTracker(Kind kind, int64_t range_uj, double p_max_w)
    : kind_(kind), range_uj_(range_uj), p_max_w_(p_max_w) {}

double CounterTracker::wrap_period_s() const {
  if (kind_ != Kind::kWrapping || range_uj_ <= 0 || p_max_w_ <= 0) return 0.0;
  return double(range_uj_) * 1e-6 / p_max_w_;
}

Delta CounterTracker::read_error() {
  Delta d;
  d.errors = 1;
  d.flags = kFlagReadError;
  return d;
}

Delta CounterTracker::update(int64_t raw, int64_t t_ns) {
  Delta d;
  if (!have_last_) {
    have_last_ = true;
    last_ = raw;
    t_last_ = t_ns;
    return d;
  }
  const double dt_s = std::max(1e-9, double(t_ns - t_last_) * 1e-9);
  // The implied power that marks a value as impossible: twice the domain's maximum.
  const double p_plausible = p_max_w_ > 0 ? 2.0 * p_max_w_ : 0.0;
  const auto plausible = [&](int64_t uj) {
    return p_plausible <= 0 || double(uj) * 1e-6 / dt_s <= p_plausible;
  };
  const double wrap_s = wrap_period_s();

  if (pending_) {
    // The previous read went backwards and could not be explained as one wrap. Now decide.
    pending_ = false;
    if (raw >= last_ && plausible(raw - last_)) {
      d.uj = raw - last_;  // back on the old trajectory: the odd value was a glitch
      d.glitches = 1;
      d.flags |= kFlagGlitch;
    } else if (raw >= pending_raw_) {
      d.uj = raw;  // energy since the counter restarted from 0
      if (kind_ == Kind::kWrapping && range_uj_ <= 0) {
        d.drops = 1;
        d.flags |= kFlagWrapUncorrectable;
      } else {
        d.resets = 1;
        d.flags |= kFlagReset;
      }
    } else {
      // Backwards twice in a row: trust nothing but the newest value as a new baseline.
      d.drops = 1;
      d.flags |= kFlagReset;
      d.resets = 1;
    }
    last_ = raw;
    t_last_ = t_ns;
    return d;
  }

  if (raw >= last_) {
    const int64_t step = raw - last_;
    if (wrap_s > 0 && dt_s > wrap_s) d.flags |= kFlagPossibleMissedWrap;
    if (!plausible(step)) d.flags |= kFlagImplausibleHigh;
    d.uj = step;
    last_ = raw;
    t_last_ = t_ns;
    return d;
  }

  // Backwards.
  if (kind_ == Kind::kWrapping && range_uj_ > 0) {
    const int64_t wrapped = raw + range_uj_ - last_;
    if (wrapped >= 0 && plausible(wrapped)) {
      d.uj = wrapped;
      d.wraps = 1;
      if (wrap_s > 0 && dt_s > wrap_s) d.flags |= kFlagPossibleMissedWrap;
      last_ = raw;
      t_last_ = t_ns;
      return d;
    }
  }
  // Not a plausible single wrap: a reset, a glitch, or (range unknown) a wrap we cannot size.
  // Hold the value; the next read tells which. Nothing is accumulated meanwhile.
  pending_ = true;
  pending_raw_ = raw;
  d.held = 1;
  return d;
}

int64_t PowerIntegrator::add_constant(double power_w, int64_t dt_ns) {
  if (dt_ns <= 0 || !(power_w > 0)) return 0;
  const double exact = power_w * double(dt_ns) * 1e-3 + remainder_uj_;  // W × ns = nJ
  const double whole = std::floor(exact);
  remainder_uj_ = exact - whole;
  return int64_t(whole);
}

int64_t PowerIntegrator::add_sample(double power_w, int64_t t_ns) {
  if (!have_last_) {
    have_last_ = true;
    last_w_ = power_w;
    t_last_ = t_ns;
    return 0;
  }
  const int64_t added = add_constant(0.5 * (last_w_ + power_w), t_ns - t_last_);
  last_w_ = power_w;
  t_last_ = t_ns;
  return added;
}

int64_t perf_count_to_uj(uint64_t count) {
  const unsigned __int128 scaled = static_cast<unsigned __int128>(count) * 1000000u;
  return int64_t(scaled >> 32);
}

}  // namespace greensed::energy
