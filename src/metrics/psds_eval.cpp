#include "greensed/metrics/psds_eval.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "greensed/core/error.hpp"
#include "numeric.hpp"

namespace greensed::metrics {

using detail::KahanSum;
using detail::kNaN;

namespace {

constexpr double kSecondsPerHour = 3600.0;  // psds_eval duration_unit "hour"

struct Interval {
  double onset, offset;
};

inline bool overlap(const Interval& a, const Interval& b) {
  return a.onset < b.offset && b.onset < a.offset;
}
inline double intersection(const Interval& a, const Interval& b) {
  return std::min(a.offset, b.offset) - std::max(a.onset, b.onset);
}

// Identity of a table as a multiset of rows (zero-length events dropped), independent of row
// order: psds_eval hashes the sorted rows with SHA-256. Two order-independent 64-bit sums of
// per-row hashes plus the row count.
struct TableId {
  uint64_t n = 0, sum = 0, mixed = 0;
  bool operator==(const TableId&) const = default;
};

inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

TableId table_id(const EventTable& t) {
  TableId id;
  const std::string* last_file = nullptr;
  uint64_t file_hash = 0;
  for (const Event& e : t.events) {
    if (!(e.offset > e.onset)) continue;
    if (last_file == nullptr || e.filename != *last_file) {
      file_hash = std::hash<std::string_view>{}(e.filename);
      last_file = &e.filename;
    }
    uint64_t h = mix64(file_hash);
    h = mix64(h ^ std::hash<double>{}(e.onset));
    h = mix64(h ^ std::hash<double>{}(e.offset));
    h = mix64(h ^ std::hash<std::string_view>{}(e.label));
    ++id.n;
    id.sum += h;
    id.mixed += mix64(h ^ 0x9e3779b97f4a7c15ull);
  }
  return id;
}

}  // namespace

struct PsdsEval::Impl {
  IntersectionCriteria criteria;
  std::vector<std::string> classes;
  std::unordered_map<std::string, int> class_index;
  std::unordered_map<std::string, int> file_index;
  std::vector<double> world;  // per file: duration, or NaN when the clip has no WORLD event
  // Ground truth per (file, class), sorted by onset: gt[gt_begin[f*C + c] .. gt_begin[f*C+c+1]).
  std::vector<Interval> gt;
  std::vector<size_t> gt_begin;
  std::vector<int64_t> n_gt;
  double dataset_duration = 0.0;
  std::vector<double> class_durations;
  std::vector<OperatingPoint> ops;
  std::vector<TableId> op_ids;

  int n_classes() const { return int(classes.size()); }

