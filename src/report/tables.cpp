#include "greensed/report/tables.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "greensed/core/error.hpp"

namespace greensed::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Cumulative kWh at the first epoch whose F1 reaches `level` (NaN if none does).
double kwh_at_first(const std::vector<EpochRecord>& epochs, double level) {
  for (const auto& e : epochs) {
    if (!std::isnan(e.val_synth_f1_teacher) && e.val_synth_f1_teacher >= level)
      return e.kwh_cumulative;
  }
  return kNaN;
}

std::string cell(const MeanStd& m, double scale, int digits) {
  if (m.n == 0) return "–";
  if (m.n == 1 || std::isnan(m.std)) return fmt::format("{:.{}f}", m.mean * scale, digits);
  return fmt::format("{:.{}f} ± {:.{}f}", m.mean * scale, digits, m.std * scale, digits);
}

std::string num(double v) {
  return std::isnan(v) ? "" : fmt::format("{:.10g}", v);
}

}  // namespace

RunSummary summarize_run(const std::vector<EpochRecord>& epochs, int batch_size, long long seed,
                         const std::string& dir) {
  if (epochs.empty()) throw core::InputError(fmt::format("{}: the run has no finished epoch", dir));
  RunSummary s;
  s.dir = dir;
  s.batch_size = batch_size;
  s.seed = seed;
  s.n_epochs = int(epochs.size());
  s.max_f1 = kNaN;
  for (const auto& e : epochs) {
    if (!std::isnan(e.val_synth_f1_teacher) &&
        (std::isnan(s.max_f1) || e.val_synth_f1_teacher > s.max_f1)) {
      s.max_f1 = e.val_synth_f1_teacher;
    }
  }
  s.wall_s = epochs.back().wall_cumulative_s;
  s.total_kwh = epochs.back().kwh_cumulative;
  s.wh_per_epoch = 1000.0 * s.total_kwh / s.n_epochs;
  s.wh_per_minute = s.wall_s > 0 ? 1000.0 * s.total_kwh / (s.wall_s / 60.0) : kNaN;
  s.kwh_at_f1_040 = kwh_at_first(epochs, 0.40);
  s.kwh_at_95 = std::isnan(s.max_f1) ? kNaN : kwh_at_first(epochs, 0.95 * s.max_f1);
  s.kwh_at_max = std::isnan(s.max_f1) ? kNaN : kwh_at_first(epochs, s.max_f1);
  s.extra_95_to_max = s.kwh_at_max - s.kwh_at_95;
  return s;
}

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd m;
  double sum = 0;
  for (double v : values) {
    if (!std::isnan(v)) sum += v, ++m.n;
  }
  if (m.n == 0) return {kNaN, kNaN, 0};
  m.mean = sum / m.n;
  if (m.n < 2) {
    m.std = kNaN;
    return m;
  }
  double ss = 0;
  for (double v : values) {
    if (!std::isnan(v)) ss += (v - m.mean) * (v - m.mean);
  }
  m.std = std::sqrt(ss / (m.n - 1));
  return m;
}

std::vector<BatchRow> aggregate_by_batch(const std::vector<RunSummary>& runs) {
  std::map<int, std::vector<const RunSummary*>> groups;
  for (const auto& r : runs) groups[r.batch_size].push_back(&r);
  std::vector<BatchRow> rows;
  for (const auto& [batch, group] : groups) {
    BatchRow row;
    row.batch_size = batch;
    row.n_runs = int(group.size());
    const auto collect = [&](double RunSummary::*field) {
      std::vector<double> v;
      for (const auto* r : group) v.push_back(r->*field);
      return mean_std(v);
    };
    row.max_f1 = collect(&RunSummary::max_f1);
    row.wall_s = collect(&RunSummary::wall_s);
    row.total_kwh = collect(&RunSummary::total_kwh);
    row.wh_per_epoch = collect(&RunSummary::wh_per_epoch);
    row.wh_per_minute = collect(&RunSummary::wh_per_minute);
    row.kwh_at_f1_040 = collect(&RunSummary::kwh_at_f1_040);
    row.kwh_at_95 = collect(&RunSummary::kwh_at_95);
    row.kwh_at_max = collect(&RunSummary::kwh_at_max);
    row.extra_95_to_max = collect(&RunSummary::extra_95_to_max);
    rows.push_back(row);
  }
  return rows;
}

std::string table1_markdown(const std::vector<BatchRow>& rows) {
  std::string out =
      "| batch | runs | max F1 (%) | time (min) | total (Wh) | Wh / epoch | Wh / minute |\n"
      "|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows) {
    out +=
        fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", r.batch_size, r.n_runs,
                    cell(r.max_f1, 100, 1), cell(r.wall_s, 1.0 / 60, 1), cell(r.total_kwh, 1000, 3),
                    cell(r.wh_per_epoch, 1, 3), cell(r.wh_per_minute, 1, 3));
  }
  return out;
}

std::string table2_markdown(const std::vector<BatchRow>& rows) {
  std::string out =
      "| batch | Wh at F1 = 40 % | Wh at 95 % of max F1 | Wh at max F1 | total Wh | extra Wh 95 % "
      "→ max |\n"
      "|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows) {
    out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", r.batch_size,
                       cell(r.kwh_at_f1_040, 1000, 3), cell(r.kwh_at_95, 1000, 3),
                       cell(r.kwh_at_max, 1000, 3), cell(r.total_kwh, 1000, 3),
                       cell(r.extra_95_to_max, 1000, 3));
  }
  return out;
}

std::string tables_csv(const std::vector<BatchRow>& rows) {
  std::string out = "batch_size,n_runs";
  for (const char* name : {"max_f1", "wall_s", "total_kwh", "wh_per_epoch", "wh_per_minute",
                           "kwh_at_f1_040", "kwh_at_95", "kwh_at_max", "extra_95_to_max"}) {
    out += fmt::format(",{0}_mean,{0}_std", name);
  }
  out += "\n";
  for (const auto& r : rows) {
    out += fmt::format("{},{}", r.batch_size, r.n_runs);
    for (const MeanStd* m : {&r.max_f1, &r.wall_s, &r.total_kwh, &r.wh_per_epoch, &r.wh_per_minute,
                             &r.kwh_at_f1_040, &r.kwh_at_95, &r.kwh_at_max, &r.extra_95_to_max}) {
      out += "," + num(m->mean) + "," + num(m->std);
    }
    out += "\n";
  }
  return out;
}

std::string runs_csv(const std::vector<RunSummary>& runs) {
  std::string out =
      "dir,batch_size,seed,n_epochs,max_f1,wall_s,total_kwh,wh_per_epoch,wh_per_minute,kwh_at_f1_"
      "040,"
      "kwh_at_95,kwh_at_max,extra_95_to_max\n";
  for (const auto& r : runs) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.dir, r.batch_size, r.seed,
                       r.n_epochs, num(r.max_f1), num(r.wall_s), num(r.total_kwh),
                       num(r.wh_per_epoch), num(r.wh_per_minute), num(r.kwh_at_f1_040),
                       num(r.kwh_at_95), num(r.kwh_at_max), num(r.extra_95_to_max));
  }
  return out;
}

}  // namespace greensed::report
