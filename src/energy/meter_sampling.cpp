// The meter's sampling: one step reads every source, integrates the models, accumulates µJ per
// channel with attribution, and demotes a counter that reads 0 while the CPU is busy (§7.4).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/rapl.hpp"
#include "meter_internal.hpp"

namespace greensed::energy {

using namespace detail;

void Meter::tick() {
  std::lock_guard lock(mutex_);
  sample_locked(clock_->now_ns());
}

Snapshot Meter::mark() {
  const int64_t c0 = thread_cpu_ns();
  Snapshot s;
  {
    std::lock_guard lock(mutex_);
    if (running_) sample_locked(clock_->now_ns());
    s = snapshot_locked();
  }
  mark_cpu_ns_ += thread_cpu_ns() - c0;
  return s;
}

void Meter::sample_locked(int64_t t_ns) {
  TickContext ctx;
  ctx.t_ns = t_ns;
  const double dt_s = double(t_ns - t_last_ns_) * 1e-9;
  Shares shares;
  const ReadResult stat = fs_->read(config_.proc_root + "/stat");
  if (stat.ok()) {
    if (auto now = parse_proc_stat(stat.text)) {
      if (cpu_last_valid_) {
        if (auto u = cpu_utilisation(cpu_last_, *now)) {
          ctx.cpu_util = *u;
          ctx.cpu_util_valid = true;
        } else {
          // No clock tick since the last sample (a mark right after a tick): hold the last value.
          ctx.cpu_util = last_util_;
          ctx.cpu_util_valid = last_util_valid_;
        }
        if (now->busy >= cpu_last_.busy && now->total >= cpu_last_.total) {
          cpu_busy_acc_ += now->busy - cpu_last_.busy;
          cpu_total_acc_ += now->total - cpu_last_.total;
        }
      }
      cpu_last_ = *now;
      cpu_last_valid_ = true;
      shares = tracker_->update(*now);
    }
  }
  // Memory in use at each sample, for the run mean in emissions.csv (ram_used_gb).
  const ReadResult mem = fs_->read(config_.proc_root + "/meminfo");
  if (mem.ok()) {
    uint64_t total_kb = 0, avail_kb = 0;
    std::istringstream in(mem.text);
    std::string key, rest;
    uint64_t kb = 0;
    while (in >> key >> kb) {
      if (key == "MemTotal:") total_kb = kb;
      if (key == "MemAvailable:") avail_kb = kb;
      std::getline(in, rest);
    }
    if (total_kb > 0 && avail_kb <= total_kb) {
      ram_used_gib_sum_ += double(total_kb - avail_kb) * 1024.0 / double(1ull << 30);
      ram_percent_sum_ += 100.0 * double(total_kb - avail_kb) / double(total_kb);
      ++ram_n_;
    }
  }
  std::vector<Delta> deltas(infos_.size());
  for (size_t s = 0; s < sources_.size(); ++s) {
    const size_t n =
        (s + 1 < sources_.size() ? source_offset_[s + 1] : infos_.size()) - source_offset_[s];
    std::vector<Delta> part(n);
    sources_[s]->sample(ctx, part);
    std::copy(part.begin(), part.end(), deltas.begin() + source_offset_[s]);
  }
  if (nvml_source_ && nvml_source_->last_utilization() >= 0) {
    gpu_util_sum_ += nvml_source_->last_utilization();
    ++gpu_util_n_;
  }
  for (size_t i = 0; i < infos_.size(); ++i) {
    const Delta& d = deltas[i];
    auto& t = totals_[i];
    t.uj += d.uj;
    t.wraps += d.wraps;
    t.resets += d.resets;
    t.glitches += d.glitches;
    t.drops += d.drops;
    t.errors += d.errors;
    for (int b = 0; b < 32; ++b) t.flag_counts[b] += (d.flags >> b) & 1u;
    if (shares.valid || shares.memory > 0) {
      if (infos_[i].component == Component::kCpu) {
        t.attr_busy_uj += shares.cpu_busy * double(d.uj);
        t.attr_capacity_uj += shares.cpu_capacity * double(d.uj);
      } else if (infos_[i].component != Component::kGpu) {
        t.attr_busy_uj += shares.memory * double(d.uj);
      }
    }
  }
  if (rapl_ && rapl_->take_role_change()) {
    const auto fresh = rapl_->channels();
    for (size_t k = 0; k < fresh.size(); ++k) {
      auto& info = infos_[source_offset_[0] + k];
      const bool dead = (info.component == Component::kCpu && dead_cpu_.demoted) ||
                        (info.component == Component::kDram && dead_dram_.demoted);
      info.role = dead ? Role::kShadow : fresh[k].role;
    }
  }
  last_util_ = ctx.cpu_util;
  last_util_valid_ = ctx.cpu_util_valid;
  if (dt_s > 0) check_dead_counters_locked(deltas, dt_s);
  ++samples_;
  t_last_ns_ = t_ns;
}

void Meter::check_dead_counters_locked(const std::vector<Delta>& deltas, double dt_s) {
  if (!last_util_valid_) return;
  for (Component c : {Component::kCpu, Component::kDram}) {
    DeadWatch& w = c == Component::kCpu ? dead_cpu_ : dead_dram_;
    if (w.demoted) continue;
    int64_t sum = 0;
    int n = 0;
    bool error = false;
    for (size_t i = 0; i < infos_.size(); ++i) {
      if (infos_[i].component != c || infos_[i].role != Role::kSelected) continue;
      if (!is_counter_method(infos_[i].method)) continue;
      sum += deltas[i].uj;
      error |= deltas[i].errors > 0 || deltas[i].held > 0;
      ++n;
    }
    if (n == 0 || error) continue;
    if (sum == 0) {
      w.zero_s += dt_s;
      w.busy_s += last_util_ * dt_s;
      if (w.zero_s >= 2.0 && w.busy_s / w.zero_s > 0.05) {
        demote_locked(c, fmt::format("read 0 µJ for {:.1f} s while the CPU was {:.0f} % busy",
                                     w.zero_s, 100.0 * w.busy_s / w.zero_s));
      }
    } else {
      w.zero_s = w.busy_s = 0;
    }
  }
}

void Meter::demote_locked(Component c, const std::string& why) {
  DeadWatch& w = c == Component::kCpu ? dead_cpu_ : dead_dram_;
  w.demoted = true;
  std::string names;
  for (size_t i = 0; i < infos_.size(); ++i) {
    auto& info = infos_[i];
    if (info.component == c && info.role == Role::kSelected && is_counter_method(info.method)) {
      info.role = Role::kShadow;
      totals_[i].flag_counts[6] += 1;  // kFlagDeadCounter
      names += (names.empty() ? "" : ", ") + info.name;
      candidates_.push_back({"meter", info.name, info.detail, "demoted", "dead counter: " + why});
    }
  }
  std::string fallback;
  for (auto& info : infos_) {
    const bool target =
        c == Component::kCpu
            ? (info.name == "cpu-load-tdp" || info.name == "tdp-constant")
            : (info.component == Component::kRam && !info.name.starts_with("cc234"));
    if (target) {
      info.role = Role::kSelected;
      fallback = info.method;
    }
  }
  const std::string note = fmt::format(
      "{} counter(s) {} demoted ({}); {} now uses {} for the whole "
      "run",
      component_name(c), names, why, c == Component::kCpu ? "CPU" : "RAM", fallback);
  spdlog::warn("[energy] {}", note);
  notes_.push_back(note);
}

Snapshot Meter::snapshot_locked() const {
  Snapshot s;
  s.t_ns = t_last_ns_;
  s.wall_s = clock_->wall_time_s();
  s.samples = samples_;
  s.cpu_busy = cpu_busy_acc_;
  s.cpu_total = cpu_total_acc_;
  s.gpu_util_sum = gpu_util_sum_;
  s.gpu_util_n = gpu_util_n_;
  s.ram_used_gib_sum = ram_used_gib_sum_;
  s.ram_percent_sum = ram_percent_sum_;
  s.ram_n = ram_n_;
  s.channels = totals_;
  return s;
}

}  // namespace greensed::energy
