#include "greensed/energy/rapl.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

namespace greensed::energy {
namespace {

bool starts_with(const std::string& s, const std::string& p) {
  return s.rfind(p, 0) == 0;
}

// "intel-rapl:0:a" -> provider "intel-rapl", id {0, 10}; false if not a zone name.
bool parse_zone_name(const std::string& entry, std::string* provider, std::vector<int>* id) {
  for (const char* p : {"intel-rapl-mmio:", "intel-rapl:"}) {
    if (!starts_with(entry, p)) continue;
    *provider = std::string(p, std::strlen(p) - 1);
    id->clear();
    std::string rest = entry.substr(std::strlen(p));
    size_t pos = 0;
    while (pos <= rest.size()) {
      const size_t colon = rest.find(':', pos);
      const std::string part =
          rest.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      if (part.empty() || part.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
        return false;
      }
      id->push_back(int(std::stol(part, nullptr, 16)));
      if (colon == std::string::npos) break;
      pos = colon + 1;
    }
    return !id->empty();
  }
  return false;
}

std::string errno_text(int e) {
  return std::strerror(e);
}

bool is_package(const std::string& name) {
  return starts_with(name, "package");
}

// "package-0-die-1" -> ("package-0", true); "package-0" -> ("package-0", false).
std::string package_of(const std::string& name, bool* is_die) {
  const size_t die = name.find("-die-");
  *is_die = die != std::string::npos;
  return *is_die ? name.substr(0, die) : name;
}

}  // namespace

std::vector<PowercapZone> scan_powercap(const IFileSystem& fs, const std::string& root) {
  std::vector<PowercapZone> zones;
  std::set<std::string> seen;
  // Breadth-first over directories: the root's entries are control types (intel-rapl) and flat
  // zone symlinks; zones contain their sub-zones.
  std::vector<std::string> dirs = {root};
  for (size_t i = 0; i < dirs.size(); ++i) {
    for (const auto& entry : fs.list(dirs[i])) {
      const std::string path = dirs[i] + "/" + entry;
      std::string provider;
      std::vector<int> id;
      if (entry == "intel-rapl" || entry == "intel-rapl-mmio") {
        const std::string real = fs.realpath(path);
        if (!real.empty() && seen.insert("dir:" + real).second) dirs.push_back(path);
        continue;
      }
      if (!parse_zone_name(entry, &provider, &id)) continue;
      const std::string real = fs.realpath(path);
      if (real.empty() || !seen.insert(real).second) continue;
      PowercapZone z;
      z.path = real;
      z.provider = provider;
      z.id = id;
      const ReadResult name = fs.read(real + "/name");
      z.name = name.ok() ? trim(name.text) : "";
      int64_t v = 0;
      const ReadResult range = fs.read(real + "/max_energy_range_uj");
      if (range.ok() && parse_int64(range.text, &v)) z.range_uj = v;
      const ReadResult maxp = fs.read(real + "/constraint_0_max_power_uw");
      if (maxp.ok() && parse_int64(maxp.text, &v) && v > 0) z.max_power_w = double(v) * 1e-6;
      const ReadResult energy = fs.read(real + "/energy_uj");
      z.energy_error = energy.ok() ? (parse_int64(energy.text, &v) ? 0 : EIO) : energy.error;
      zones.push_back(z);
      dirs.push_back(real);  // sub-zones live inside
    }
  }
  std::sort(zones.begin(), zones.end(), [](const PowercapZone& a, const PowercapZone& b) {
    return std::tie(a.provider, a.id) < std::tie(b.provider, b.id);
  });
  return zones;
}

RaplPowercapSource::RaplPowercapSource(const IFileSystem& fs, const std::string& root,
                                       const RaplOptions& options,
                                       std::vector<Candidate>& candidates)
    : fs_(fs) {
  const auto zones = scan_powercap(fs, root);
  if (zones.empty()) {
    candidates.push_back({"rapl-powercap", "", root, "rejected",
                          "no intel-rapl zones (no RAPL driver, a virtual machine, or a container "
                          "without /sys/class/powercap)"});
  }
  // Which package names have a readable MSR zone (MSR preferred over MMIO).
  std::set<std::string> msr_readable;
  for (const auto& z : zones) {
    if (z.provider == "intel-rapl" && z.energy_error == 0) msr_readable.insert(z.name);
  }
  bool have_psys = false;
  for (const auto& z : zones) have_psys |= z.name == "psys" && z.energy_error == 0;
  std::set<std::string> taken;
  for (const auto& z : zones) {
    Candidate c{"rapl-powercap", z.name, z.path, "rejected", ""};
    const bool pkg = is_package(z.name);
    Component comp = Component::kCpu;
    if (z.name == "core" || z.name == "uncore") {
      c.reason = "inside package energy (PP0/PP1); never added to it";
    } else if (z.name == "psys" && !options.use_psys) {
      c.reason = "platform domain contains the packages; used only with use_psys=true";
    } else if (pkg && options.use_psys && have_psys) {
      c.reason = "use_psys=true: psys replaces the package sum";
    } else if (z.name == "dram" && !options.include_dram) {
      c.reason = "DRAM excluded by configuration";
    } else if (!pkg && z.name != "dram" && z.name != "psys") {
      c.reason = fmt::format("unknown domain name '{}'", z.name);
    } else if (z.energy_error != 0) {
      if (z.energy_error == EACCES || z.energy_error == EPERM) permission_denied_ = true;
      c.reason = fmt::format(
          "energy_uj unreadable ({}); since CVE-2020-8694 it is root-only: run as root or "
          "`sudo chmod a+r {}/energy_uj` (lost at reboot)",
          errno_text(z.energy_error), z.path);
    } else if (z.provider == "intel-rapl-mmio" && msr_readable.count(z.name)) {
      c.reason = "same domain as the readable intel-rapl (MSR) zone; MSR preferred";
    } else if (z.name != "dram" && !taken.insert(z.provider + "/" + z.name).second &&
               z.provider == "intel-rapl") {
      c.reason = "duplicate domain name";
    } else {
      comp = z.name == "dram" ? Component::kDram : Component::kCpu;
      c.decision = "chosen";
      ChannelInfo info;
      const std::string id = [&] {
        std::string s;
        for (int x : z.id) s += fmt::format(":{:x}", x);
        return s;
      }();
      info.name = z.name == "dram" ? fmt::format("dram{}", id) : z.name;
      if (z.provider == "intel-rapl-mmio") info.name += "-mmio";
      info.component = comp;
      info.method = comp == Component::kDram ? "rapl-dram" : "rapl-powercap";
      info.detail = fmt::format("{}/energy_uj, max_energy_range_uj={}{}", z.path, z.range_uj,
                                z.range_uj == 0 ? " (unreadable: wraps cannot be corrected)" : "");
      // CodeCarbon 2.3.4 sums top-level intel-rapl zones named package* (mirrored dies too).
      info.codecarbon_234 = pkg && z.provider == "intel-rapl" && z.id.size() == 1;
      const double p_max = z.max_power_w > 0 ? z.max_power_w : options.fallback_p_max_w;
      Zone zone{z.path + "/energy_uj",
                CounterTracker(CounterTracker::Kind::kWrapping, z.range_uj, p_max)};
      info.wrap_period_s = zone.tracker.wrap_period_s();
      c.reason = fmt::format("{} energy counter{}", comp == Component::kDram ? "DRAM" : "CPU",
                             z.name == "psys" ? " (psys also covers chipset and PCIe)" : "");
      infos_.push_back(info);
      zones_.push_back(std::move(zone));
    }
    candidates.push_back(c);
  }
  // Candidate twins: dies of one package.
  std::map<std::string, std::vector<int>> dies;
  for (int i = 0; i < int(infos_.size()); ++i) {
    bool is_die = false;
    const std::string pkg = package_of(infos_[i].name, &is_die);
    if (is_die) dies[pkg].push_back(i);
  }
  for (auto& [pkg, idx] : dies) {
    for (size_t k = 1; k < idx.size(); ++k) zones_[idx[k]].twin = idx[0];
  }
}

bool RaplPowercapSource::has_cpu() const {
  for (const auto& i : infos_) {
    if (i.component == Component::kCpu) return true;
  }
  return false;
}

bool RaplPowercapSource::has_dram() const {
  for (const auto& i : infos_) {
    if (i.component == Component::kDram) return true;
  }
  return false;
}

void RaplPowercapSource::start(int64_t t_ns) {
  for (auto& z : zones_) {
    int64_t v = 0;
    const ReadResult r = fs_.read(z.energy_path);
    if (r.ok() && parse_int64(r.text, &v)) z.tracker.update(v, t_ns);
  }
}

void RaplPowercapSource::sample(const TickContext& ctx, std::vector<Delta>& out) {
  std::vector<int64_t> raw(zones_.size(), -1);
  for (size_t i = 0; i < zones_.size(); ++i) {
    auto& z = zones_[i];
    int64_t v = 0;
    const ReadResult r = fs_.read(z.energy_path);
    if (!r.ok() || !parse_int64(r.text, &v)) {
      out[i].add(z.tracker.read_error());
      z.last_delta = -1;
      continue;
    }
    raw[i] = v;
    if (!z.tracker.started()) {
      z.tracker.update(v, ctx.t_ns);
      z.last_delta = -1;
      continue;
    }
    const Delta d = z.tracker.update(v, ctx.t_ns);
    out[i].add(d);
    z.last_delta = d.uj;
  }
  // Mirrored dies: identical absolute values and identical deltas on two consecutive samples.
  for (size_t i = 0; i < zones_.size(); ++i) {
    auto& z = zones_[i];
    if (z.twin < 0) continue;
    const auto& t = zones_[z.twin];
    const bool same =
        raw[i] >= 0 && raw[i] == raw[z.twin] && z.last_delta >= 0 && z.last_delta == t.last_delta;
    if (same) {
      if (z.mirror_of < 0 && ++z.mirror_streak >= 2) {
        z.mirror_of = z.twin;
        infos_[i].role = Role::kShadow;
        roles_changed_ = true;
        mirror_log_.push_back({"rapl-powercap", infos_[i].name, z.energy_path, "deduplicated",
                               fmt::format("mirrors {} (identical values and deltas on two "
                                           "samples); counted once",
                                           infos_[z.twin].name)});
      }
    } else if (raw[i] >= 0 && raw[z.twin] >= 0) {
      z.mirror_streak = 0;
      if (z.mirror_of >= 0) {
        z.mirror_of = -1;
        infos_[i].role = Role::kSelected;
        roles_changed_ = true;
        mirror_log_.push_back({"rapl-powercap", infos_[i].name, z.energy_path, "chosen",
                               fmt::format("deltas diverged from {}: a separate die, both kept",
                                           infos_[z.twin].name)});
      }
    }
  }
}

bool RaplPowercapSource::take_role_change() {
  const bool changed = roles_changed_;
  roles_changed_ = false;
  return changed;
}

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  const std::string t = trim(text);
  size_t pos = 0;
  while (pos < t.size()) {
    size_t comma = t.find(',', pos);
    if (comma == std::string::npos) comma = t.size();
    const std::string part = t.substr(pos, comma - pos);
    const size_t dash = part.find('-');
    try {
      if (dash == std::string::npos) {
        cpus.push_back(std::stoi(part));
      } else {
        for (int c = std::stoi(part.substr(0, dash)); c <= std::stoi(part.substr(dash + 1)); ++c) {
          cpus.push_back(c);
        }
      }
    } catch (const std::exception&) {
      return {};
    }
    pos = comma + 1;
  }
  return cpus;
}

