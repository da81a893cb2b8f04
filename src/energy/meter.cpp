#include "greensed/energy/meter.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/rapl.hpp"

namespace greensed::energy {
namespace {

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string make_uuid4() {
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

bool is_counter_method(const std::string& m) {
  return m == "rapl-powercap" || m == "rapl-perf" || m == "rapl-dram";
}

double to_cc_kwh(int64_t uj, bool estimated) {
  // CodeCarbon converts joules with its rounded 2.77778e-7; power × time paths are exact.
  return estimated ? double(uj) / 3.6e12 : double(uj) * 1e-6 * kCcJoulesToKwh;
}

}  // namespace

const char* component_name(Component c) {
  switch (c) {
    case Component::kCpu:
      return "cpu";
    case Component::kDram:
      return "dram";
    case Component::kRam:
      return "ram";
    case Component::kGpu:
      return "gpu";
  }
  return "?";
}

const char* window_kind_name(WindowKind k) {
  switch (k) {
    case WindowKind::kRun:
      return "run";
    case WindowKind::kPhase:
      return "phase";
    case WindowKind::kEpoch:
      return "epoch";
    case WindowKind::kCustom:
      return "window";
  }
  return "?";
}

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

Meter::Meter(const core::EnergyConfig& config, const MeterEnv& env)
    : config_(config), fs_(env.fs), clock_(env.clock), threaded_(env.threaded) {
  GREENSED_CHECK(fs_ && clock_, "a meter needs a file system and a clock");
  run_id_ = make_uuid4();
  machine_ = read_machine_info(*fs_, config_.proc_root);
  tdp_ = choose_tdp(config_.cpu_tdp_w, config_.cpu_tdp_table, machine_, *fs_, notes_);
  intensity_ = resolve_intensity(config_.carbon_intensity_g_per_kwh, config_.country_iso_code,
                                 config_.intensity_vintage);
  discover(env);
  tracker_ = std::make_unique<ProcessTracker>(*fs_, config_.proc_root, env.track_pid,
                                              env.track_descendants);
  totals_.assign(infos_.size(), ChannelTotals{});
  attr_rem_.assign(infos_.size(), 0.0);

  // Sampler interval: as asked, faster for power-polled GPUs, and at most half the shortest wrap
  // period of any counter (spec §7.5) so no wrap can be missed.
  interval_s_ = config_.measure_power_secs;
  for (const auto& s : sources_) {
    const double w = s->wanted_interval_s();
    if (w > 0 && w < interval_s_) {
      notes_.push_back(
          fmt::format("sampler interval {} s (power-polled GPU) instead of {} s", w, interval_s_));
      interval_s_ = w;
    }
  }
  for (const auto& i : infos_) {
    if (i.wrap_period_s > 0 && (min_wrap_s_ == 0 || i.wrap_period_s < min_wrap_s_)) {
      min_wrap_s_ = i.wrap_period_s;
    }
  }
  if (min_wrap_s_ > 0 && interval_s_ > 0.5 * min_wrap_s_) {
    const std::string note = fmt::format(
        "sample interval clamped from {} s to {} s: half the shortest counter wrap period ({} s)",
        interval_s_, 0.5 * min_wrap_s_, min_wrap_s_);
    spdlog::info("[energy] {}", note);
    notes_.push_back(note);
    interval_s_ = 0.5 * min_wrap_s_;
  }
}

Meter::~Meter() {
  try {
    stop();
  } catch (...) {
  }
}

void Meter::add_source(std::unique_ptr<Source> source) {
  source_offset_.push_back(infos_.size());
  for (const auto& i : source->channels()) infos_.push_back(i);
  sources_.push_back(std::move(source));
}

void Meter::discover(const MeterEnv& env) {
  RaplOptions ro;
  ro.use_psys = config_.use_psys;
  ro.include_dram = config_.rapl_include_dram;
  auto rapl = std::make_unique<RaplPowercapSource>(*fs_, config_.powercap_root, ro, candidates_);
  bool cpu_counter = rapl->has_cpu();
  bool dram_counter = rapl->has_dram();
  bool cc_cpu_counter = false;
  for (const auto& i : rapl->channels()) cc_cpu_counter |= i.codecarbon_234;
  if (!rapl->channels().empty()) {
    rapl_ = rapl.get();
    add_source(std::move(rapl));
  }
  if (!cpu_counter) {
    if (env.perf) {
      auto perf =
          std::make_unique<PerfRaplSource>(*fs_, *env.perf, config_.perf_root, ro, candidates_);
      if (perf->has_cpu()) {
        cpu_counter = true;
        const size_t first = infos_.size();
        const bool dram_before = dram_counter;
        dram_counter |= perf->has_dram();
        add_source(std::move(perf));
        for (size_t i = first; i < infos_.size(); ++i) {
          if (infos_[i].component == Component::kDram && dram_before)
            infos_[i].role = Role::kShadow;
        }
      }
    } else {
      candidates_.push_back({"rapl-perf", "", config_.perf_root, "rejected", "perf not available"});
    }
  } else {
    candidates_.push_back(
        {"rapl-perf", "", config_.perf_root, "not tried", "powercap RAPL is readable"});
  }

  // CPU model: always present, as the fallback a dead counter is demoted to.
  const ReadResult stat = fs_->read(config_.proc_root + "/stat");
  const bool have_stat = stat.ok() && parse_proc_stat(stat.text).has_value();
  if (have_stat) {
    add_source(std::make_unique<CpuLoadSource>(
        tdp_.tdp_w,
        fmt::format("P = TDP × (0.1 + 0.9·u³) (CodeCarbon ≥ 3.0.3), u from {}/stat; TDP {} W: {}",
                    config_.proc_root, tdp_.tdp_w, tdp_.how),
        cpu_counter ? Role::kShadow : Role::kSelected));
    candidates_.push_back({"cpu-load-tdp", "cpu-load-tdp", config_.proc_root + "/stat",
                           cpu_counter ? "shadow" : "chosen",
                           cpu_counter ? "fallback if the counter proves dead"
                                       : "no readable RAPL counter: estimate from CPU load"});
  } else {
    ChannelInfo info;
    info.name = "tdp-constant";
    info.component = Component::kCpu;
    info.method = "tdp-constant";
    info.role = cpu_counter ? Role::kShadow : Role::kSelected;
    info.detail =
        fmt::format("P = 0.5 × TDP = {} W ({}/stat unreadable, so no load curve); TDP: {}",
                    0.5 * tdp_.tdp_w, config_.proc_root, tdp_.how);
    add_source(std::make_unique<ConstantPowerSource>(info, kCcTdpFraction * tdp_.tdp_w));
    candidates_.push_back({"tdp-constant", "tdp-constant", "", cpu_counter ? "shadow" : "chosen",
                           "CPU load unreadable"});
  }
  if (!cc_cpu_counter) {
    // CodeCarbon 2.3.4 without readable intel-rapl packages: 0.5 × its table TDP, or 85 W.
    double cc_tdp = kCcPowerConstantW;
    std::string how = "85 W POWER_CONSTANT (CPU not in a table)";
    if (!config_.cpu_tdp_table.empty()) {
      const ReadResult r = fs_->read(config_.cpu_tdp_table);
      if (r.ok()) {
        if (auto m = lookup_tdp(r.text, config_.cpu_tdp_table, machine_.cpu_model)) {
          cc_tdp = m->tdp_w;
          how =
              fmt::format("table TDP {} W of '{}' (no socket multiply in 2.x)", m->tdp_w, m->name);
        }
      }
    }
    ChannelInfo info;
    info.name = "cc234-tdp-constant";
    info.component = Component::kCpu;
    info.method = "tdp-constant";
    info.role = Role::kShadow;
    info.codecarbon_234 = true;
    info.detail = fmt::format("CodeCarbon 2.3.4 fallback: 0.5 × {}", how);
    add_source(std::make_unique<ConstantPowerSource>(info, kCcTdpFraction * cc_tdp));
  }

  // RAM: measured DRAM when present (ram_source auto), else the configured model.
  const double gib = machine_.ram_total_gib;
  ChannelInfo ram;
  ram.component = Component::kRam;
  double ram_w = 0;
  if (config_.force_ram_power_w > 0) {
    ram.name = ram.method = "user-constant";
    ram_w = config_.force_ram_power_w;
    ram.detail = fmt::format("energy.force_ram_power_w = {} W", ram_w);
  } else if (config_.ram_model == "codecarbon3") {
    ram.name = ram.method = "ram-dimm-v3";
    ram_w = ram_power_dimm_v3_w(gib, machine_.arm);
    ram.detail = fmt::format("CodeCarbon 3.x: {:.2f} GiB -> {} DIMMs -> {} W ({} W per DIMM)", gib,
                             ram_dimm_count_v3(gib), ram_w,
                             machine_.arm ? kCcRamSlotPowerArmW : kCcRamSlotPowerX86W);
  } else {
    ram.name = ram.method = "ram-per-gib-v2";
    ram_w = ram_power_per_gib_v2_w(gib);
    ram.codecarbon_234 = true;
    ram.detail = fmt::format("CodeCarbon 2.x: 3/8 W per GiB × {:.3f} GiB = {:.3f} W", gib, ram_w);
  }
  const bool measured_ram = dram_counter && config_.ram_source == "auto";
  ram.role = measured_ram ? Role::kShadow : Role::kSelected;
  add_source(std::make_unique<ConstantPowerSource>(ram, ram_w));
  candidates_.push_back({"ram-model", ram.name, "", measured_ram ? "shadow" : "chosen",
                         measured_ram
                             ? "measured RAPL DRAM is the RAM component"
                             : (dram_counter ? "ram_source=model" : "no measured DRAM: model")});
  if (!ram.codecarbon_234) {
    ChannelInfo cc;
    cc.name = "cc234-ram-per-gib-v2";
    cc.component = Component::kRam;
    cc.method = "ram-per-gib-v2";
    cc.role = Role::kShadow;
    cc.codecarbon_234 = true;
    cc.detail = fmt::format("CodeCarbon 2.3.4: 3/8 W per GiB × {:.3f} GiB", gib);
    add_source(std::make_unique<ConstantPowerSource>(cc, ram_power_per_gib_v2_w(gib)));
  }

  // GPUs.
  if (env.nvml) {
    const GpuMapping mapping =
        map_cuda_to_nvml(*env.nvml, env.cuda, env.cuda_visible_devices.value_or(""));
    gpu_mapping_how_ = mapping.how;
    for (const auto& n : mapping.notes) notes_.push_back(n);
    auto nvml = std::make_unique<NvmlSource>(*env.nvml, mapping, config_.gpu_ids,
                                             config_.gpu_poll_interval_s, candidates_);
    if (!nvml->channels().empty()) {
      nvml_source_ = nvml.get();
      add_source(std::move(nvml));
    }
  } else {
    candidates_.push_back({"nvml", "", config_.nvml_library, "rejected", env.nvml_problem});
  }
}

std::vector<ChannelInfo> Meter::channels() const {
  std::lock_guard lock(mutex_);
  return infos_;
}

std::vector<Candidate> Meter::candidates() const {
  std::lock_guard lock(mutex_);
  std::vector<Candidate> all = candidates_;
  if (rapl_) {
    for (const auto& c : rapl_->mirror_decisions()) all.push_back(c);
  }
  return all;
}

const std::vector<NvmlDevice>& Meter::gpus() const {
  static const std::vector<NvmlDevice> kNone;
  return nvml_source_ ? nvml_source_->devices() : kNone;
}

std::string Meter::method(Component c) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ms;
  for (const auto& i : infos_) {
    const bool match =
        i.component == c || (c == Component::kRam && i.component == Component::kDram);
    if (!match || i.role != Role::kSelected) continue;
    if (std::find(ms.begin(), ms.end(), i.method) == ms.end()) ms.push_back(i.method);
  }
  if (c == Component::kRam) {
    // Measured DRAM, when selected, is the RAM component; the model is then a shadow.
    std::string s;
    for (const auto& m : ms) s += (s.empty() ? "" : "+") + m;
    return s.empty() ? "none" : s;
  }
  std::string s;
  for (const auto& m : ms) s += (s.empty() ? "" : "+") + m;
  return s.empty() ? "none" : s;
}

void Meter::start() {
  if (running_ || stopped_) return;
  const int64_t t = clock_->now_ns();
  {
    std::lock_guard lock(mutex_);
    for (auto& s : sources_) s->start(t);
    const ReadResult stat = fs_->read(config_.proc_root + "/stat");
    if (stat.ok()) {
      if (auto c = parse_proc_stat(stat.text)) {
        cpu_last_ = *c;
        cpu_last_valid_ = true;
        tracker_->update(*c);
      }
    }
    t_last_ns_ = t;
    Window run{0, -1, WindowKind::kRun, "run", -1, snapshot_locked(), {}, true};
    windows_.push_back(run);
    open_stack_.push_back(0);
  }
  running_ = true;
  if (threaded_) {
    stop_thread_ = false;
    thread_ = std::thread([this] { thread_main(); });
  }
}

void Meter::stop() {
  if (!running_) return;
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stop_thread_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  const Snapshot end = mark();
  {
    std::lock_guard lock(mutex_);
    for (auto& w : windows_) {
      if (w.open) {
        w.end = end;
        w.open = false;
      }
    }
    open_stack_.clear();
  }
  running_ = false;
  stopped_ = true;
  if (!checkpoint_path_.empty()) core::write_file_atomic(checkpoint_path_, serialize());
}

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
    for (int b = 0; b < 16; ++b) t.flag_counts[b] += (d.flags >> b) & 1u;
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
  s.channels = totals_;
  return s;
}

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
           true};
  windows_.push_back(w);
  open_stack_.push_back(w.id);
  return w.id;
}

