#include "greensed/energy/attribution.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <sstream>

namespace greensed::energy {
namespace {

// Fields after "(comm)": the command name may contain spaces and parentheses.
std::vector<std::string> stat_fields(const std::string& text) {
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream in(text.substr(close + 1));
  std::vector<std::string> f;
  std::string w;
  while (in >> w) f.push_back(w);
  return f;  // f[0] = state (field 3), f[1] = ppid (4), f[11] = utime (14) ...
}

}  // namespace

std::optional<uint64_t> parse_pid_cpu_ticks(const std::string& stat_text) {
  const auto f = stat_fields(stat_text);
  if (f.size() < 15) return std::nullopt;
  try {
    uint64_t sum = 0;
    for (int i = 11; i <= 14; ++i) sum += std::stoull(f[i]);  // utime stime cutime cstime
    return sum;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<int> parse_pid_ppid(const std::string& stat_text) {
  const auto f = stat_fields(stat_text);
  if (f.size() < 2) return std::nullopt;
  try {
    return std::stoi(f[1]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<uint64_t> parse_pss_kb(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::optional<uint64_t> rss;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    uint64_t kb = 0;
    if (!(ls >> key >> kb)) continue;
    if (key == "Pss:") return kb;
    if (key == "Rss:") rss = kb;
  }
  return rss;
}

std::optional<uint64_t> parse_used_memory_kb(const std::string& text) {
  std::istringstream in(text);
  std::string key;
  uint64_t kb = 0, total = 0, avail = 0;
  bool have_total = false, have_avail = false;
  while (in >> key >> kb) {
    if (key == "MemTotal:") total = kb, have_total = true;
    if (key == "MemAvailable:") avail = kb, have_avail = true;
    std::string rest;
    std::getline(in, rest);
  }
  if (!have_total || !have_avail || avail > total) return std::nullopt;
  return total - avail;
}

ProcessTracker::ProcessTracker(const IFileSystem& fs, std::string proc_root, int root_pid,
                               bool descendants)
    : fs_(fs),
      proc_root_(std::move(proc_root)),
      root_pid_(root_pid > 0 ? root_pid : int(::getpid())),
      descendants_(descendants) {}

Shares ProcessTracker::update(const CpuTimes& system_now) {
  // The tracked set: the root and, optionally, every process whose PPID chain reaches it.
  std::vector<int> pids = {root_pid_};
  std::map<int, std::string> stats;
  if (descendants_) {
    std::map<int, int> parent;
    for (const auto& e : fs_.list(proc_root_)) {
      if (e.empty() || !std::all_of(e.begin(), e.end(), ::isdigit)) continue;
      const int pid = std::stoi(e);
      const ReadResult r = fs_.read(proc_root_ + "/" + e + "/stat");
      if (!r.ok()) continue;
      stats[pid] = r.text;
      if (auto pp = parse_pid_ppid(r.text)) parent[pid] = *pp;
    }
    for (const auto& [pid, pp] : parent) {
      int p = pp;
      for (int depth = 0; depth < 64 && p > 1; ++depth) {
        if (p == root_pid_) {
          pids.push_back(pid);
          break;
        }
        const auto it = parent.find(p);
        if (it == parent.end()) break;
        p = it->second;
      }
    }
  }
  uint64_t ticks = 0;
  uint64_t pss_kb = 0;
  bool any = false;
  for (int pid : pids) {
    auto it = stats.find(pid);
    std::string text;
    if (it != stats.end()) {
      text = it->second;
    } else {
      const ReadResult r = fs_.read(proc_root_ + "/" + std::to_string(pid) + "/stat");
      if (!r.ok()) continue;
      text = r.text;
    }
    if (auto t = parse_pid_cpu_ticks(text)) {
      ticks += *t;
      any = true;
    }
    const ReadResult sm = fs_.read(proc_root_ + "/" + std::to_string(pid) + "/smaps_rollup");
    if (sm.ok()) {
      if (auto p = parse_pss_kb(sm.text)) pss_kb += *p;
    }
  }
  Shares s;
  const ReadResult mem = fs_.read(proc_root_ + "/meminfo");
  if (mem.ok()) {
    if (auto used = parse_used_memory_kb(mem.text); used && *used > 0) {
      s.memory = std::min(1.0, double(pss_kb) / double(*used));
    }
  }
  if (!any) {
    have_last_ = false;
    return s;
  }
  if (have_last_) {
    // A member that exits unreaped takes its ticks with it: never let the sum go backwards.
    const double d_proc = ticks >= last_proc_ticks_ ? double(ticks - last_proc_ticks_) : 0.0;
    const double d_busy =
        system_now.busy > last_system_.busy ? double(system_now.busy - last_system_.busy) : 0.0;
    const double d_total =
        system_now.total > last_system_.total ? double(system_now.total - last_system_.total) : 0.0;
    s.cpu_busy = d_busy > 0 ? std::min(1.0, d_proc / d_busy) : 0.0;
    s.cpu_capacity = d_total > 0 ? std::min(1.0, d_proc / d_total) : 0.0;
    s.valid = true;
  }
  have_last_ = true;
  last_proc_ticks_ = ticks;
  last_system_ = system_now;
  return s;
}

}  // namespace greensed::energy
