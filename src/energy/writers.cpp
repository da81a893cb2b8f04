#include "greensed/energy/writers.hpp"

#include <fmt/format.h>
#include <gnu/libc-version.h>
#include <sys/utsname.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/start_report.hpp"

#ifndef GREENSED_ENERGY_VERSION
#define GREENSED_ENERGY_VERSION "0"
#endif

namespace greensed::energy {
namespace {

constexpr const char* kCcExperimentId = "5b0fa12a-3dd7-45bb-9766-cc326314d9f1";

const char* kHeader234 =
    "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
    "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,"
    "region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,"
    "gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue";
const char* kHeader330 =
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
    "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
    "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,"
    "ram_total_size,tracking_mode,cpu_utilization_percent,gpu_utilization_percent,"
    "ram_utilization_percent,ram_used_gb,on_cloud,pue,wue";

std::vector<std::string> split_plain(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string f;
  while (std::getline(in, f, ',')) out.push_back(f);
  return out;
}

void check_layout(const std::string& layout) {
  if (layout != "2.3.4" && layout != "3.3.0") {
    throw core::InputError(
        fmt::format("energy.emissions_layout: must be 2.3.4 or 3.3.0 (found '{}')", layout));
  }
}

// Python's repr of a float (what pandas writes): shortest round trip, ".0" on integral values.
std::string py_float(double v) {
  if (std::isnan(v)) return "";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string local_timestamp(int64_t wall_s) {
  const std::time_t t = std::time_t(wall_s);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

std::string os_string() {
  utsname u{};
  if (uname(&u) != 0) return "Linux";
  return fmt::format("{}-{}-{}-with-glibc{}", u.sysname, u.release, u.machine,
                     gnu_get_libc_version());
}

std::string gpu_model_text(const Meter& meter) {
  std::map<std::string, int> counts;
  std::vector<std::string> order;
  for (const auto& g : meter.gpus()) {
    if (!counts.count(g.name)) order.push_back(g.name);
    ++counts[g.name];
  }
  std::string s;  // CodeCarbon joins "<n> x <name>" without a separator
  for (const auto& n : order) s += fmt::format("{} x {}", counts[n], n);
  return s;
}

struct Memory {
  double used_gib = 0.0, percent = 0.0;
};

Memory memory_now(const Meter& meter) {
  Memory m;
  RealFileSystem fs;
  const ReadResult r = fs.read(meter.config().proc_root + "/meminfo");
  if (!r.ok()) return m;
  std::istringstream in(r.text);
  std::string key;
  uint64_t kb = 0, total = 0, avail = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") total = kb;
    if (key == "MemAvailable:") avail = kb;
    std::string rest;
    std::getline(in, rest);
  }
  if (total > 0 && avail <= total) {
    m.used_gib = double(total - avail) * 1024.0 / double(1ull << 30);
    m.percent = 100.0 * double(total - avail) / double(total);
  }
  return m;
}

std::map<std::string, std::string> row_values(const Meter& meter, const WindowReport& r,
                                              const std::string& layout) {
  const auto& cfg = meter.config();
  const double pue = cfg.pue;
  const bool process = cfg.tracking_mode == "process";
  // Process mode carries the attributed CPU and RAM values (the GPU stays whole, as in CodeCarbon).
  const double cpu_j = process ? r.cpu_attr_j : r.cpu_uj * 1e-6;
  const double ram_j = process ? r.ram_attr_j : r.ram_uj * 1e-6;
  const double gpu_j = r.gpu_uj * 1e-6;
  const double cpu_kwh = cpu_j / 3.6e6 * pue, ram_kwh = ram_j / 3.6e6 * pue,
               gpu_kwh = gpu_j / 3.6e6 * pue;
  const double total_kwh = cpu_kwh + gpu_kwh + ram_kwh;
  const double emissions = total_kwh * meter.intensity().g_per_kwh / 1000.0;
  const double d = r.duration_s > 0 ? r.duration_s : 0.0;
  // Memory in use: the mean over the report's samples (a run mean for the run row), else now.
  Memory mem;
  if (r.ram_used_gib_mean >= 0) {
    mem.used_gib = r.ram_used_gib_mean;
    mem.percent = r.ram_percent_mean;
  } else {
    mem = memory_now(meter);
  }
  std::map<std::string, std::string> v;
  v["timestamp"] = local_timestamp(r.wall_end_s);
  v["project_name"] = cfg.project_name;
  v["run_id"] = meter.run_id();
  v["experiment_id"] = kCcExperimentId;
  v["duration"] = py_float(d);
  v["emissions"] = py_float(emissions);
  v["emissions_rate"] = py_float(d > 0 ? emissions / d : 0.0);
  v["cpu_power"] = py_float(d > 0 ? cpu_j / d : 0.0);
  v["gpu_power"] = py_float(d > 0 ? gpu_j / d : 0.0);
  v["ram_power"] = py_float(d > 0 ? ram_j / d : 0.0);
  v["cpu_energy"] = py_float(cpu_kwh);
  v["gpu_energy"] = py_float(gpu_kwh);
  v["ram_energy"] = py_float(ram_kwh);
  v["energy_consumed"] = py_float(total_kwh);
  v["water_consumed"] = py_float(0.0);
  v["country_name"] = meter.intensity().country_name;
  v["country_iso_code"] = meter.intensity().country_iso_code;
  v["os"] = os_string();
  v["python_version"] = "";
  v["codecarbon_version"] = fmt::format("greensed-{}+cc{}", GREENSED_ENERGY_VERSION, layout);
  v["cpu_count"] = std::to_string(meter.machine().logical_cpus);
  v["cpu_model"] = meter.machine().cpu_model;
  v["gpu_count"] = meter.gpus().empty() ? "" : std::to_string(meter.gpus().size());
  v["gpu_model"] = gpu_model_text(meter);
  v["ram_total_size"] = py_float(meter.machine().ram_total_gib);
  v["tracking_mode"] = cfg.tracking_mode;
  v["cpu_utilization_percent"] = r.cpu_util_mean >= 0 ? py_float(100.0 * r.cpu_util_mean) : "";
  v["gpu_utilization_percent"] = r.gpu_util_mean >= 0 ? py_float(r.gpu_util_mean) : "";
  v["ram_utilization_percent"] = py_float(mem.percent);
  v["ram_used_gb"] = py_float(mem.used_gib);
  v["on_cloud"] = "N";
  v["pue"] = py_float(pue);
  v["wue"] = py_float(0.0);
  return v;
}

}  // namespace

std::string emissions_header(const std::string& layout) {
  check_layout(layout);
  return layout == "2.3.4" ? kHeader234 : kHeader330;
}

std::string task_header(const std::string& layout) {
  std::string h = "task_name";
  for (const auto& c : split_plain(emissions_header(layout))) {
    if (c == "experiment_id" || c == "pue" || c == "wue") continue;
    h += "," + c;
  }
  return h;
}

std::string emissions_row(const Meter& meter, const WindowReport& report, const std::string& layout,
                          bool task_row) {
  const auto values = row_values(meter, report, layout);
  const std::string header = task_row ? task_header(layout) : emissions_header(layout);
  std::string line;
  bool first = true;
  for (const auto& c : split_plain(header)) {
    std::string v;
    if (c == "task_name") {
      v = report.kind == WindowKind::kEpoch ? fmt::format("{}_{}", report.name, report.epoch)
                                            : report.name;
    } else {
      const auto it = values.find(c);
      v = it == values.end() ? "" : it->second;
    }
    line += (first ? "" : ",") + csv_field(v);
    first = false;
  }
  return line;
}

void append_emissions_csv(const std::string& path, const Meter& meter, const std::string& layout) {
  const std::string header = emissions_header(layout);
  namespace fs = std::filesystem;
  if (fs::exists(path)) {
    const std::string existing = core::read_file(path);
    const std::string first = existing.substr(0, existing.find('\n'));
    const auto a = split_csv_line(first), b = split_plain(header);
    if (std::set<std::string>(a.begin(), a.end()) != std::set<std::string>(b.begin(), b.end())) {
      std::string bak = path + ".bak";
      for (int i = 0; fs::exists(bak); ++i) bak = fmt::format("{}_{}.bak", path, i);
      fs::rename(path, bak);
    }
  }
  const std::string row = emissions_row(meter, meter.run_report(), layout, false) + "\n";
  if (!fs::exists(path)) {
    core::write_file_atomic(path, header + "\n" + row);
  } else {
    core::append_lines(path, row);
  }
}

void write_task_csv(const std::string& path, const Meter& meter, const std::string& layout) {
  std::string text = task_header(layout) + "\n";
  for (const auto& r : meter.window_reports()) {
    if (r.kind == WindowKind::kPhase || r.kind == WindowKind::kEpoch) {
      text += emissions_row(meter, r, layout, true) + "\n";
    }
  }
  core::write_file_atomic(path, text);
}

namespace {

// One energy_windows.csv line for `r`; `parent` and `phase` by name.
std::string window_line(const Meter& meter, const WindowReport& r, const std::string& run_id,
                        const std::string& parent, const std::string& phase) {
  const size_t n_gpu = meter.gpus().size();
  const std::string kind = r.kind == WindowKind::kRun ? "run" : r.name;
  const std::string index = r.epoch >= 0 ? std::to_string(r.epoch) : "";
  std::string line =
      fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{}", run_id, csv_field(r.name),
                  csv_field(kind), index, csv_field(parent), csv_field(phase), index,
                  r.wall_start_s > 0 ? local_timestamp(r.wall_start_s) : "",
                  r.wall_end_s > 0 ? local_timestamp(r.wall_end_s) : "", py_float(r.duration_s),
                  py_float(r.cpu_uj * 1e-6), py_float(r.dram_uj * 1e-6), py_float(r.ram_uj * 1e-6),
                  meter.gpus().empty() ? "" : py_float(r.gpu_uj * 1e-6));
  for (size_t g = 0; g < n_gpu; ++g) {
    line += "," + (g < r.gpu_device_uj.size() ? py_float(r.gpu_device_uj[g] * 1e-6) : "");
  }
  line += fmt::format(
      ",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},,{},{},{},{},{},{},{}\n",
      py_float(r.total_uj * 1e-6), py_float(r.total_kwh), py_float(r.total_kwh_pue),
      py_float(r.emissions_kg), r.cpu_method, r.dram_method, r.ram_method, r.gpu_method,
      flags_text(r.flags), r.wraps, r.resets, r.drops, r.samples, py_float(r.cpu_attr_j),
      py_float(r.ram_attr_j), r.cpu_util_mean >= 0 ? py_float(r.cpu_util_mean) : "",
      r.gpu_util_mean >= 0 ? py_float(r.gpu_util_mean / 100.0) : "", py_float(r.cc_cpu_kwh),
      py_float(r.cc_gpu_kwh), py_float(r.cc_ram_kwh), py_float(r.cc_total_kwh), r.total_uj);
  return line;
}

// Rows written by earlier processes of a resumed run, re-laid onto `header` by column name.
std::string carried_rows(const std::string& carried_csv, const std::string& header) {
  if (carried_csv.empty()) return "";
  std::istringstream in(carried_csv);
  std::string first;
  std::getline(in, first);
  const auto from = split_csv_line(first), to = split_csv_line(header);
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (first == header) {
      out += line + "\n";
      continue;
    }
    const auto f = split_csv_line(line);
    std::map<std::string, std::string> v;
    for (size_t k = 0; k < from.size() && k < f.size(); ++k) v[from[k]] = f[k];
    std::string l;
    for (size_t k = 0; k < to.size(); ++k) l += (k ? "," : "") + csv_field(v[to[k]]);
    out += l + "\n";
  }
  return out;
}

}  // namespace

