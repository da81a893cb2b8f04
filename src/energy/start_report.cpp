#include "greensed/energy/start_report.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace greensed::energy {
namespace {

bool selected_estimated(const Meter& meter, Component c, bool* any) {
  bool estimated = false;
  *any = false;
  for (const auto& i : meter.channels()) {
    if (i.role != Role::kSelected) continue;
    if (i.component != c) continue;
    *any = true;
    estimated |= i.estimated;
  }
  return estimated;
}

std::string selected_names(const Meter& meter, Component c) {
  std::string s;
  for (const auto& i : meter.channels()) {
    if (i.role == Role::kSelected && i.component == c) s += (s.empty() ? "" : ", ") + i.name;
  }
  return s;
}

std::string selected_detail(const Meter& meter, Component c) {
  for (const auto& i : meter.channels()) {
    if (i.role == Role::kSelected && i.component == c) return i.detail;
  }
  return "";
}

// Why RAPL (powercap, then perf) was not used, with what fixes it.
void rejected_cpu_sources(const Meter& meter, std::vector<std::string>& out) {
  const auto cands = meter.candidates();
  const auto& cfg = meter.config();
  bool powercap_chosen = false, perf_chosen = false, perf_seen = false;
  std::string denied_path, powercap_other, perf_problem;
  for (const auto& c : cands) {
    if (c.source == "rapl-powercap") {
      if (c.decision == "chosen") powercap_chosen = true;
      if (c.reason.find("unreadable") != std::string::npos && denied_path.empty() &&
          meter.rapl_permission_denied()) {
        denied_path = c.path;
      } else if (c.decision == "rejected" && c.name.empty()) {
        powercap_other = c.reason;
      }
    } else if (c.source == "rapl-perf") {
      perf_seen = true;
      if (c.decision.rfind("chosen", 0) == 0) perf_chosen = true;
      if (c.decision == "rejected" && perf_problem.empty() &&
          (c.name == "energy-pkg" || c.name.empty()))
        perf_problem = c.reason;
    }
  }
  if (!powercap_chosen) {
    if (meter.rapl_permission_denied()) {
      out.push_back(fmt::format(
          "     rejected RAPL powercap: permission denied on {}/energy_uj (root-only since "
          "Linux 5.10, CVE-2020-8694) -- fix: run as root, or: sudo chmod o+r "
          "{}/intel-rapl:*/energy_uj (until reboot), or a udev rule: ACTION==\"add\", "
          "SUBSYSTEM==\"powercap\", RUN+=\"/bin/chmod o+r /sys%p/energy_uj\"",
          denied_path.empty() ? cfg.powercap_root : denied_path, cfg.powercap_root));
    } else if (!powercap_other.empty()) {
      out.push_back(fmt::format("     rejected RAPL powercap ({}): {} -- no fix on this machine",
                                cfg.powercap_root, powercap_other));
    }
  }
  if (!powercap_chosen && !perf_chosen && perf_seen) {
    const auto paranoid = meter.perf_paranoid();
    if (perf_problem.find("perf_event_open") != std::string::npos && paranoid && *paranoid > 0) {
      out.push_back(
          fmt::format("     rejected perf RAPL PMU: perf_event_paranoid={} -- fix: sudo sysctl "
                      "kernel.perf_event_paranoid=0 (or give greensed CAP_PERFMON)",
                      *paranoid));
    } else if (!perf_problem.empty()) {
      out.push_back(fmt::format(
          "     rejected perf RAPL PMU: {}{}", perf_problem,
          paranoid ? fmt::format(" (perf_event_paranoid={})", *paranoid) : std::string()));
    }
  }
}

}  // namespace

StartReport start_report(const Meter& meter) {
  StartReport rep;
  auto& out = rep.lines;
  const WindowReport run = meter.run_report();
  out.push_back("what this run's energy figures will be (before the work starts):");

  // CPU.
  bool any = false;
  const bool cpu_est = selected_estimated(meter, Component::kCpu, &any);
  if (!cpu_est) {
    out.push_back(fmt::format("  cpu: measured by {} ({})", run.cpu_method,
                              selected_names(meter, Component::kCpu)));
  } else {
    rep.all_measured = false;
    const TdpChoice& tdp = meter.tdp();
    out.push_back(fmt::format(
        "  cpu: ESTIMATE by {}: whole-machine CPU load (every process, nice and steal included) x "
        "TDP {} W ({})",
        run.cpu_method, tdp.tdp_w, tdp.how));
    if (tdp.generic) {
      out.push_back(fmt::format(
          "     GENERIC TDP: '{}' is not in the TDP table -- give the CPU's real TDP with --tdp W "
          "(energy.cpu_tdp_w)",
          meter.machine().cpu_model));
    }
  }
  rejected_cpu_sources(meter, out);

  // RAM: measured DRAM only while no model is selected (never both).
  if (run.ram_method == "rapl-dram") {
    out.push_back(
        fmt::format("  ram: measured by rapl-dram ({})", selected_names(meter, Component::kDram)));
  } else {
    rep.all_measured = false;
    out.push_back(fmt::format("  ram: ESTIMATE by {} ({})", run.ram_method,
                              selected_detail(meter, Component::kRam)));
    if (run.dram_method != "none") {
      out.push_back(
          fmt::format("     measured DRAM ({}) is reported on its own line and not added "
                      "(energy.ram_source=model)",
                      run.dram_method));
    } else {
      out.push_back(
          "     no readable RAPL DRAM domain (server CPUs with readable RAPL have one); RAM is "
          "never measured otherwise");
    }
  }

  // GPU.
  const auto& problems = meter.gpu_problems();
  if (!meter.gpus().empty()) {
    out.push_back(fmt::format("  gpu: measured by {} ({})", run.gpu_method,
                              selected_names(meter, Component::kGpu)));
  }
  for (const auto& p : problems) {
    rep.all_measured = false;
    out.push_back(
        fmt::format("  gpu: NOT MEASURED: {}: {} (flag no_gpu_energy)", p.device, p.reason));
  }
  if (meter.gpus().empty() && problems.empty()) {
    std::string why;
    for (const auto& c : meter.candidates()) {
      if (c.source == "nvml" && c.decision == "rejected") why = c.reason;
    }
    out.push_back(fmt::format("  gpu: none ({})", why.empty() ? "no GPU found" : why));
  }
  if (run.flags & kFlagAllVisibleGpus) {
    out.push_back(fmt::format(
        "     every visible GPU ({}) is summed in, idle or someone else's -- set energy.gpu_ids "
        "or CUDA_VISIBLE_DEVICES",
        meter.gpus().size()));
  }
  if (run.flags & kFlagMissingDomain) {
    rep.all_measured = false;
    for (const auto& n : meter.notes()) {
      if (n.find("missing_domain") != std::string::npos) out.push_back("     " + n);
    }
  }
  out.push_back(rep.all_measured
                    ? "  => every component is measured"
                    : "  => some figures are ESTIMATES (see above for what would measure them)");
  return rep;
}

std::string start_report_text(const StartReport& report) {
  std::string s;
  for (const auto& l : report.lines) s += "[energy] " + l + "\n";
  return s;
}

}  // namespace greensed::energy