  std::pair<const Interval*, const Interval*> gt_of(int f, int c) const {
    const size_t i = size_t(f) * classes.size() + size_t(c);
    return {gt.data() + gt_begin[i], gt.data() + gt_begin[i + 1]};
  }
};

PsdsEval::PsdsEval(const EventTable& ground_truth, const Durations& durations,
                   IntersectionCriteria criteria)
    : impl_(std::make_unique<Impl>()) {
  for (double v : {criteria.dtc, criteria.gtc, criteria.cttc}) {
    if (!(v >= 0.0 && v <= 1.0)) {
      throw core::InputError(
          fmt::format("intersection criteria must lie in [0, 1]; found dtc {}, gtc {}, cttc {}",
                      criteria.dtc, criteria.gtc, criteria.cttc));
    }
  }
  Impl& m = *impl_;
  m.criteria = criteria;
  validate_events(ground_truth);

  // Cleaned ground truth: zero-length events dropped (psds_eval: offset > onset).
  std::vector<const Event*> rows;
  rows.reserve(ground_truth.events.size());
  for (const Event& e : ground_truth.events) {
    if (e.offset > e.onset) rows.push_back(&e);
  }
  for (const Event* e : rows) m.class_index.emplace(e->label, 0);
  for (const auto& [label, _] : m.class_index) m.classes.push_back(label);
  std::sort(m.classes.begin(), m.classes.end());
  for (int c = 0; c < m.n_classes(); ++c) m.class_index[m.classes[c]] = c;
  const size_t C = m.classes.size();

  // Files: every clip with a duration (sorted, as psds_eval sorts the metadata) and every clip
  // with ground truth.
  std::vector<std::string> files;
  for (const auto& [name, _] : durations) files.push_back(name);
  for (const Event* e : rows) {
    if (!durations.count(e->filename)) files.push_back(e->filename);
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  m.world.assign(files.size(), kNaN);
  for (size_t f = 0; f < files.size(); ++f) {
    m.file_index.emplace(files[f], int(f));
    const auto it = durations.find(files[f]);
    if (it != durations.end() && it->second > 0.0) m.world[f] = it->second;
  }
  // Dataset duration: pairwise sum of the WORLD durations in filename order.
  std::vector<double> world_durations;
  for (double d : m.world) {
    if (!std::isnan(d)) world_durations.push_back(d - 0.0);
  }
  m.dataset_duration = detail::pairwise_sum(world_durations);

  // Ground truth sorted by (filename, onset): the order of psds_eval's table, which fixes the
  // Kahan order of the per-class durations and of every sum of ratios.
  std::stable_sort(rows.begin(), rows.end(), [](const Event* a, const Event* b) {
    if (a->filename != b->filename) return a->filename < b->filename;
    return a->onset < b->onset;
  });
  std::vector<KahanSum> class_sum(C);
  m.n_gt.assign(C, 0);
  std::vector<std::tuple<int, int, Interval>> keyed;
  keyed.reserve(rows.size());
  for (const Event* e : rows) {
    const int c = m.class_index.at(e->label);
    class_sum[size_t(c)].add(e->offset - e->onset);
    ++m.n_gt[size_t(c)];
    keyed.emplace_back(m.file_index.at(e->filename), c, Interval{e->onset, e->offset});
  }
  m.class_durations.resize(C);
  for (size_t c = 0; c < C; ++c) m.class_durations[c] = class_sum[c].sum;
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) < std::tie(std::get<0>(b), std::get<1>(b));
  });
  m.gt_begin.assign(files.size() * C + 1, 0);
  for (const auto& [f, c, iv] : keyed) {
    ++m.gt_begin[size_t(f) * C + size_t(c) + 1];
    m.gt.push_back(iv);
  }
  std::partial_sum(m.gt_begin.begin(), m.gt_begin.end(), m.gt_begin.begin());
}

PsdsEval::~PsdsEval() = default;
PsdsEval::PsdsEval(PsdsEval&&) noexcept = default;
PsdsEval& PsdsEval::operator=(PsdsEval&&) noexcept = default;

const std::vector<std::string>& PsdsEval::classes() const {
  return impl_->classes;
}
const std::vector<int64_t>& PsdsEval::n_gt() const {
  return impl_->n_gt;
}
double PsdsEval::dataset_duration() const {
  return impl_->dataset_duration;
}
const std::vector<double>& PsdsEval::class_durations() const {
  return impl_->class_durations;
}
const IntersectionCriteria& PsdsEval::criteria() const {
  return impl_->criteria;
}
const std::vector<OperatingPoint>& PsdsEval::operating_points() const {
  return impl_->ops;
}