std::string windows_csv(const Meter& meter) {
  const auto reports = meter.window_reports();
  const size_t n_gpu = meter.gpus().size();
  std::string h =
      "run_id,window,kind,index,parent,phase,epoch,t_start_wall,t_end_wall,duration_s,cpu_J,"
      "dram_J,ram_J,gpu_J";
  for (size_t g = 0; g < n_gpu; ++g) h += fmt::format(",gpu{}_J", meter.gpus()[g].index);
  h += ",total_J,total_kWh,total_kWh_pue,emissions_kg,cpu_method,dram_method,ram_method,"
       "gpu_method,flags,wraps,resets,drops,samples,cpu_attr_J,dram_attr_J,gpu_attr_J,"
       "cpu_util_mean,gpu_util_mean,cc_equiv_cpu_kWh,cc_equiv_gpu_kWh,cc_equiv_ram_kWh,"
       "cc_equiv_total_kWh,total_uJ";
  std::map<int, const WindowReport*> by_id;
  for (const auto& r : reports) by_id[r.id] = &r;
  // Earlier processes of a resumed run first, then the energy this process found discarded by
  // the interruption (its own row, parent run, in no epoch), then this process's windows.
  std::string out = h + "\n" + carried_rows(meter.carried_windows_csv(), h);
  const WindowReport discarded = meter.discarded_report();
  if (discarded.total_uj != 0 || discarded.duration_s > 0) {
    out += window_line(meter, discarded, meter.run_id(), "run", "");
  }
  for (const auto& r : reports) {
    std::string phase;
    for (const WindowReport* w = &r; w;) {
      if (w->kind == WindowKind::kPhase) {
        phase = w->name;
        break;
      }
      const auto it = by_id.find(w->parent);
      w = it == by_id.end() ? nullptr : it->second;
    }
    const std::string parent =
        r.parent >= 0 && by_id.count(r.parent) ? by_id[r.parent]->name : std::string();
    out += window_line(meter, r, meter.run_id(), parent, phase);
  }
  return out;
}