PerfPmu read_perf_pmu(const IFileSystem& fs, const std::string& perf_root) {
  PerfPmu pmu;
  const std::string dir = perf_root + "/power";
  int64_t type = 0;
  const ReadResult t = fs.read(dir + "/type");
  if (!t.ok() || !parse_int64(t.text, &type)) {
    pmu.problem = fmt::format("no RAPL PMU at {} ({})", dir,
                              t.ok() ? "unparsable type" : errno_text(t.error));
    return pmu;
  }
  pmu.type = uint32_t(type);
  const ReadResult mask = fs.read(dir + "/cpumask");
  pmu.cpus = mask.ok() ? parse_cpu_list(mask.text) : std::vector<int>{};
  if (pmu.cpus.empty()) pmu.cpus = {0};
  for (const auto& name : fs.list(dir + "/events")) {
    if (name.find('.') != std::string::npos) continue;  // .scale / .unit companions
    const ReadResult desc = fs.read(dir + "/events/" + name);
    if (!desc.ok()) continue;
    PerfEvent ev;
    ev.name = name;
    const std::string d = trim(desc.text);  // "event=0x02"
    const size_t eq = d.find("event=");
    if (eq == std::string::npos) continue;
    try {
      ev.config = std::stoull(d.substr(eq + 6), nullptr, 0);
    } catch (const std::exception&) {
      continue;
    }
    const ReadResult scale = fs.read(dir + "/events/" + name + ".scale");
    ev.scale = scale.ok() ? std::atof(trim(scale.text).c_str()) : std::ldexp(1.0, -32);
    const ReadResult unit = fs.read(dir + "/events/" + name + ".unit");
    ev.unit = unit.ok() ? trim(unit.text) : "Joules";
    pmu.events.push_back(ev);
  }
  pmu.present = true;
  return pmu;
}