WindowReport Meter::end(int id) {
  const Snapshot s = mark();
  std::unique_lock lock(mutex_);
  GREENSED_CHECK(id > 0 && id < int(windows_.size()) && windows_[id].open,
                 "meter.end({}): no such open window", id);
  auto& w = windows_[id];
  w.end = s;
  w.open = false;
  open_stack_.erase(std::remove(open_stack_.begin(), open_stack_.end(), id), open_stack_.end());
  WindowReport r = make_report(w, w.end);
  if (w.kind == WindowKind::kEpoch) {
    predictor_.add_epoch(double(r.total_uj) * 1e-6, r.duration_s);
    epoch_sum_j_ += double(r.total_uj) * 1e-6;
    epoch_sum_s_ += r.duration_s;
    if (total_epochs_ > 0) {
      lock.unlock();
      const Prediction p = predict(total_epochs_);
      if (p.available) {
        if (!first_prediction_) first_prediction_ = p;
        spdlog::info(
            "[energy] after epoch {}/{}: projected {:.6f} kWh [{:.6f}, {:.6f}] and {:.0f} s "
            "[{:.0f}, {:.0f}] for the run ({}; warm-up epoch excluded)",
            p.epochs_done, p.epochs_total, p.energy_j.value / 3.6e6, p.energy_j.low / 3.6e6,
            p.energy_j.high / 3.6e6, p.duration_s.value, p.duration_s.low, p.duration_s.high,
            p.band);
      }
    }
  }
  return r;
}