std::string meta_json(const Meter& meter, const std::string& extra) {
  using nlohmann::ordered_json;
  const auto& cfg = meter.config();
  ordered_json j;
  j["format"] = "greensed-energy-meta/1";
  j["greensed_version"] = GREENSED_ENERGY_VERSION;
  j["run_id"] = meter.run_id();
  utsname u{};
  uname(&u);
  j["kernel"] = fmt::format("{} {}", u.sysname, u.release);
  j["machine"] = {{"cpu_model", meter.machine().cpu_model},
                  {"logical_cpus", meter.machine().logical_cpus},
                  {"sockets", meter.machine().sockets},
                  {"ram_total_gib", meter.machine().ram_total_gib}};
  const WindowReport run = meter.run_report();
  const auto component = [&](Component c, int64_t uj, const std::string& method) {
    bool estimated = false;
    std::vector<std::string> details;
    for (const auto& i : meter.channels()) {
      const bool match =
          i.component == c ||
          (c == Component::kRam && i.component == Component::kDram && run.dram_method != "none");
      if (match && i.role == Role::kSelected) {
        estimated |= i.estimated;
        details.push_back(i.detail);
      }
    }
    return ordered_json{{"kWh", uj_to_kwh(uj)},
                        {"joules", uj * 1e-6},
                        {"method", method},
                        {"estimate", estimated},
                        {"how", details}};
  };
  j["components"] = {{"cpu", component(Component::kCpu, run.cpu_uj, run.cpu_method)},
                     {"dram", component(Component::kDram, run.dram_uj, run.dram_method)},
                     {"ram", component(Component::kRam, run.ram_uj, run.ram_method)},
                     {"gpu", component(Component::kGpu, run.gpu_uj, run.gpu_method)}};
  j["run"] = {{"duration_s", run.duration_s},
              {"total_kWh", run.total_kwh},
              {"total_kWh_pue", run.total_kwh_pue},
              {"emissions_kg", run.emissions_kg},
              {"flags", flag_names(run.flags)},
              {"wraps", run.wraps},
              {"resets", run.resets},
              {"glitches", run.glitches},
              {"drops", run.drops},
              {"read_errors", run.errors},
              {"samples", run.samples},
              {"carried_kWh", uj_to_kwh(run.carried_uj)},
              {"discarded_by_interruption_kWh", uj_to_kwh(run.discarded_uj)},
              {"discarded_by_interruption_s", run.discarded_s},
              {"ram_used_gib_mean", run.ram_used_gib_mean},
              {"cpu_attributed_J", run.cpu_attr_j},
              {"cpu_attributed_capacity_J", run.cpu_attr_capacity_j},
              {"ram_attributed_J", run.ram_attr_j},
              {"cpu_util_mean", run.cpu_util_mean}};
  j["codecarbon_2_3_4_would_report"] = {
      {"cpu_energy_kWh", run.cc_cpu_kwh},
      {"gpu_energy_kWh", run.cc_gpu_kwh},
      {"ram_energy_kWh", run.cc_ram_kwh},
      {"energy_consumed_kWh", run.cc_total_kwh},
      {"how",
       "CPU: top-level intel-rapl package zones only (no DRAM, no MMIO, mirrored dies "
       "summed), or 0.5 x TDP when unreadable; GPU: NVML energy counters of the tracked "
       "GPUs (0 for GPUs without one); RAM: 3/8 W per GiB x duration; x PUE; joule-derived "
       "values use CodeCarbon's 2.77778e-7 J->kWh"}};
  j["greensed_best_estimate_kWh"] = run.total_kwh_pue;
  // Which window is which: the run covers everything from the meter's start to its stop (set-up,
  // checkpoints, test, work discarded by interruptions); the epochs only their own windows.
  const EpochAccounting acc = meter.epoch_accounting();
  j["epoch_accounting"] = {
      {"n_epochs", acc.n_epochs},
      {"epochs_J", acc.epochs_uj * 1e-6},
      {"outside_epochs_J", acc.outside_uj * 1e-6},
      {"run_J", acc.total_uj * 1e-6},
      {"epochs_uJ", acc.epochs_uj},
      {"outside_epochs_uJ", acc.outside_uj},
      {"run_uJ", acc.total_uj},
      {"epochs_s", acc.epochs_s},
      {"outside_epochs_s", acc.outside_s},
      {"training_call_J", acc.training_call_uj() * 1e-6},
      {"training_call_uJ", acc.training_call_uj()},
      {"training_call_s", acc.training_call_s()},
      {"how",
       "epochs_uJ = sum of the epoch windows; outside_epochs_uJ = sum of the gaps between them "
       "(each a difference of two meter snapshots) plus what earlier processes of a resumed run "
       "spent outside their epochs; run_uJ = the run window; training_call_uJ = the epochs plus "
       "the gaps between consecutive epochs of a process (first epoch start to last epoch end: "
       "the window of the DCASE recipe's CodeCarbon training tracker, on_train_start to "
       "on_train_end, without set-up or test)"}};
  j["start_report"] = start_report(meter).lines;
  ordered_json channels = ordered_json::array();
  for (const auto& i : meter.channels()) {
    channels.push_back({{"name", i.name},
                        {"component", component_name(i.component)},
                        {"method", i.method},
                        {"role", i.role == Role::kSelected ? "selected" : "shadow"},
                        {"estimate", i.estimated},
                        {"codecarbon_2_3_4", i.codecarbon_234},
                        {"wrap_period_s", i.wrap_period_s},
                        {"detail", i.detail}});
  }
  j["channels"] = channels;
  ordered_json cands = ordered_json::array();
  for (const auto& c : meter.candidates()) {
    cands.push_back({{"source", c.source},
                     {"name", c.name},
                     {"path", c.path},
                     {"decision", c.decision},
                     {"reason", c.reason}});
  }
  j["candidates"] = cands;
  ordered_json gpus = ordered_json::array();
  for (const auto& g : meter.gpus()) {
    gpus.push_back({{"nvml_index", g.index},
                    {"name", g.name},
                    {"uuid", g.uuid},
                    {"pci_bus_id", g.pci_bus_id},
                    {"architecture", g.arch}});
  }
  j["gpus"] = {{"mapping", meter.gpu_mapping()}, {"devices", gpus}};
  j["sampler"] = {{"requested_interval_s", meter.requested_interval_s()},
                  {"interval_s", meter.interval_s()},
                  {"shortest_wrap_period_s", meter.min_wrap_period_s()},
                  {"gpu_poll_interval_s", cfg.gpu_poll_interval_s},
                  {"checkpoint_interval_s", cfg.checkpoint_interval_s}};
  const double wall = run.duration_s - meter.carried_duration_s();
  j["overhead"] = {{"sampler_thread_cpu_s", meter.sampler_cpu_s()},
                   {"mark_cpu_s", meter.mark_cpu_s()},
                   {"percent_of_one_core",
                    wall > 0 ? 100.0 * (meter.sampler_cpu_s() + meter.mark_cpu_s()) / wall : 0.0}};
  j["tdp"] = {
      {"watts", meter.tdp().tdp_w}, {"how", meter.tdp().how}, {"generic", meter.tdp().generic}};
  j["intensity"] = {{"g_per_kWh", meter.intensity().g_per_kwh},
                    {"country_iso_code", meter.intensity().country_iso_code},
                    {"source", meter.intensity().source},
                    {"vintage", cfg.intensity_vintage}};
  j["constants"] = {{"J_per_kWh", 3.6e6},
                    {"codecarbon_JOULES_TO_KWH", kCcJoulesToKwh},
                    {"codecarbon_POWER_CONSTANT_W", kCcPowerConstantW},
                    {"codecarbon_CONSUMPTION_PERCENTAGE_CONSTANT", kCcTdpFraction},
                    {"codecarbon_DEFAULT_POWER_PER_CORE_W", kCcDefaultPowerPerCpuW},
                    {"cpu_load_curve", "P = TDP × (0.1 + 0.9·u³) (CodeCarbon >= 3.0.3)"},
                    {"ram_v2_W_per_GiB", kCcRamWattsPerGib},
                    {"ram_v3_W_per_DIMM_x86", kCcRamSlotPowerX86W},
                    {"ram_v3_W_per_DIMM_arm", kCcRamSlotPowerArmW},
                    {"world_intensity_g_per_kWh", kWorldIntensityGPerKwh},
                    {"pue", cfg.pue},
                    {"wue", 0.0}};
  j["config"] = {{"emissions_layout", cfg.emissions_layout},
                 {"tracking_mode", cfg.tracking_mode},
                 {"ram_model", cfg.ram_model},
                 {"ram_source", cfg.ram_source},
                 {"use_psys", cfg.use_psys},
                 {"rapl_include_dram", cfg.rapl_include_dram},
                 {"powercap_root", cfg.powercap_root},
                 {"perf_root", cfg.perf_root},
                 {"proc_root", cfg.proc_root},
                 {"nvml_library", cfg.nvml_library}};
  if (const auto p = meter.first_prediction()) {
    j["prediction"] = {
        {"first",
         {{"after_epochs", p->epochs_done},
          {"of_epochs", p->epochs_total},
          {"energy_kWh", p->energy_j.value / 3.6e6},
          {"energy_kWh_low", p->energy_j.low / 3.6e6},
          {"energy_kWh_high", p->energy_j.high / 3.6e6},
          {"duration_s", p->duration_s.value},
          {"duration_s_low", p->duration_s.low},
          {"duration_s_high", p->duration_s.high},
          {"band", p->band},
          {"carbontracker_rule_kWh", p->energy_j.carbontracker / 3.6e6}}},
        {"final_actual", {{"energy_kWh", run.total_kwh}, {"duration_s", run.duration_s}}}};
  }
  j["notes"] = meter.notes();
  try {
    const auto more = ordered_json::parse(extra);
    for (auto it = more.begin(); it != more.end(); ++it) j[it.key()] = it.value();
  } catch (const std::exception&) {
  }
  return j.dump(2) + "\n";
}