PerfRaplSource::PerfRaplSource(const IFileSystem& fs, IPerf& perf, const std::string& perf_root,
                               const RaplOptions& options, std::vector<Candidate>& candidates)
    : perf_(perf) {
  const PerfPmu pmu = read_perf_pmu(fs, perf_root);
  if (!pmu.present) {
    candidates.push_back({"rapl-perf", "", perf_root + "/power", "rejected", pmu.problem});
    return;
  }
  const bool have_psys = std::any_of(pmu.events.begin(), pmu.events.end(),
                                     [](const PerfEvent& e) { return e.name == "energy-psys"; });
  for (const auto& ev : pmu.events) {
    Candidate c{"rapl-perf", ev.name, perf_root + "/power/events/" + ev.name, "rejected", ""};
    Component comp = Component::kCpu;
    if (ev.name == "energy-cores" || ev.name == "energy-gpu") {
      c.reason = "inside package energy; never added to it";
    } else if (ev.name == "energy-psys" && !options.use_psys) {
      c.reason = "platform domain contains the packages; used only with use_psys=true";
    } else if (ev.name == "energy-pkg" && options.use_psys && have_psys) {
      c.reason = "use_psys=true: psys replaces the package sum";
    } else if (ev.name == "energy-ram" && !options.include_dram) {
      c.reason = "DRAM excluded by configuration";
    } else if (ev.name != "energy-pkg" && ev.name != "energy-ram" && ev.name != "energy-psys") {
      c.reason = "unknown event";
    } else if (ev.unit != "Joules" || !(ev.scale > 0)) {
      c.reason = fmt::format("unexpected unit '{}' or scale {}", ev.unit, ev.scale);
    } else {
      comp = ev.name == "energy-ram" ? Component::kDram : Component::kCpu;
      // psys is one machine-wide domain: open it on the first CPU only.
      const std::vector<int> cpus =
          ev.name == "energy-psys" ? std::vector<int>{pmu.cpus[0]} : pmu.cpus;
      std::string opened;
      for (size_t s = 0; s < cpus.size(); ++s) {
        const int h = perf_.open(pmu.type, ev.config, cpus[s]);
        if (h < 0) {
          c.reason += fmt::format(
              "{}perf_event_open(cpu {}) failed ({}): needs root, "
              "CAP_PERFMON or kernel.perf_event_paranoid <= 0",
              c.reason.empty() ? "" : "; ", cpus[s], errno_text(-h));
          continue;
        }
        ChannelInfo info;
        const std::string base =
            ev.name == "energy-pkg" ? "package" : (ev.name == "energy-ram" ? "dram" : "psys");
        info.name = fmt::format("perf-{}-{}", base, s);
        info.component = comp;
        info.method = comp == Component::kDram ? "rapl-dram" : "rapl-perf";
        info.detail = fmt::format("perf {} on cpu {} (type {}, config {:#x}, scale {} J)", ev.name,
                                  cpus[s], pmu.type, ev.config, ev.scale);
        infos_.push_back(info);
        Counter counter;
        counter.handle = h;
        counter.scale = ev.scale;
        counters_.push_back(counter);
        opened += fmt::format("{}cpu {}", opened.empty() ? "" : ", ", cpus[s]);
      }
      if (!opened.empty()) {
        c.decision = "chosen";
        if (!c.reason.empty()) {
          // Some packages opened, others did not: keep the failure in the record (it used to be
          // overwritten, and that socket went missing unflagged).
          missing_ += fmt::format("{}{}: {}", missing_.empty() ? "" : "; ", ev.name, c.reason);
          c.decision = "chosen (partial)";
        }
        c.reason = "64-bit wrap-free perf count on " + opened +
                   (c.reason.empty() ? "" : "; MISSING: " + c.reason);
      }
    }
    candidates.push_back(c);
  }
}