WindowReport Meter::report(int id) const {
  std::lock_guard lock(mutex_);
  GREENSED_CHECK(id >= 0 && id < int(windows_.size()), "meter.report({}): no such window", id);
  const auto& w = windows_[id];
  return make_report(w, w.open ? snapshot_locked() : w.end);
}

WindowReport Meter::run_report() const {
  {
    std::lock_guard lock(mutex_);
    if (windows_.empty()) {  // not started yet
      WindowReport r;
      r.id = 0;
      r.kind = WindowKind::kRun;
      r.name = "run";
      return r;
    }
  }
  return report(0);
}

std::vector<WindowReport> Meter::window_reports() const {
  std::lock_guard lock(mutex_);
  std::vector<WindowReport> out;
  for (const auto& w : windows_) {
    if (!w.open) out.push_back(make_report(w, w.end));
  }
  return out;
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
  int64_t ram_model = 0, cc[3] = {0, 0, 0};
  double cc_kwh[3] = {0, 0, 0};
  for (size_t i = 0; i < infos_.size(); ++i) {
    const auto& info = infos_[i];
    const auto& b = w.begin.channels[i];
    const auto& e = end.channels[i];
    const int64_t d = e.uj - b.uj;
    if (info.codecarbon_234) {
      const int k =
          info.component == Component::kCpu ? 0 : (info.component == Component::kGpu ? 1 : 2);
      cc[k] += d;
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
    for (int bit = 0; bit < 16; ++bit) {
      if (e.flag_counts[bit] > b.flag_counts[bit]) r.flags |= 1u << bit;
    }
  }
  (void)cc;
  r.ram_uj = r.dram_uj + ram_model;
  r.total_uj = r.cpu_uj + r.ram_uj + r.gpu_uj;
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& m : v) s += (s.empty() ? "" : "+") + m;
    return s.empty() ? std::string("none") : s;
  };
  r.cpu_method = join(methods[int(Component::kCpu)]);
  r.dram_method = join(methods[int(Component::kDram)]);
  r.ram_method = r.dram_uj > 0 || !methods[int(Component::kDram)].empty()
                     ? r.dram_method
                     : join(methods[int(Component::kRam)]);
  r.gpu_method = join(methods[int(Component::kGpu)]);
  if (dead_cpu_.demoted || dead_dram_.demoted) r.flags |= kFlagDeadCounter;
  if (tdp_.generic && r.cpu_method.find("tdp") != std::string::npos) r.flags |= kFlagGenericTdp;
  if (intensity_.is_default) r.flags |= kFlagIntensityDefault;
  if (nvml_source_ && nvml_source_->n_without_energy() > 0) r.flags |= kFlagNoGpuEnergy;
  if (w.kind != WindowKind::kRun && r.duration_s < config_.min_reliable_window_s) {
    r.flags |= kFlagShortWindow;
  }
  if (w.kind == WindowKind::kRun && resumed_) {
    r.carried_uj = carried_cpu_uj_ + carried_ram_uj_ + carried_gpu_uj_;
    r.cpu_uj += carried_cpu_uj_;
    r.dram_uj += carried_dram_uj_;
    r.ram_uj += carried_ram_uj_;
    r.gpu_uj += carried_gpu_uj_;
    r.total_uj += r.carried_uj;
    r.duration_s += carried_s_;
    for (int k = 0; k < 3; ++k) cc_kwh[k] += carried_cc_kwh_[k] / config_.pue;
    r.flags |= kFlagResumed;
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
  return p.predict(total_epochs);
}