std::string write_outputs(const Meter& meter, const std::string& out_dir,
                          const std::string& extra) {
  const auto& cfg = meter.config();
  const std::string emissions = out_dir + "/emissions.csv";
  std::filesystem::create_directories(out_dir);
  append_emissions_csv(emissions, meter, cfg.emissions_layout);
  write_task_csv(
      fmt::format("{}/emissions_{}_{}.csv", out_dir, cfg.experiment_name, meter.run_id()), meter,
      cfg.emissions_layout);
  core::write_file_atomic(out_dir + "/energy_windows.csv", windows_csv(meter));
  core::write_file_atomic(out_dir + "/energy_meta.json", meta_json(meter, extra));
  return emissions;
}

namespace {

// The selected channels behind a component of the run report (RAM: the model when it is the
// method, else the measured DRAM).
bool selected_estimated(const Meter& meter, Component c, std::string* how) {
  const std::string ram_method = meter.method(Component::kRam);
  bool estimated = false;
  for (const auto& i : meter.channels()) {
    const bool match = c == Component::kRam
                           ? (ram_method == "rapl-dram" ? i.component == Component::kDram
                                                        : i.component == Component::kRam)
                           : i.component == c;
    if (match && i.role == Role::kSelected) {
      estimated |= i.estimated;
      if (how != nullptr && how->empty()) *how = i.detail;
    }
  }
  return estimated;
}

}  // namespace