OperatingPoint PsdsEval::evaluate(const EventTable& detections) const {
  const Impl& m = *impl_;
  validate_events(detections);
  const size_t C = m.classes.size();

  struct Det {
    int file, cls;
    Interval iv;
  };
  std::vector<Det> dets;
  dets.reserve(detections.events.size());
  const std::string* last_file = nullptr;
  const std::string* last_label = nullptr;
  int f = -1, c = -1;
  for (const Event& e : detections.events) {
    if (!(e.offset > e.onset)) continue;  // zero-length: dropped
    // Consecutive rows mostly share clip and class: look up only on change.
    if (last_label == nullptr || e.label != *last_label) {
      const auto it = m.class_index.find(e.label);
      c = it == m.class_index.end() ? -1 : it->second;
      last_label = &e.label;
    }
    if (last_file == nullptr || e.filename != *last_file) {
      const auto it = m.file_index.find(e.filename);
      f = it == m.file_index.end() ? -1 : it->second;
      last_file = &e.filename;
    }
    // Labels outside the ground-truth classes, and clips without WORLD or ground truth, are
    // ignored as psds_eval does.
    if (c < 0 || f < 0) continue;
    dets.push_back({f, c, {e.onset, e.offset}});
  }
  // Same-class detections of a clip never overlap (validated), so (file, class, onset) orders
  // them uniquely except for exact duplicates, whose order does not matter. Clips are processed
  // independently, so when every clip's rows are contiguous (DESED tables) each run is sorted
  // alone.
  const auto less = [](const Det& a, const Det& b) {
    if (a.file != b.file) return a.file < b.file;
    if (a.cls != b.cls) return a.cls < b.cls;
    if (a.iv.onset != b.iv.onset) return a.iv.onset < b.iv.onset;
    return a.iv.offset < b.iv.offset;
  };
  std::vector<char> seen(m.world.size(), 0);
  bool runs = true;
  for (size_t i = 0; i < dets.size() && runs; ++i) {
    if (i > 0 && dets[i].file == dets[i - 1].file) continue;
    runs = !seen[size_t(dets[i].file)];
    seen[size_t(dets[i].file)] = 1;
  }
  if (runs) {
    for (size_t begin = 0; begin < dets.size();) {
      size_t end = begin + 1;
      while (end < dets.size() && dets[end].file == dets[begin].file) ++end;
      std::sort(dets.begin() + long(begin), dets.begin() + long(end), less);
      begin = end;
    }
  } else {
    std::sort(dets.begin(), dets.end(), less);
  }

  OperatingPoint op;
  op.tp.assign(C, 0);
  op.fp.assign(C, 0);
  op.ct.assign(C * C, 0);
  std::vector<char> pass;
  std::vector<KahanSum> coverage;
  std::vector<char> covered;
  for (size_t begin = 0; begin < dets.size();) {
    size_t end = begin;
    while (end < dets.size() && dets[end].file == dets[begin].file &&
           dets[end].cls == dets[begin].cls) {
      ++end;
    }
    const int f = dets[begin].file, c = dets[begin].cls;
    const auto [g0, g1] = m.gt_of(f, c);
    // DTC: sum over same-class ground truth of intersection / detection length.
    pass.assign(end - begin, 0);
    for (size_t i = begin; i < end; ++i) {
      const Interval& d = dets[i].iv;
      const double len = d.offset - d.onset;
      KahanSum s;
      bool any = false;
      for (const Interval* g = g0; g != g1; ++g) {
        if (!overlap(d, *g)) continue;
        s.add(intersection(d, *g) / len);
        any = true;
      }
      pass[i - begin] = any && s.sum >= m.criteria.dtc;
    }
    // GTC: per ground truth, sum over DTC-passing detections of intersection / gt length.
    const size_t n_g = size_t(g1 - g0);
    coverage.assign(n_g, KahanSum{});
    covered.assign(n_g, 0);
    for (size_t i = begin; i < end; ++i) {
      if (!pass[i - begin]) continue;
      const Interval& d = dets[i].iv;
      for (size_t j = 0; j < n_g; ++j) {
        const Interval& g = g0[j];
        if (!overlap(d, g)) continue;
        coverage[j].add(intersection(d, g) / (g.offset - g.onset));
        covered[j] = 1;
      }
    }
    for (size_t j = 0; j < n_g; ++j) {
      if (covered[j] && coverage[j].sum >= m.criteria.gtc) ++op.tp[size_t(c)];
    }
    // Detections failing the DTC: FP when they overlap the clip (WORLD), cross-triggers per class.
    const double duration = m.world[size_t(f)];
    for (size_t i = begin; i < end; ++i) {
      if (pass[i - begin]) continue;
      const Interval& d = dets[i].iv;
      if (!std::isnan(duration) && d.onset < duration && 0.0 < d.offset) ++op.fp[size_t(c)];
      const double len = d.offset - d.onset;
      for (size_t k = 0; k < C; ++k) {
        if (int(k) == c) continue;
        const auto [h0, h1] = m.gt_of(f, int(k));
        KahanSum s;
        bool any = false;
        for (const Interval* g = h0; g != h1; ++g) {
          if (!overlap(d, *g)) continue;
          s.add(intersection(d, *g) / len);
          any = true;
        }
        if (any && s.sum >= m.criteria.cttc) ++op.ct[size_t(c) * C + k];
      }
    }
    begin = end;
  }

  op.tpr.resize(C);
  op.fpr.resize(C);
  op.ctr.assign(C * C, kNaN);
  for (size_t c = 0; c < C; ++c) {
    op.tpr[c] = double(op.tp[c]) / double(m.n_gt[c]);
    op.fpr[c] = (double(op.fp[c]) * kSecondsPerHour) / m.dataset_duration;
    for (size_t k = 0; k < C; ++k) {
      if (k != c)
        op.ctr[c * C + k] = (double(op.ct[c * C + k]) * kSecondsPerHour) / m.class_durations[k];
    }
  }
  return op;
}