std::string Meter::serialize() const {
  const WindowReport r = run_report();
  nlohmann::ordered_json j;
  j["format"] = "greensed-energy-totals/1";
  j["run_id"] = run_id_;
  j["saved_wall_s"] = clock_->wall_time_s();
  j["duration_s"] = r.duration_s;
  j["components_uj"] = {{"cpu", r.cpu_uj},
                        {"dram", r.dram_uj},
                        {"ram", r.ram_uj},
                        {"gpu", r.gpu_uj},
                        {"total", r.total_uj}};
  j["methods"] = {{"cpu", r.cpu_method}, {"ram", r.ram_method}, {"gpu", r.gpu_method}};
  j["cc_equiv_kwh"] = {{"cpu", r.cc_cpu_kwh}, {"gpu", r.cc_gpu_kwh}, {"ram", r.cc_ram_kwh}};
  j["pue"] = config_.pue;
  j["samples"] = r.samples;
  j["running"] = running_.load();
  return j.dump(2) + "\n";
}

void Meter::restore(const std::string& text) {
  GREENSED_CHECK(!running_, "meter.restore() must come before meter.start()");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
    if (j.at("format") != "greensed-energy-totals/1") throw std::runtime_error("format");
    const auto& c = j.at("components_uj");
    carried_cpu_uj_ = c.at("cpu").get<int64_t>();
    carried_dram_uj_ = c.at("dram").get<int64_t>();
    carried_ram_uj_ = c.at("ram").get<int64_t>();
    carried_gpu_uj_ = c.at("gpu").get<int64_t>();
    carried_s_ = j.at("duration_s").get<double>();
    const auto& cc = j.at("cc_equiv_kwh");
    carried_cc_kwh_[0] = cc.at("cpu").get<double>();
    carried_cc_kwh_[1] = cc.at("gpu").get<double>();
    carried_cc_kwh_[2] = cc.at("ram").get<double>();
  } catch (const std::exception& e) {
    throw core::InputError(fmt::format(
        "energy totals to resume from: not a greensed-energy-totals/1 document ({}); use the "
        "energy_checkpoint.json or the totals saved with a training checkpoint",
        e.what()));
  }
  resumed_ = true;
  notes_.push_back(fmt::format("resumed: {:.6f} kWh and {:.1f} s carried from run {}",
                               uj_to_kwh(carried_cpu_uj_ + carried_ram_uj_ + carried_gpu_uj_),
                               carried_s_, j.value("run_id", std::string("?"))));
}

