// The meter's life cycle and persistence: start/stop, the sampler thread with its periodic
// energy_checkpoint.json, and the totals carried across a resume (spec §7.10 item 6).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/energy/meter.hpp"
#include "greensed/energy/rapl.hpp"
#include "greensed/energy/start_report.hpp"
#include "greensed/energy/writers.hpp"
#include "meter_internal.hpp"

namespace greensed::energy {

using namespace detail;

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
    Window run{0, -1, WindowKind::kRun, "run", -1, snapshot_locked(), {}, true, std::nullopt};
    windows_.push_back(run);
    open_stack_.push_back(0);
  }
  running_ = true;
  if (announce_) {
    // Before the work: what is measured, what is estimated, and how to measure it instead.
    for (const auto& line : start_report(*this).lines) spdlog::info("[energy] {}", line);
  }
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
    // Windows still open (a child that exited inside one, an exception) are closed here and
    // flagged; the run is closed last.
    for (size_t k = windows_.size(); k-- > 0;) {
      auto& w = windows_[k];
      if (!w.open) continue;
      w.end = end;
      w.open = false;
      w.frozen = make_report(w, w.end);
      if (w.kind != WindowKind::kRun) {
        w.frozen->flags |= kFlagUnclosed;
        notes_.push_back(fmt::format("window '{}'{} was still open at the end: closed and flagged",
                                     w.name, w.epoch >= 0 ? fmt::format(" {}", w.epoch) : ""));
        if (w.kind == WindowKind::kEpoch) {
          predictor_.add_epoch(double(w.frozen->total_uj) * 1e-6, w.frozen->duration_s);
          epoch_sum_j_ += double(w.frozen->total_uj) * 1e-6;
          epoch_sum_s_ += w.frozen->duration_s;
        }
      }
    }
    open_stack_.clear();
  }
  running_ = false;
  stopped_ = true;
  if (!checkpoint_path_.empty()) core::write_file_atomic(checkpoint_path_, serialize());
}

std::string Meter::serialize() const {
  const WindowReport r = run_report();
  const EpochAccounting acc = epoch_accounting();
  nlohmann::ordered_json j;
  j["format"] = "greensed-energy-totals/1";
  j["run_id"] = run_id_;
  j["chain_id"] = chain_id_;
  j["saved_wall_s"] = clock_->wall_time_s();
  j["duration_s"] = r.duration_s;
  j["components_uj"] = {{"cpu", r.cpu_uj},
                        {"dram", r.dram_uj},
                        {"ram", r.ram_uj},
                        {"gpu", r.gpu_uj},
                        {"total", r.total_uj}};
  j["discarded_uj"] = r.discarded_uj;
  j["discarded_s"] = r.discarded_s;
  j["methods"] = {{"cpu", r.cpu_method}, {"ram", r.ram_method}, {"gpu", r.gpu_method}};
  j["cc_equiv_kwh"] = {{"cpu", r.cc_cpu_kwh}, {"gpu", r.cc_gpu_kwh}, {"ram", r.cc_ram_kwh}};
  j["pue"] = config_.pue;
  j["samples"] = r.samples;
  j["running"] = running_.load();
  {
    std::lock_guard lock(mutex_);
    j["epochs"] = {{"energy_j", predictor_.epoch_energies_j()},
                   {"duration_s", predictor_.epoch_durations_s()}};
  }
  j["epoch_accounting"] = {{"n", acc.n_epochs},          {"epochs_uj", acc.epochs_uj},
                           {"epochs_s", acc.epochs_s},   {"between_uj", acc.between_uj},
                           {"between_s", acc.between_s}, {"total_uj", acc.total_uj}};
  j["energy_windows_csv"] = windows_csv(*this);
  return j.dump(2) + "\n";
}

