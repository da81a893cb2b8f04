// The meter's source fallback chain (spec energy.md §7.4): which counters and models feed each
// component, what was rejected and why, and the construction of the meter around them.
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

Meter::Meter(const core::EnergyConfig& config, const MeterEnv& env)
    : config_(config),
      fs_(env.fs),
      clock_(env.clock),
      threaded_(env.threaded),
      announce_(env.announce) {
  GREENSED_CHECK(fs_ && clock_, "a meter needs a file system and a clock");
  run_id_ = make_uuid4();
  chain_id_ = run_id_;
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
  rapl_permission_denied_ = rapl->any_permission_denied();
  {
    int64_t v = 0;
    const ReadResult p = fs_->read(config_.proc_root + "/sys/kernel/perf_event_paranoid");
    std::string t = trim(p.text);
    const bool neg = !t.empty() && t[0] == '-';
    if (p.ok() && parse_int64(neg ? t.substr(1) : t, &v)) perf_paranoid_ = int(neg ? -v : v);
  }
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
        if (!perf->missing().empty()) {
          // A package whose counter could not be opened would be silently absent from the sum.
          static_flags_ |= kFlagMissingDomain;
          notes_.push_back(
              "perf RAPL: " + perf->missing() +
              "; that package's energy is NOT in the CPU figure (flag missing_domain)");
          spdlog::warn("[energy] {}", notes_.back());
        }
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
  const bool visible_set = env.cuda_visible_devices.has_value();
  if (visible_set && trim(*env.cuda_visible_devices).empty()) {
    // CUDA sees no GPU at all with CUDA_VISIBLE_DEVICES="": neither does the meter.
    candidates_.push_back({"nvml", "", config_.nvml_library, "rejected",
                           "CUDA_VISIBLE_DEVICES is set and empty: this process uses no GPU"});
  } else if (env.nvml) {
    const GpuMapping mapping =
        map_cuda_to_nvml(*env.nvml, env.cuda, env.cuda_visible_devices.value_or(""));
    gpu_mapping_how_ = mapping.how;
    for (const auto& n : mapping.notes) notes_.push_back(n);
    auto nvml = std::make_unique<NvmlSource>(*env.nvml, mapping, config_.gpu_ids,
                                             config_.gpu_poll_interval_s, candidates_);
    gpu_problems_ = nvml->problems();
    for (const auto& p : gpu_problems_) {
      static_flags_ |= kFlagNoGpuEnergy;
      notes_.push_back(fmt::format("GPU {} is NOT metered: {}", p.device, p.reason));
    }
    if (config_.gpu_ids.empty() && !visible_set && nvml->channels().size() > 1) {
      static_flags_ |= kFlagAllVisibleGpus;
      notes_.push_back(fmt::format(
          "no energy.gpu_ids and no CUDA_VISIBLE_DEVICES: all {} visible GPUs are summed in, "
          "idle or used by others; set energy.gpu_ids to the GPUs this run uses",
          nvml->channels().size()));
    }
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
  // What the component's figure comes from, as in run_report(): RAM is measured DRAM only while no
  // RAM model is selected (never both: no figure is a measurement plus a model of the same thing).
  const WindowReport r = run_report();
  switch (c) {
    case Component::kCpu:
      return r.cpu_method;
    case Component::kDram:
      return r.dram_method;
    case Component::kRam:
      return r.ram_method;
    case Component::kGpu:
      return r.gpu_method;
  }
  return "none";
}

}  // namespace greensed::energy