IntersectionF1 PsdsEval::macro_f1(const OperatingPoint& op, const std::vector<int64_t>& n_gt) {
  const size_t C = op.tp.size();
  IntersectionF1 r;
  r.f1.resize(C);
  r.tp.resize(C);
  r.fp.resize(C);
  r.fn.resize(C);
  for (size_t c = 0; c < C; ++c) {
    const double tp = double(op.tp[c]);
    const double tpr = tp / double(n_gt[c]);
    const double num_gts = tp / tpr;  // 0/0 = NaN when tp = 0: the class drops out
    r.tp[c] = tp;
    r.fp[c] = double(op.fp[c]);
    const double fn = num_gts - tp;
    r.fn[c] = double(n_gt[c]) - tp;
    r.f1[c] = (2.0 * tp) / (2.0 * tp + 1.0 * fn + r.fp[c]);
  }
  r.macro = detail::nanmean(r.f1);
  return r;
}

IntersectionF1 PsdsEval::macro_f1(const EventTable& detections) const {
  return macro_f1(evaluate(detections), impl_->n_gt);
}

bool PsdsEval::add_operating_point(const EventTable& detections) {
  OperatingPoint op = evaluate(detections);
  const TableId id = table_id(detections);
  if (std::find(impl_->op_ids.begin(), impl_->op_ids.end(), id) != impl_->op_ids.end()) {
    return false;
  }
  impl_->op_ids.push_back(id);
  impl_->ops.push_back(std::move(op));
  return true;
}

PsdsResult PsdsEval::psds(double alpha_ct, double alpha_st, double max_efpr) const {
  return psds_from_operating_points(impl_->ops, impl_->n_classes(), alpha_ct, alpha_st, max_efpr);
}