void Meter::set_checkpoint(const std::string& path, double interval_s) {
  checkpoint_path_ = path;
  checkpoint_interval_s_ = interval_s;
}

void Meter::thread_main() {
  const int64_t c0 = thread_cpu_ns();
  int64_t next_checkpoint = clock_->now_ns() + int64_t(checkpoint_interval_s_ * 1e9);
  std::unique_lock lock(mutex_);
  const auto period = std::chrono::nanoseconds(int64_t(interval_s_ * 1e9));
  auto next = std::chrono::steady_clock::now() + period;
  while (!stop_thread_) {
    cv_.wait_until(lock, next, [this] { return stop_thread_; });
    if (stop_thread_) break;
    next += period;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now + period;  // starved: do not burst to catch up
    sample_locked(clock_->now_ns());
    if (!checkpoint_path_.empty() && clock_->now_ns() >= next_checkpoint) {
      next_checkpoint = clock_->now_ns() + int64_t(checkpoint_interval_s_ * 1e9);
      lock.unlock();
      try {
        core::write_file_atomic(checkpoint_path_, serialize());
      } catch (const std::exception& e) {
        spdlog::warn("[energy] checkpoint not written: {}", e.what());
      }
      lock.lock();
    }
    sampler_cpu_ns_ = thread_cpu_ns() - c0;
  }
  sampler_cpu_ns_ = thread_cpu_ns() - c0;
}

}  // namespace greensed::energy
