#include "greensed/energy/models.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <regex>
#include <set>
#include <sstream>

#include "greensed/core/error.hpp"

namespace greensed::energy {

double cpu_load_power_w(double tdp_w, double util) {
  const double u = std::clamp(util, 0.0, 1.0);
  return tdp_w * (0.1 + 0.9 * u * u * u);
}

double ram_power_per_gib_v2_w(double gib) {
  return kCcRamWattsPerGib * gib;
}

int ram_dimm_count_v3(double gib) {
  if (gib <= 2) return 1;
  if (gib <= 16) return 2;
  if (gib <= 64) return 4;
  if (gib <= 128) return 8;
  int size = 4;
  for (int s : {128, 64, 32, 16, 8, 4}) {
    if (s <= gib / 8) {
      size = s;
      break;
    }
  }
  return std::min(32, int(std::ceil(gib / size)));
}

double ram_power_dimm_v3_w(double gib, bool arm) {
  const double b = arm ? kCcRamSlotPowerArmW : kCcRamSlotPowerX86W;
  const int n = ram_dimm_count_v3(gib);
  double p = 0;
  if (n <= 4) {
    p = b * n;
  } else if (n <= 8) {
    p = 4 * b + 0.9 * b * (n - 4);
  } else if (n <= 16) {
    p = 4 * b + 3.6 * b + 0.8 * b * (n - 8);
  } else {
    p = 4 * b + 3.6 * b + 6.4 * b + 0.7 * b * (n - 16);
  }
  return std::max(p, 2 * b);
}

std::optional<CpuTimes> parse_proc_stat(const std::string& text) {
  std::istringstream in(text);
  std::string label;
  in >> label;
  if (label != "cpu") return std::nullopt;
  uint64_t v[8] = {0};
  int n = 0;
  while (n < 8 && in >> v[n]) ++n;
  if (n < 4) return std::nullopt;
  // user nice system idle iowait irq softirq steal (guest is already inside user)
  CpuTimes t;
  t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  t.total = t.busy + v[3] + v[4];
  return t;
}

std::optional<double> cpu_utilisation(const CpuTimes& a, const CpuTimes& b) {
  if (b.total <= a.total) return std::nullopt;
  const double busy = b.busy >= a.busy ? double(b.busy - a.busy) : 0.0;
  return std::clamp(busy / double(b.total - a.total), 0.0, 1.0);
}

MachineInfo read_machine_info(const IFileSystem& fs, const std::string& proc_root) {
  MachineInfo m;
  const ReadResult cpuinfo = fs.read(proc_root + "/cpuinfo");
  if (cpuinfo.ok()) {
    std::istringstream in(cpuinfo.text);
    std::string line;
    int processors = 0;
    std::set<std::string> sockets;
    while (std::getline(in, line)) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = trim(line.substr(0, colon));
      const std::string value = trim(line.substr(colon + 1));
      if (key == "processor") ++processors;
      if (key == "model name" && m.cpu_model == "Unknown") m.cpu_model = value;
      if (key == "physical id") sockets.insert(value);
      if (key == "CPU implementer") m.arm = true;
    }
    m.logical_cpus = std::max(1, processors);
    m.sockets = std::max<int>(1, int(sockets.size()));
  }
  const ReadResult meminfo = fs.read(proc_root + "/meminfo");
  if (meminfo.ok()) {
    std::istringstream in(meminfo.text);
    std::string key;
    uint64_t kb = 0;
    while (in >> key >> kb) {
      if (key == "MemTotal:") {
        m.ram_total_gib = double(kb) * 1024.0 / double(1ull << 30);
        break;
      }
      std::string unit;
      std::getline(in, unit);
    }
  }
  return m;
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

std::set<std::string> tokens(const std::string& s) {
  std::set<std::string> out;
  std::string cur;
  for (char c : lower(s)) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      cur += c;
    } else if (!cur.empty()) {
      out.insert(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) out.insert(cur);
  return out;
}

}  // namespace

std::string normalise_cpu_name(const std::string& name) {
  // CodeCarbon's steps (core/cpu.py _get_matching_cpu): drop "(R)", cut at " CPU @ " (when not at
  // the start), drop " CPU", drop " @ <d>.<d>GHz".
  std::string s = replace_all(name, "(R)", "");
  const size_t at = s.find(" CPU @ ");
  if (at != std::string::npos && at > 0) s = s.substr(0, at);
  s = replace_all(s, " CPU", "");
  static const std::regex ghz(R"( @\s*\d+\.\d+GHz)");
  return std::regex_replace(s, ghz, "");
}