namespace {

struct Totals {
  int64_t cpu = 0, dram = 0, ram = 0, gpu = 0, total = 0;
  double duration_s = 0.0, saved_wall_s = 0.0;
  std::string chain;
};

Totals read_totals(const nlohmann::json& j) {
  Totals t;
  const auto& c = j.at("components_uj");
  t.cpu = c.at("cpu").get<int64_t>();
  t.dram = c.at("dram").get<int64_t>();
  t.ram = c.at("ram").get<int64_t>();
  t.gpu = c.at("gpu").get<int64_t>();
  t.total = c.value("total", t.cpu + t.ram + t.gpu);
  t.duration_s = j.at("duration_s").get<double>();
  t.saved_wall_s = j.value("saved_wall_s", 0.0);
  t.chain = j.value("chain_id", j.value("run_id", std::string()));
  return t;
}

nlohmann::json parse_totals(const std::string& text, const std::string& origin) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.at("format") != "greensed-energy-totals/1") throw std::runtime_error("format");
    read_totals(j);
    return j;
  } catch (const std::exception& e) {
    throw core::InputError(fmt::format(
        "{}: not a greensed-energy-totals/1 document ({}); use the energy_checkpoint.json or the "
        "totals saved with a training checkpoint",
        origin, e.what()));
  }
}

}  // namespace

void Meter::carry(const nlohmann::json& totals) {
  const Totals t = read_totals(totals);
  carried_cpu_uj_ = t.cpu;
  carried_dram_uj_ = t.dram;
  carried_ram_uj_ = t.ram;
  carried_gpu_uj_ = t.gpu;
  carried_total_uj_ = t.cpu + t.ram + t.gpu;
  carried_s_ = t.duration_s;
  const auto& cc = totals.at("cc_equiv_kwh");
  carried_cc_kwh_[0] = cc.at("cpu").get<double>();
  carried_cc_kwh_[1] = cc.at("gpu").get<double>();
  carried_cc_kwh_[2] = cc.at("ram").get<double>();
}

void Meter::restore(const std::string& text) {
  GREENSED_CHECK(!running_, "meter.restore() must come before meter.start()");
  const nlohmann::json j = parse_totals(text, "energy totals to resume from");
  carry(j);
  carried_discarded_uj_ = j.value("discarded_uj", int64_t(0));
  carried_discarded_s_ = j.value("discarded_s", 0.0);
  const std::string chain = read_totals(j).chain;
  if (!chain.empty()) chain_id_ = chain;
  // The predictor continues with the epochs already done (issue 13 item 3: it used to restart,
  // projecting the remaining epochs from the new ones only on top of a total that carried the old).
  predictor_ = EpochPredictor();
  epoch_sum_j_ = epoch_sum_s_ = 0.0;
  if (j.contains("epochs")) {
    const auto e = j["epochs"]["energy_j"].get<std::vector<double>>();
    const auto d = j["epochs"]["duration_s"].get<std::vector<double>>();
    for (size_t k = 0; k < e.size() && k < d.size(); ++k) {
      predictor_.add_epoch(e[k], d[k]);
      epoch_sum_j_ += e[k];
      epoch_sum_s_ += d[k];
    }
  }
  if (j.contains("epoch_accounting")) {
    const auto& a = j["epoch_accounting"];
    carried_epochs_n_ = a.value("n", 0);
    carried_epochs_uj_ = a.value("epochs_uj", int64_t(0));
    carried_epochs_s_ = a.value("epochs_s", 0.0);
    carried_between_uj_ = a.value("between_uj", int64_t(0));
    carried_between_s_ = a.value("between_s", 0.0);
  }
  carried_windows_csv_ = j.value("energy_windows_csv", std::string());
  resumed_ = true;
  notes_.push_back(fmt::format("resumed: {:.6f} kWh and {:.1f} s carried from run {}",
                               uj_to_kwh(carried_total_uj_), carried_s_,
                               j.value("run_id", std::string("?"))));
}