bool component_estimated(const Meter& meter, Component c) {
  return selected_estimated(meter, c, nullptr);
}

std::string method_label(const Meter& meter, Component c, std::string* how) {
  const std::string method = meter.method(c);
  if (method.empty() || method == "none") return "none";
  const bool estimated = selected_estimated(meter, c, how);
  // The CPU-load model says in every summary that it is the whole machine's load.
  const bool machine_load = estimated && method.find("cpu-load") != std::string::npos;
  return fmt::format("{} {}{}", estimated ? "ESTIMATE by" : "measured by", method,
                     machine_load ? " (whole-machine CPU load)" : "");
}

std::string summary_text(const Meter& meter) {
  const WindowReport r = meter.run_report();
  std::string s = fmt::format(
      "energy of the run (the whole metered time, set-up and test included): {:.1f} s, {:.6f} kWh",
      r.duration_s, r.total_kwh);
  if (meter.config().pue != 1.0)
    s += fmt::format(" ({:.6f} kWh with PUE {})", r.total_kwh_pue, meter.config().pue);
  s += "\n";
  const auto line = [&](const char* label, Component c, int64_t uj, const std::string& method) {
    std::string how;
    (void)method_label(meter, c, &how);
    const bool estimated = component_estimated(meter, c);
    std::string t = fmt::format("  {:<4} {:.6f} kWh  {} {}", label, uj_to_kwh(uj),
                                estimated ? "ESTIMATE by" : "measured by", method);
    if (c == Component::kCpu && estimated && method.find("cpu-load") != std::string::npos) {
      t += " (whole-machine CPU load: every process on the machine, not only this run)";
    }
    if (estimated && !how.empty()) t += fmt::format("\n         ({})", how);
    return t + "\n";
  };
  s += line("cpu", Component::kCpu, r.cpu_uj, r.cpu_method);
  s += line("ram", Component::kRam, r.ram_uj, r.ram_method);
  if (r.ram_method != "rapl-dram" && r.dram_method != "none") {
    s += fmt::format("  dram {:.6f} kWh  measured by {} (reported alone, not in the total)\n",
                     uj_to_kwh(r.dram_uj), r.dram_method);
  }
  if (!meter.gpus().empty()) s += line("gpu", Component::kGpu, r.gpu_uj, r.gpu_method);
  for (const auto& p : meter.gpu_problems()) {
    s += fmt::format("  gpu  NOT MEASURED: {}: {}\n", p.device, p.reason);
  }
  if (meter.gpus().empty() && meter.gpu_problems().empty()) s += "  gpu  none found\n";
  const EpochAccounting acc = meter.epoch_accounting();
  if (acc.n_epochs > 0) {
    s += fmt::format(
        "  of the run: {} epoch windows {:.6f} kWh, outside them {:.6f} kWh (set-up, "
        "checkpoints, test{})\n",
        acc.n_epochs, uj_to_kwh(acc.epochs_uj), uj_to_kwh(acc.outside_uj),
        r.discarded_uj > 0 ? ", discarded work" : "");
  }
  if (r.discarded_uj > 0) {
    s += fmt::format(
        "  work discarded by the interruption: {:.6f} kWh over {:.1f} s (in the run total, in no "
        "epoch)\n",
        uj_to_kwh(r.discarded_uj), r.discarded_s);
  }
  if (r.cpu_attr_j > 0 || r.ram_attr_j > 0) {
    s += fmt::format(
        "  of which the metered processes: cpu {:.6f} kWh (share of busy CPU time; {:.6f} "
        "kWh by share of capacity), ram {:.6f} kWh (share of used memory by PSS)\n",
        r.cpu_attr_j / 3.6e6, r.cpu_attr_capacity_j / 3.6e6, r.ram_attr_j / 3.6e6);
  }
  s += fmt::format("  emissions {:.6f} kg CO2eq at {} g/kWh ({})\n", r.emissions_kg,
                   meter.intensity().g_per_kwh, meter.intensity().source);
  s += fmt::format(
      "  CodeCarbon 2.3.4 would have reported {:.6f} kWh (cpu {:.6f}, gpu {:.6f}, ram "
      "{:.6f})\n",
      r.cc_total_kwh, r.cc_cpu_kwh, r.cc_gpu_kwh, r.cc_ram_kwh);
  if (r.flags) s += fmt::format("  flags: {}\n", flags_text(r.flags));
  return s;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

}  // namespace greensed::energy