std::optional<TdpMatch> lookup_tdp(const std::string& csv_text, const std::string& origin,
                                   const std::string& cpu_model) {
  struct Row {
    std::string name;
    double tdp;
  };
  std::vector<Row> rows;
  std::istringstream in(csv_text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1) {
      if (trim(line) != "Name,TDP") {
        throw core::InputError(fmt::format(
            "{}:1: a CPU TDP table must start with the header 'Name,TDP' (found '{}'); use "
            "CodeCarbon's cpu_power.csv layout",
            origin, line));
      }
      continue;
    }
    if (trim(line).empty()) continue;
    const size_t comma = line.rfind(',');
    double tdp = 0;
    try {
      if (comma == std::string::npos) throw std::invalid_argument("no comma");
      size_t used = 0;
      const std::string t = trim(line.substr(comma + 1));
      tdp = std::stod(t, &used);
      if (used != t.size() || !(tdp > 0)) throw std::invalid_argument("tdp");
    } catch (const std::exception&) {
      // CodeCarbon's own table has a few rows whose TDP is not a number (e.g. 'Intel Celeron
      // 1000A,27.29.5'); pandas reads them as text and they never match a number there either. The
      // built-in copy skips them (data/PROVENANCE.md); a user's table is held to the format.
      if (origin == kBuiltinTdpTableName) continue;
      throw core::InputError(
          fmt::format("{}:{}: expected 'Name,TDP' with TDP a positive number of watts, found '{}'",
                      origin, line_no, line));
    }
    std::string name = trim(line.substr(0, comma));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    rows.push_back({name, tdp});
  }
  const auto unique = [&](auto pred, const char* how) -> std::optional<TdpMatch> {
    std::vector<const Row*> hits;
    for (const auto& r : rows) {
      if (pred(r)) hits.push_back(&r);
    }
    if (hits.size() == 1) return TdpMatch{hits[0]->name, hits[0]->tdp, how};
    return std::nullopt;
  };
  // The exact steps take the first row that matches (CodeCarbon's extractOne); the token-set step
  // only a single match (its non-greedy mode).
  const auto first = [&](const std::string& want, const char* how) -> std::optional<TdpMatch> {
    for (const auto& r : rows) {
      if (lower(r.name) == want) return TdpMatch{r.name, r.tdp, how};
    }
    return std::nullopt;
  };
  if (auto m = first(lower(cpu_model), "exact")) return m;
  if (auto m = first(lower(normalise_cpu_name(cpu_model)), "normalised")) return m;
  // token_set_ratio == 100: one token set contains the other.
  const auto mine = tokens(normalise_cpu_name(cpu_model));
  if (mine.empty()) return std::nullopt;
  return unique(
      [&](const Row& r) {
        const auto theirs = tokens(r.name);
        if (theirs.empty()) return false;
        return std::includes(mine.begin(), mine.end(), theirs.begin(), theirs.end()) ||
               std::includes(theirs.begin(), theirs.end(), mine.begin(), mine.end());
      },
      "token-set");
}

TdpChoice choose_tdp(double user_tdp_w, const std::string& table_path, const MachineInfo& machine,
                     const IFileSystem& fs, std::vector<std::string>& notes) {
  TdpChoice c;
  if (user_tdp_w > 0) {
    c.tdp_w = user_tdp_w;
    c.how = fmt::format("user (energy.cpu_tdp_w = {} W)", user_tdp_w);
    return c;
  }
  std::string text = builtin_cpu_power_csv(), origin = kBuiltinTdpTableName;
  if (!table_path.empty()) {
    const ReadResult r = fs.read(table_path);
    if (!r.ok()) {
      throw core::InputError(fmt::format(
          "energy.cpu_tdp_table: cannot read '{}' ({}); give the path of a 'Name,TDP' CSV such as "
          "CodeCarbon's data/hardware/cpu_power.csv, or leave it empty for the built-in table",
          table_path, std::strerror(r.error)));
    }
    text = r.text;
    origin = table_path;
  }
  if (auto m = lookup_tdp(text, origin, machine.cpu_model)) {
    c.tdp_w = m->tdp_w * machine.sockets;
    c.how = fmt::format("{} ({} match '{}': {} W × {} socket(s))", origin, m->how, m->name,
                        m->tdp_w, machine.sockets);
    return c;
  }
  notes.push_back(fmt::format(
      "CPU '{}' not found (or ambiguous) in the TDP table {}: GENERIC TDP {} W × {} logical CPUs "
      "used; give the real TDP with --tdp W (energy.cpu_tdp_w)",
      machine.cpu_model, origin, kCcDefaultPowerPerCpuW, machine.logical_cpus));
  c.tdp_w = kCcDefaultPowerPerCpuW * machine.logical_cpus;
  c.generic = true;
  c.how = fmt::format(
      "GENERIC {} W × {} logical CPUs (CodeCarbon 3.x DEFAULT_POWER_PER_CORE; CPU '{}' is not "
      "in the TDP table and no --tdp was given)",
      kCcDefaultPowerPerCpuW, machine.logical_cpus, machine.cpu_model);
  return c;
}

CpuLoadSource::CpuLoadSource(double tdp_w, std::string detail, Role role) : tdp_w_(tdp_w) {
  info_.name = "cpu-load-tdp";
  info_.component = Component::kCpu;
  info_.method = "cpu-load-tdp";
  info_.detail = std::move(detail);
  info_.estimated = true;
  info_.role = role;
}

void CpuLoadSource::sample(const TickContext& ctx, std::vector<Delta>& out) {
  const int64_t dt = ctx.t_ns - t_last_;
  t_last_ = ctx.t_ns;
  // Without a utilisation reading the curve's floor would understate a busy machine and its top
  // overstate an idle one; the interval counts at the mid-point 0.5 and is flagged.
  const double u = ctx.cpu_util_valid ? ctx.cpu_util : 0.5;
  out[0].uj += integ_.add_constant(cpu_load_power_w(tdp_w_, u), dt);
  out[0].flags |= kFlagEstimated | (ctx.cpu_util_valid ? 0u : kFlagReadError);
}

ConstantPowerSource::ConstantPowerSource(ChannelInfo info, double power_w)
    : info_(std::move(info)), power_w_(power_w) {
  info_.estimated = true;
}

void ConstantPowerSource::sample(const TickContext& ctx, std::vector<Delta>& out) {
  out[0].uj += integ_.add_constant(power_w_, ctx.t_ns - t_last_);
  out[0].flags |= kFlagEstimated;
  t_last_ = ctx.t_ns;
}

}  // namespace greensed::energy