void Meter::resume(const std::string& training_totals, const std::string& energy_checkpoint_path) {
  GREENSED_CHECK(!running_, "meter.resume() must come before meter.start()");
  std::optional<nlohmann::json> train, latest;
  if (!training_totals.empty()) train = parse_totals(training_totals, "training checkpoint");
  if (!energy_checkpoint_path.empty() && std::filesystem::exists(energy_checkpoint_path)) {
    try {
      latest = parse_totals(core::read_file(energy_checkpoint_path), energy_checkpoint_path);
    } catch (const core::InputError& e) {
      // A checkpoint cut short by the kill: say so, and carry what the training checkpoint has.
      notes_.push_back(fmt::format("{}: not used ({})", energy_checkpoint_path, e.what()));
      spdlog::warn("[energy] {}", notes_.back());
    }
  }
  if (train) restore(training_totals);
  if (!latest) return;
  const Totals k = read_totals(*latest);
  Totals c;
  if (train) c = read_totals(*train);
  const bool same_run = !train || c.chain.empty() || c.chain == k.chain;
  const bool newer = k.total >= c.total && k.saved_wall_s >= c.saved_wall_s;
  if (!same_run || !newer) {
    notes_.push_back(fmt::format(
        "{} not carried: {}", energy_checkpoint_path,
        !same_run ? fmt::format("another run (chain {}, the checkpoint's is {})", k.chain, c.chain)
                  : "not newer than the training checkpoint"));
    return;
  }
  if (k.total == c.total) return;
  // Energy metered after the training checkpoint and before the kill: the work it paid for is
  // redone by this run, but it was spent. In the run total, in no epoch, on its own line.
  new_discarded_cpu_uj_ = k.cpu - c.cpu;
  new_discarded_dram_uj_ = k.dram - c.dram;
  new_discarded_ram_uj_ = k.ram - c.ram;
  new_discarded_gpu_uj_ = k.gpu - c.gpu;
  new_discarded_s_ = std::max(0.0, k.duration_s - c.duration_s);
  carry(*latest);
  const int64_t before = train ? train->value("discarded_uj", int64_t(0)) : 0;
  const double before_s = train ? train->value("discarded_s", 0.0) : 0.0;
  carried_discarded_uj_ = before + (k.total - c.total);
  carried_discarded_s_ = before_s + new_discarded_s_;
  if (!train) chain_id_ = k.chain.empty() ? chain_id_ : k.chain;
  resumed_ = true;
  notes_.push_back(fmt::format(
      "work discarded by the interruption: {:.6f} kWh over {:.1f} s (metered after the last "
      "training checkpoint, from {}); counted in the run total, in no epoch",
      uj_to_kwh(k.total - c.total), new_discarded_s_, energy_checkpoint_path));
  spdlog::info("[energy] {}", notes_.back());
}

WindowReport Meter::discarded_report() const {
  WindowReport r;
  r.name = "discarded_by_interruption";
  r.kind = WindowKind::kCustom;
  r.parent = 0;
  r.cpu_uj = new_discarded_cpu_uj_;
  r.dram_uj = new_discarded_dram_uj_;
  r.ram_uj = new_discarded_ram_uj_;
  r.gpu_uj = new_discarded_gpu_uj_;
  r.total_uj = r.cpu_uj + r.ram_uj + r.gpu_uj;
  r.duration_s = new_discarded_s_;
  r.total_kwh = uj_to_kwh(r.total_uj);
  r.total_kwh_pue = r.total_kwh * config_.pue;
  r.emissions_kg = r.total_kwh_pue * intensity_.g_per_kwh / 1000.0;
  r.flags = kFlagResumed;
  r.cpu_method = r.ram_method = r.gpu_method = r.dram_method = "carried";
  return r;
}

void Meter::set_checkpoint(const std::string& path) {
  checkpoint_path_ = path;
  checkpoint_interval_s_ = config_.checkpoint_interval_s;
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
