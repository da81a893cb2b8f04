// The meter's windows and reports: non-destructive nested windows as pairs of snapshots, the
// per-component report of each, and the projection of the run from its epochs (§7.7, §7.11).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/rapl.hpp"
#include "meter_internal.hpp"

namespace greensed::energy {

using namespace detail;

int Meter::begin(const std::string& name, WindowKind kind, int epoch) {
  GREENSED_CHECK(running_, "meter.begin('{}') before meter.start()", name);
  const Snapshot s = mark();
  std::lock_guard lock(mutex_);
  Window w{int(windows_.size()),
           open_stack_.empty() ? -1 : open_stack_.back(),
           kind,
           name,
           epoch,
           s,
           {},
           true,
           std::nullopt};
  windows_.push_back(w);
  open_stack_.push_back(w.id);
  return w.id;
}

int Meter::find_open(const std::string& name, int index) const {
  std::lock_guard lock(mutex_);
  for (auto it = open_stack_.rbegin(); it != open_stack_.rend(); ++it) {
    const Window& w = windows_[*it];
    if (w.kind != WindowKind::kRun && w.name == name && (index < 0 || w.epoch == index)) return *it;
  }
  return -1;
}

WindowReport Meter::end(int id) {
  const Snapshot s = mark();
  std::lock_guard lock(mutex_);
  GREENSED_CHECK(id > 0 && id < int(windows_.size()) && windows_[id].open,
                 "meter.end({}): no such open window", id);
  auto& w = windows_[id];
  w.end = s;
  w.open = false;
  open_stack_.erase(std::remove(open_stack_.begin(), open_stack_.end(), id), open_stack_.end());
  w.frozen = make_report(w, w.end);
  if (w.kind == WindowKind::kEpoch) {
    predictor_.add_epoch(double(w.frozen->total_uj) * 1e-6, w.frozen->duration_s);
    epoch_sum_j_ += double(w.frozen->total_uj) * 1e-6;
    epoch_sum_s_ += w.frozen->duration_s;
  }
  return *w.frozen;
}

WindowReport Meter::report(int id) const {
  std::lock_guard lock(mutex_);
  GREENSED_CHECK(id >= 0 && id < int(windows_.size()), "meter.report({}): no such window", id);
  const auto& w = windows_[id];
  if (w.frozen) return *w.frozen;
  return make_report(w, w.open ? snapshot_locked() : w.end);
}

WindowReport Meter::run_report() const {
  {
    std::lock_guard lock(mutex_);
    if (windows_.empty()) {  // not started yet: methods and carried energy, no energy of its own
      const Snapshot now = snapshot_locked();
      const Window run{0, -1, WindowKind::kRun, "run", -1, now, now, true, std::nullopt};
      return make_report(run, now);
    }
  }
  return report(0);
}

std::vector<WindowReport> Meter::window_reports() const {
  std::lock_guard lock(mutex_);
  std::vector<WindowReport> out;
  for (const auto& w : windows_) {
    if (!w.open) out.push_back(w.frozen ? *w.frozen : make_report(w, w.end));
  }
  return out;
}

EpochAccounting Meter::epoch_accounting() const {
  EpochAccounting a;
  const WindowReport run = run_report();
  std::lock_guard lock(mutex_);
  a.total_uj = run.total_uj;
  // This process: the epoch windows and, separately, the gaps between them (run start -> first
  // epoch, between epochs, last epoch -> run end), each a difference of two snapshots.
  std::vector<const Window*> epochs;
  for (const auto& w : windows_) {
    if (w.kind == WindowKind::kEpoch && !w.open && w.frozen) epochs.push_back(&w);
  }
  std::sort(epochs.begin(), epochs.end(),
            [](const Window* x, const Window* y) { return x->begin.t_ns < y->begin.t_ns; });
  a.n_epochs = int(epochs.size()) + carried_epochs_n_;
  a.epochs_uj = carried_epochs_uj_;
  a.epochs_s = carried_epochs_s_;
  a.outside_uj = carried_total_uj_ - carried_epochs_uj_;
  a.outside_s = carried_s_ - carried_epochs_s_;
  a.between_uj = carried_between_uj_;
  a.between_s = carried_between_s_;
  if (windows_.empty()) return a;
  const Window& run_w = windows_[0];
  const Snapshot run_end = run_w.open ? snapshot_locked() : run_w.end;
  const Snapshot* prev = &run_w.begin;
  const auto gap = [&](const Snapshot& from, const Snapshot& to, bool between_epochs) {
    const Window g{-1, -1, WindowKind::kCustom, "gap", -1, from, to, false, std::nullopt};
    const WindowReport r = make_report(g, to);
    a.outside_uj += r.total_uj;
    a.outside_s += r.duration_s;
    if (between_epochs) {
      a.between_uj += r.total_uj;
      a.between_s += r.duration_s;
    }
  };
  for (const Window* w : epochs) {
    if (w->begin.t_ns < prev->t_ns) continue;  // overlapping epochs: counted once, by the first
    gap(*prev, w->begin, prev != &run_w.begin);
    a.epochs_uj += w->frozen->total_uj;
    a.epochs_s += w->frozen->duration_s;
    prev = &w->end;
  }
  gap(*prev, run_end, false);
  return a;
}

WindowReport Meter::make_report(const Window& w, const Snapshot& end) const {
  WindowReport r;
  r.id = w.id;
  r.parent = w.parent;
  r.kind = w.kind;
  r.name = w.name;
  r.epoch = w.epoch;
  r.wall_start_s = w.begin.wall_s;
  r.wall_end_s = end.wall_s;
  r.duration_s = double(end.t_ns - w.begin.t_ns) / 1e9;
  r.samples = end.samples - w.begin.samples;
  std::vector<std::string> methods[4];
  int64_t ram_model = 0;
  double cc_kwh[3] = {0, 0, 0};
  for (size_t i = 0; i < infos_.size(); ++i) {
    const auto& info = infos_[i];
    const auto& b = w.begin.channels[i];
    const auto& e = end.channels[i];
    const int64_t d = e.uj - b.uj;
    if (info.codecarbon_234) {
      const int k =
          info.component == Component::kCpu ? 0 : (info.component == Component::kGpu ? 1 : 2);
      cc_kwh[k] += to_cc_kwh(d, info.estimated);
    }
    if (info.role != Role::kSelected) continue;
    auto& m = methods[int(info.component)];
    if (std::find(m.begin(), m.end(), info.method) == m.end()) m.push_back(info.method);
    switch (info.component) {
      case Component::kCpu:
        r.cpu_uj += d;
        r.cpu_attr_j += (e.attr_busy_uj - b.attr_busy_uj) * 1e-6;
        r.cpu_attr_capacity_j += (e.attr_capacity_uj - b.attr_capacity_uj) * 1e-6;
        break;
      case Component::kDram:
        r.dram_uj += d;
        r.ram_attr_j += (e.attr_busy_uj - b.attr_busy_uj) * 1e-6;
        break;
      case Component::kRam:
        ram_model += d;
        r.ram_attr_j += (e.attr_busy_uj - b.attr_busy_uj) * 1e-6;
        break;
      case Component::kGpu:
        r.gpu_uj += d;
        r.gpu_device_uj.push_back(d);
        break;
    }
    r.wraps += e.wraps - b.wraps;
    r.resets += e.resets - b.resets;
    r.glitches += e.glitches - b.glitches;
    r.drops += e.drops - b.drops;
    r.errors += e.errors - b.errors;
    for (int bit = 0; bit < 32; ++bit) {
      if (e.flag_counts[bit] > b.flag_counts[bit]) r.flags |= 1u << bit;
    }
  }
  // The RAM component is the RAM model when one is selected (ram_source=model, or no measured DRAM,
  // or the DRAM counter was demoted), else the measured DRAM: never the two added (issue 13 item
  // 1). dram_uj stays the measured DRAM on its own line either way.
  const bool ram_is_model = !methods[int(Component::kRam)].empty();
  r.ram_uj = ram_is_model ? ram_model : r.dram_uj;
  r.total_uj = r.cpu_uj + r.ram_uj + r.gpu_uj;
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& m : v) s += (s.empty() ? "" : "+") + m;
    return s.empty() ? std::string("none") : s;
  };
  r.cpu_method = join(methods[int(Component::kCpu)]);
  r.dram_method = join(methods[int(Component::kDram)]);
  r.ram_method = ram_is_model ? join(methods[int(Component::kRam)]) : r.dram_method;
  r.gpu_method = join(methods[int(Component::kGpu)]);
  if (dead_cpu_.demoted || dead_dram_.demoted) r.flags |= kFlagDeadCounter;
  if (tdp_.generic && r.cpu_method.find("tdp") != std::string::npos) r.flags |= kFlagGenericTdp;
  if (intensity_.is_default) r.flags |= kFlagIntensityDefault;
  if (nvml_source_ && nvml_source_->n_without_energy() > 0) r.flags |= kFlagNoGpuEnergy;
  r.flags |= static_flags_;
  if (w.kind != WindowKind::kRun && r.duration_s < config_.min_reliable_window_s) {
    r.flags |= kFlagShortWindow;
  }
  if (w.kind == WindowKind::kRun && resumed_) {
    r.carried_uj = carried_cpu_uj_ + carried_ram_uj_ + carried_gpu_uj_;
    r.discarded_uj = carried_discarded_uj_;
    r.discarded_s = carried_discarded_s_;
    r.cpu_uj += carried_cpu_uj_;
    r.dram_uj += carried_dram_uj_;
    r.ram_uj += carried_ram_uj_;
    r.gpu_uj += carried_gpu_uj_;
    r.total_uj += r.carried_uj;
    r.duration_s += carried_s_;
    for (int k = 0; k < 3; ++k) cc_kwh[k] += carried_cc_kwh_[k] / config_.pue;
    r.flags |= kFlagResumed;
  }
  if (end.ram_n > w.begin.ram_n) {
    const double n = double(end.ram_n - w.begin.ram_n);
    r.ram_used_gib_mean = (end.ram_used_gib_sum - w.begin.ram_used_gib_sum) / n;
    r.ram_percent_mean = (end.ram_percent_sum - w.begin.ram_percent_sum) / n;
  }
  const uint64_t busy = end.cpu_busy - w.begin.cpu_busy, total = end.cpu_total - w.begin.cpu_total;
  if (total > 0) r.cpu_util_mean = double(busy) / double(total);
  if (end.gpu_util_n > w.begin.gpu_util_n) {
    r.gpu_util_mean =
        (end.gpu_util_sum - w.begin.gpu_util_sum) / double(end.gpu_util_n - w.begin.gpu_util_n);
  }
  r.total_kwh = uj_to_kwh(r.total_uj);
  r.total_kwh_pue = r.total_kwh * config_.pue;
  r.emissions_kg = r.total_kwh_pue * intensity_.g_per_kwh / 1000.0;
  r.cc_cpu_kwh = cc_kwh[0] * config_.pue;
  r.cc_gpu_kwh = cc_kwh[1] * config_.pue;
  r.cc_ram_kwh = cc_kwh[2] * config_.pue;
  r.cc_total_kwh = r.cc_cpu_kwh + r.cc_gpu_kwh + r.cc_ram_kwh;
  return r;
}

Prediction Meter::predict(int total_epochs) const {
  EpochPredictor p;
  double epoch_j = 0, epoch_s = 0;
  {
    std::lock_guard lock(mutex_);
    p = predictor_;
    epoch_j = epoch_sum_j_;
    epoch_s = epoch_sum_s_;
  }
  const WindowReport run = run_report();
  p.set_spent_outside_epochs(std::max(0.0, double(run.total_uj) * 1e-6 - epoch_j),
                             std::max(0.0, run.duration_s - epoch_s));
  const Prediction out = p.predict(total_epochs);
  if (out.available) {
    std::lock_guard lock(mutex_);
    if (!first_prediction_) first_prediction_ = out;  // for energy_meta.json
  }
  return out;
}

}  // namespace greensed::energy
