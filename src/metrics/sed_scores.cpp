#include "greensed/metrics/sed_scores.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_map>

#include "greensed/core/error.hpp"
#include "numeric.hpp"

namespace greensed::metrics {
namespace {

// np.round(x, 6)
inline double round6(double x) {
  return std::nearbyint(x * 1e6) / 1e6;
}

struct Interval {
  double onset, offset;
};

inline double clipped_intersection(const Interval& a, const Interval& b) {
  return std::max(std::min(a.offset, b.offset) - std::max(a.onset, b.onset), 0.0);
}

// Counts of one clip and class at one threshold: tps, fps, then cts per other class.
struct Stats {
  std::vector<long> v;  // [2 + K] (cts of the class itself stays 0)
};

// Intersection statistics of the detections `dets` against the target ground truth and the other
// classes' ground truth (sed_scores_eval intersection_based.statistics_fn).
void clip_statistics(const std::vector<Interval>& dets, const std::vector<Interval>& target,
                     const std::vector<std::vector<Interval>>& gt_by_class, int self, double dtc,
                     double gtc, std::optional<double> cttc, long* out) {
  const size_t M = dets.size(), N = target.size();
  std::vector<double> inter(M * N);
  std::vector<char> ok(M, 0);
  std::vector<double> row(std::max<size_t>(N, 1));
  long n_ok = 0;
  for (size_t m = 0; m < M; ++m) {
    for (size_t n = 0; n < N; ++n) inter[m * N + n] = clipped_intersection(dets[m], target[n]);
    const double total = round6(detail::pairwise_sum(inter.data() + m * N, N));
    const double len = dets[m].offset - dets[m].onset;
    ok[m] = total >= round6(dtc * len);
    n_ok += ok[m];
  }
  out[0] = 0;
  out[1] = long(M) - n_ok;
  for (size_t n = 0; n < N; ++n) {
    double s = 0.0;
    for (size_t m = 0; m < M; ++m) s += ok[m] ? inter[m * N + n] : 0.0;
    const double glen = target[n].offset - target[n].onset;
    out[0] += round6(s) >= round6(gtc * glen);
  }
  for (size_t k = 0; k < gt_by_class.size(); ++k) {
    out[2 + k] = 0;
    if (!cttc || int(k) == self || gt_by_class[k].empty()) continue;
    const auto& other = gt_by_class[k];
    for (size_t m = 0; m < M; ++m) {
      row.resize(other.size());
      for (size_t g = 0; g < other.size(); ++g) {
        row[g] = (1.0 - double(ok[m])) * clipped_intersection(dets[m], other[g]);
      }
      const double total = round6(detail::pairwise_sum(row.data(), row.size()));
      const double len = dets[m].offset - dets[m].onset;
      out[2 + k] += total >= round6(*cttc * len);
    }
  }
}

std::string stem(const std::string& filename) {
  const auto dot = filename.rfind('.');
  return dot == std::string::npos ? filename : filename.substr(0, dot);
}

}  // namespace

SedScoresPsds sed_scores_psds(const std::vector<ClipScores>& scores, const EventTable& ground_truth,
                              const Durations& durations, double dtc, double gtc,
                              std::optional<double> cttc, double alpha_ct, double alpha_st,
                              double max_efpr) {
  if ((alpha_ct == 0.0) != !cttc.has_value()) {
    throw core::InputError(fmt::format(
        "sed_scores_eval PSDS: cttc must be given exactly when alpha_ct > 0 (alpha_ct {}, cttc {})",
        alpha_ct, cttc ? fmt::format("{}", *cttc) : std::string("None")));
  }
  if (scores.empty()) throw core::InputError("sed_scores_eval PSDS: no score files");
  const std::vector<std::string>& classes = scores.front().classes;
  const size_t K = classes.size();
  std::unordered_map<std::string, int> class_index;
  for (size_t k = 0; k < K; ++k) class_index.emplace(classes[k], int(k));
  std::unordered_map<std::string, size_t> clip_index;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i].classes != classes) {
      throw core::InputError(
          fmt::format("{}: class columns differ from {}", scores[i].source, scores.front().source));
    }
    clip_index.emplace(scores[i].audio_id, i);
  }
  // Ground truth per clip and class, in table order.
  std::vector<std::vector<std::vector<Interval>>> gt(scores.size(),
                                                     std::vector<std::vector<Interval>>(K));
  std::vector<long> n_ref(K, 0);
  std::vector<double> t_ref(K, 0.0);
  for (const Event& e : ground_truth.events) {
    const auto c = class_index.find(e.label);
    const std::string where =
        e.line > 0 ? fmt::format("{}:{}", ground_truth.source, e.line) : ground_truth.source;
    if (c == class_index.end()) {
      throw core::InputError(
          fmt::format("{}: ground-truth class '{}' has no score column (score "
                      "columns: {})",
                      where, e.label, fmt::join(classes, ", ")));
    }
    const auto clip = clip_index.find(stem(e.filename));
    if (clip == clip_index.end()) {
      throw core::InputError(
          fmt::format("{}: clip '{}' has ground truth but no score file", where, e.filename));
    }
    gt[clip->second][size_t(c->second)].push_back({e.onset, e.offset});
    ++n_ref[size_t(c->second)];
    t_ref[size_t(c->second)] += e.offset - e.onset;
  }
  for (size_t k = 0; k < K; ++k) {
    if (n_ref[k] == 0) {
      throw core::InputError(
          fmt::format("sed_scores_eval PSDS: class '{}' has no ground-truth "
                      "event; every score column needs one",
                      classes[k]));
    }
  }
  std::unordered_map<std::string, double> duration_of;
  for (const auto& [name, d] : durations) duration_of.emplace(stem(name), d);
  double dataset_duration = 0.0;
  for (const ClipScores& clip : scores) {
    const auto it = duration_of.find(clip.audio_id);
    if (it == duration_of.end()) {
      throw core::InputError(
          fmt::format("{}: clip '{}' has no duration", clip.source, clip.audio_id));
    }
    dataset_duration += it->second;
  }

  // Deltas of the statistics at each clip's change points, pooled per class.
  const size_t S = 2 + K;
  std::vector<std::vector<std::pair<double, std::vector<long>>>> deltas(K);
  std::vector<double> column, unique;
  std::vector<Interval> dets;
  std::vector<long> stats, prev(S);
  for (size_t i = 0; i < scores.size(); ++i) {
    const ClipScores& clip = scores[i];
    const int T = clip.n_frames();
    for (size_t c = 0; c < K; ++c) {
      column.resize(size_t(T));
      for (int t = 0; t < T; ++t) column[size_t(t)] = clip.at(t, int(c));
      unique = column;
      std::sort(unique.begin(), unique.end());
      unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
      const size_t U = unique.size();
      stats.assign(U * S, 0);
      for (size_t u = 0; u < U; ++u) {
        dets.clear();
        int start = -1;
        for (int t = 0; t <= T; ++t) {
          const bool on = t < T && column[size_t(t)] >= unique[u];
          if (on && start < 0) start = t;
          if (!on && start >= 0) {
            dets.push_back({clip.timestamps[size_t(start)], clip.timestamps[size_t(t)]});
            start = -1;
          }
        }
        clip_statistics(dets, gt[i][c], gt[i], int(c), dtc, gtc, cttc, &stats[u * S]);
      }
      // delta_u = stats_u - stats_{u+1} (stats above the top score are 0).
      for (size_t u = 0; u < U; ++u) {
        bool any = false;
        std::vector<long> d(S);
        for (size_t s = 0; s < S; ++s) {
          d[s] = stats[u * S + s] - (u + 1 < U ? stats[(u + 1) * S + s] : 0);
          any = any || d[s] != 0;
        }
        if (any) deltas[c].emplace_back(unique[u], std::move(d));
      }
    }
  }

  SedScoresPsds result;
  result.classes = classes;
  std::vector<std::vector<double>> roc_tpr(K), roc_efpr(K);
  for (size_t c = 0; c < K; ++c) {
    auto& dc = deltas[c];
    std::sort(dc.begin(), dc.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    // Unique change-point scores ascending, then +inf (no detection).
    std::vector<double> cp;
    std::vector<std::vector<long>> acc;
    for (const auto& [score, d] : dc) {
      if (cp.empty() || cp.back() != score) {
        cp.push_back(score);
        acc.emplace_back(S, 0);
      }
      for (size_t s = 0; s < S; ++s) acc.back()[s] += d[s];
    }
    const size_t P = cp.size() + 1;
    std::vector<std::vector<long>> st(P, std::vector<long>(S, 0));
    for (size_t p = cp.size(); p-- > 0;) {
      for (size_t s = 0; s < S; ++s) st[p][s] = st[p + 1][s] + acc[p][s];
    }
    std::vector<double> tpr(P), efpr(P);
    std::vector<double> ct_rates;
    for (size_t p = 0; p < P; ++p) {
      tpr[p] = double(st[p][0]) / double(std::max<long>(n_ref[c], 1));
      const double fpr = double(st[p][1]) / dataset_duration;
      double e = fpr;
      if (alpha_ct != 0.0) {
        ct_rates.clear();
        for (size_t k = 0; k < K; ++k) {
          if (k == c) continue;
          ct_rates.push_back(double(st[p][2 + k]) / std::max(t_ref[k], 1e-12));
        }
        double mean;
        if (P == 1) {
          mean = detail::pairwise_sum(ct_rates) / double(ct_rates.size());
        } else {
          mean = 0.0;
          for (double v : ct_rates) mean += v;
          mean /= double(ct_rates.size());
        }
        e = fpr + alpha_ct * mean;
      }
      efpr[p] = e * 3600.0;
    }
    // _unique_cummax_sort: sort by (eFPR, TPR), keep strict running maxima of TPR, keep the
    // last point of each eFPR, cut at max_efpr.
    std::vector<size_t> idx(P);
    std::iota(idx.begin(), idx.end(), size_t(0));
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      if (efpr[a] != efpr[b]) return efpr[a] < efpr[b];
      return tpr[a] < tpr[b];
    });
    std::vector<double> t1, e1;
    double best = -1.0;
    for (size_t j = 0; j < P; ++j) {
      const double y = tpr[idx[j]];
      if (j == 0 || y > best) {
        t1.push_back(y);
        e1.push_back(efpr[idx[j]]);
      }
      best = j == 0 ? y : std::max(best, y);
    }
    std::vector<double>& t2 = roc_tpr[c];
    std::vector<double>& e2 = roc_efpr[c];
    for (size_t j = 0; j < t1.size(); ++j) {
      if (j + 1 < t1.size() && e1[j + 1] == e1[j]) continue;
      if (e1[j] > max_efpr) break;
      t2.push_back(t1[j]);
      e2.push_back(e1[j]);
    }
  }

  auto staircase_auc = [](const std::vector<double>& y, const std::vector<double>& x,
                          double max_x) {
    std::vector<size_t> order(x.size());
    std::iota(order.begin(), order.end(), size_t(0));
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
    std::vector<double> xs, ys;
    for (size_t i : order) {
      if (x[i] > max_x) break;
      xs.push_back(x[i]);
      ys.push_back(y[i]);
    }
    xs.push_back(max_x);
    double auc = 0.0;
    for (size_t i = 0; i + 1 < xs.size(); ++i) auc += ys[i] * (xs[i + 1] - xs[i]);
    return auc;
  };

  // Multi-class curve on the union grid, 'previous' interpolation, mean - alpha_st * std.
  std::vector<double> grid;
  for (const auto& e : roc_efpr) grid.insert(grid.end(), e.begin(), e.end());
  std::sort(grid.begin(), grid.end());
  grid.erase(std::unique(grid.begin(), grid.end()), grid.end());
  const size_t X = grid.size();
  std::vector<double> interp(K * X);
  for (size_t c = 0; c < K; ++c) {
    const auto& e = roc_efpr[c];
    const auto& t = roc_tpr[c];
    for (size_t j = 0; j < X; ++j) {
      double v;
      if (e.empty() || grid[j] < e.front()) {
        v = 0.0;
      } else if (grid[j] > e.back()) {
        v = t.back();
      } else {
        const size_t at = size_t(std::upper_bound(e.begin(), e.end(), grid[j]) - e.begin()) - 1;
        v = t[at];
      }
      interp[c * X + j] = v;
    }
    result.per_class.push_back(staircase_auc(t, e, max_efpr) / max_efpr);
  }
  std::vector<double> col(K), sq(K);
  for (size_t j = 0; j < X; ++j) {
    for (size_t c = 0; c < K; ++c) col[c] = interp[c * X + j];
    auto sum = [&](const std::vector<double>& v) {
      if (X == 1) return detail::pairwise_sum(v);
      double s = 0.0;
      for (double x : v) s += x;
      return s;
    };
    const double mu = sum(col) / double(K);
    for (size_t c = 0; c < K; ++c) sq[c] = (col[c] - mu) * (col[c] - mu);
    const double sigma = std::sqrt(sum(sq) / double(K));
    result.efpr.push_back(grid[j]);
    result.etpr.push_back(std::max(mu - alpha_st * sigma, 0.0));
  }
  if (!result.etpr.empty()) {
    result.etpr.push_back(result.etpr.back());
    result.efpr.push_back(max_efpr);
  }
  result.value = staircase_auc(result.etpr, result.efpr, max_efpr) / max_efpr;
  return result;
}

SedScoresPsds desed_sed_scores_psds(const std::vector<ClipScores>& scores,
                                    const EventTable& ground_truth, const Durations& durations,
                                    const PsdsParams& params) {
  std::unordered_map<std::string, int> with_events;
  for (const Event& e : ground_truth.events) with_events[stem(e.filename)] = 1;
  std::vector<ClipScores> kept;
  for (const ClipScores& clip : scores) {
    if (with_events.count(clip.audio_id)) kept.push_back(clip);
  }
  Durations kept_durations;
  for (const auto& [name, d] : durations) {
    if (with_events.count(stem(name))) kept_durations.emplace(name, d);
  }
  const bool scenario_with_ct = params.alpha_ct != 0.0;
  return sed_scores_psds(
      kept, ground_truth, kept_durations, params.criteria.dtc, params.criteria.gtc,
      scenario_with_ct ? std::optional<double>(params.criteria.cttc) : std::nullopt,
      params.alpha_ct, params.alpha_st, params.max_efpr);
}

}  // namespace greensed::metrics