PsdsResult psds_from_operating_points(const std::vector<OperatingPoint>& ops, int n_classes,
                                      double alpha_ct, double alpha_st, double max_efpr) {
  if (!(alpha_ct >= 0.0 && alpha_ct <= 1.0) || !(alpha_st >= 0.0) || !(max_efpr > 0.0)) {
    throw core::InputError(fmt::format(
        "PSDS parameters: need 0 <= alpha_ct <= 1, alpha_st >= 0, max_efpr > 0; found alpha_ct "
        "{}, alpha_st {}, max_efpr {}",
        alpha_ct, alpha_st, max_efpr));
  }
  const size_t C = size_t(n_classes);
  const size_t P = ops.size() + 1;  // + the all-zero point
  // eFPR[c][p] = FPR + alpha_ct * nanmean_k CTR (k summed in order, NaN diagonal skipped).
  std::vector<double> efpr(C * P, 0.0), tpr(C * P, 0.0);
  for (size_t p = 0; p < ops.size(); ++p) {
    const OperatingPoint& op = ops[p];
    for (size_t c = 0; c < C; ++c) {
      double sum = 0.0;
      int count = 0;
      for (size_t k = 0; k < C; ++k) {
        const double v = op.ctr[c * C + k];
        sum += std::isnan(v) ? 0.0 : v;
        count += std::isnan(v) ? 0 : 1;
      }
      const double mean_ctr = count > 0 ? sum / count : kNaN;
      efpr[c * P + p] = op.fpr[c] + alpha_ct * mean_ctr;
      tpr[c * P + p] = op.tpr[c];
    }
  }
  // The zero point: eFPR = 0 + alpha_ct * 0, TPR = 0 (already in place at column P-1).
  std::vector<double> grid;
  for (double v : efpr) {
    if (!std::isnan(v)) grid.push_back(v);
  }
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  const size_t X = grid.size();

  // y_c(x_j) = max TPR_c over points with eFPR_c <= x_j (step curve with cummax).
  std::vector<double> y(C * X, 0.0);
  std::vector<size_t> order(P);
  for (size_t c = 0; c < C; ++c) {
    std::iota(order.begin(), order.end(), size_t(0));
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return efpr[c * P + a] < efpr[c * P + b]; });
    double best = 0.0;
    size_t i = 0;
    for (size_t j = 0; j < X; ++j) {
      while (i < P && (std::isnan(efpr[c * P + order[i]]) || efpr[c * P + order[i]] <= grid[j])) {
        if (!std::isnan(efpr[c * P + order[i]])) best = std::max(best, tpr[c * P + order[i]]);
        ++i;
      }
      y[c * X + j] = best;
    }
  }

  PsdsResult r;
  r.n_operating_points = int(ops.size());
  r.roc.efpr = grid;
  r.roc.mean.resize(X);
  r.roc.std.resize(X);
  r.roc.etpr.resize(X);
  std::vector<double> column(C), dev(C);
  for (size_t j = 0; j < X; ++j) {
    for (size_t c = 0; c < C; ++c) column[c] = y[c * X + j];
    // numpy reduces axis 0 of [C, X] row by row; with a single column it is a 1-D pairwise sum.
    auto sum_over_classes = [&](const std::vector<double>& v) {
      if (X == 1) return detail::pairwise_sum(v);
      double s = 0.0;
      for (double x : v) s += x;
      return s;
    };
    const double mean = sum_over_classes(column) / double(C);
    for (size_t c = 0; c < C; ++c) dev[c] = (column[c] - mean) * (column[c] - mean);
    const double stdev = std::sqrt(sum_over_classes(dev) / double(C));
    double etpr = mean - alpha_st * stdev;
    if (std::isnan(etpr) || etpr < 0.0) etpr = 0.0;
    r.roc.mean[j] = mean;
    r.roc.std[j] = stdev;
    r.roc.etpr[j] = etpr;
  }

  // Left-step area up to max_efpr (inserted with the previous eTPR when absent), np.sum order.
  std::vector<double> xs = grid, ys = r.roc.etpr;
  if (std::find(xs.begin(), xs.end(), max_efpr) == xs.end()) {
    const size_t at = size_t(std::upper_bound(xs.begin(), xs.end(), max_efpr) - xs.begin());
    GREENSED_CHECK(at > 0, "PSDS: max_efpr {} below the first grid point {}", max_efpr, xs[0]);
    xs.insert(xs.begin() + long(at), max_efpr);
    ys.insert(ys.begin() + long(at), ys[at - 1]);
  }
  std::vector<double> area;
  for (size_t j = 0; j + 1 < xs.size() && xs[j + 1] <= max_efpr; ++j) {
    area.push_back((xs[j + 1] - xs[j]) * ys[j]);
  }
  r.value = detail::pairwise_sum(area) / max_efpr;
  return r;
}

double desed_intersection_f1(const PsdsEval& eval, const EventTable& detections) {
  if (detections.events.empty()) return 0.0;
  const double f = eval.macro_f1(detections).macro;
  return std::isnan(f) ? 0.0 : f;
}

}  // namespace greensed::metrics