PerfRaplSource::~PerfRaplSource() {
  for (const auto& c : counters_) perf_.close(c.handle);
}

bool PerfRaplSource::has_cpu() const {
  for (const auto& i : infos_) {
    if (i.component == Component::kCpu) return true;
  }
  return false;
}

bool PerfRaplSource::has_dram() const {
  for (const auto& i : infos_) {
    if (i.component == Component::kDram) return true;
  }
  return false;
}

void PerfRaplSource::start(int64_t) {
  for (auto& c : counters_) {
    const int64_t v = perf_.read(c.handle);
    if (v >= 0) {
      c.first = c.last = uint64_t(v);
      c.started = true;
    }
  }
}

void PerfRaplSource::sample(const TickContext&, std::vector<Delta>& out) {
  for (size_t i = 0; i < counters_.size(); ++i) {
    auto& c = counters_[i];
    const int64_t v = perf_.read(c.handle);
    if (v < 0) {
      out[i].errors += 1;
      out[i].flags |= kFlagReadError;
      continue;
    }
    if (!c.started) {
      c.first = c.last = uint64_t(v);
      c.started = true;
      continue;
    }
    if (uint64_t(v) < c.last) {  // the kernel keeps it 64-bit; backwards means a new counter
      out[i].resets += 1;
      out[i].flags |= kFlagReset;
      c.first = uint64_t(v);
      c.emitted_uj = 0;
      c.last = uint64_t(v);
      continue;
    }
    c.last = uint64_t(v);
    const uint64_t cumulative = c.last - c.first;
    const int64_t uj = c.scale == std::ldexp(1.0, -32)
                           ? perf_count_to_uj(cumulative)
                           : int64_t(std::floor((long double)cumulative * c.scale * 1e6L));
    out[i].uj += uj - c.emitted_uj;
    c.emitted_uj = uj;
  }
}

}  // namespace greensed::energy
