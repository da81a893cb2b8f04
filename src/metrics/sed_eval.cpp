#include "greensed/metrics/sed_eval.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

#include "numeric.hpp"

namespace greensed::metrics {
namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();  // numpy.spacing(1)
using detail::kNaN;

struct Clip {
  std::vector<const Event*> ref, est;
};

// Clips of the ground truth in listing order, with their events in table order.
std::vector<Clip> clips_of(const EventTable& gt, const EventTable& det) {
  std::unordered_map<std::string_view, size_t> index;
  std::vector<Clip> clips(gt.clips.size());
  for (size_t i = 0; i < gt.clips.size(); ++i) index.emplace(gt.clips[i], i);
  for (const Event& e : gt.events) {
    const auto it = index.find(e.filename);
    if (it == index.end()) {
      index.emplace(e.filename, clips.size());
      clips.emplace_back();
      clips.back().ref.push_back(&e);
    } else {
      clips[it->second].ref.push_back(&e);
    }
  }
  for (const Event& e : det.events) {
    const auto it = index.find(e.filename);
    if (it != index.end()) clips[it->second].est.push_back(&e);
  }
  return clips;
}

std::vector<std::string> class_union(const EventTable& gt, const EventTable& det) {
  std::set<std::string> labels;
  for (const Event& e : gt.events) labels.insert(e.label);
  for (const Event& e : det.events) labels.insert(e.label);
  return {labels.begin(), labels.end()};
}

// sed_eval.util.bipartite_match (Hopcroft-Karp after mir_eval), reproduced with Python's dict
// insertion order so that the chosen matching, not only its size, is the same.
// graph: left vertices (estimates) in key order with their right neighbours (references).
// Returns match_of_right[v] = u or -1.
std::vector<int> bipartite_match(const std::vector<std::pair<int, std::vector<int>>>& graph,
                                 int n_right) {
  std::vector<int> match(size_t(n_right), -1);
  int n_left = 0;
  for (const auto& [u, _] : graph) n_left = std::max(n_left, u + 1);
  std::vector<const std::vector<int>*> adj(size_t(n_left), nullptr);
  for (const auto& [u, vs] : graph) adj[size_t(u)] = &vs;
  for (const auto& [u, vs] : graph) {
    for (int v : vs) {
      if (match[size_t(v)] < 0) {
        match[size_t(v)] = u;
        break;
      }
    }
  }
  constexpr int kAbsent = -2, kUnmatched = -1;
  while (true) {
    std::vector<int> pred(size_t(n_left), kAbsent);
    for (const auto& [u, _] : graph) pred[size_t(u)] = kUnmatched;
    for (int v = 0; v < n_right; ++v) {
      if (match[size_t(v)] >= 0) pred[size_t(match[size_t(v)])] = kAbsent;
    }
    std::vector<std::vector<int>> preds(static_cast<size_t>(n_right));
    std::vector<char> has_preds(size_t(n_right), 0);
    std::vector<int> unmatched;
    std::vector<int> layer;
    for (const auto& [u, _] : graph) {
      if (pred[size_t(u)] != kAbsent) layer.push_back(u);
    }
    while (!layer.empty() && unmatched.empty()) {
      std::vector<int> new_order;
      std::map<int, std::vector<int>> new_layer;
      for (int u : layer) {
        for (int v : *adj[size_t(u)]) {
          if (has_preds[size_t(v)]) continue;
          auto [it, inserted] = new_layer.try_emplace(v);
          if (inserted) new_order.push_back(v);
          it->second.push_back(u);
        }
      }
      layer.clear();
      for (int v : new_order) {
        preds[size_t(v)] = new_layer[v];
        has_preds[size_t(v)] = 1;
        if (match[size_t(v)] >= 0) {
          layer.push_back(match[size_t(v)]);
          pred[size_t(match[size_t(v)])] = v;
        } else {
          unmatched.push_back(v);
        }
      }
    }
    if (unmatched.empty()) return match;
    std::function<bool(int)> recurse = [&](int v) -> bool {
      if (!has_preds[size_t(v)]) return false;
      const std::vector<int> L = preds[size_t(v)];
      has_preds[size_t(v)] = 0;
      for (int u : L) {
        if (pred[size_t(u)] == kAbsent) continue;
        const int pu = pred[size_t(u)];
        pred[size_t(u)] = kAbsent;
        if (pu == kUnmatched || recurse(pu)) {
          match[size_t(v)] = u;
          return true;
        }
      }
      return false;
    };
    for (int v : unmatched) recurse(v);
  }
}

struct Collar {
  double t_collar, percentage;
  bool hit(const Event& ref, const Event& est) const {
    const bool onset_ok = std::fabs(ref.onset - est.onset) <= t_collar;
    const double length = ref.offset - ref.onset;
    const bool offset_ok =
        std::fabs(ref.offset - est.offset) <= std::max(t_collar, percentage * length);
    return onset_ok && offset_ok;
  }
};

// Maximum matching between references and estimates with an edge where `edge(j, i)`.
template <typename Edge>
std::vector<int> match_events(size_t n_ref, size_t n_est, Edge edge) {
  std::vector<std::pair<int, std::vector<int>>> graph;
  std::vector<int> key_of(n_est, -1);
  for (size_t j = 0; j < n_ref; ++j) {
    for (size_t i = 0; i < n_est; ++i) {
      if (!edge(j, i)) continue;
      if (key_of[i] < 0) {
        key_of[i] = int(graph.size());
        graph.push_back({int(i), {}});
      }
      graph[size_t(key_of[i])].second.push_back(int(j));
    }
  }
  return bipartite_match(graph, int(n_ref));
}

double nanmean_of(const std::vector<SedEvalScores>& s, double SedEvalScores::*field) {
  std::vector<double> v;
  for (const auto& x : s) v.push_back(x.*field);
  return detail::nanmean(v);
}

SedEvalScores score(const SedEvalCounts& n, bool zero_score, bool overall) {
  SedEvalScores s;
  if (n.n_sys == 0) {
    s.precision = zero_score ? 0.0 : kNaN;
  } else {
    s.precision = n.n_tp / n.n_sys;
  }
  s.recall = n.n_ref == 0 ? kNaN : n.n_tp / n.n_ref;
  s.f1 = (s.precision == 0 && s.recall == 0)
             ? 0.0
             : (2.0 * s.precision * s.recall) / (1.0 * s.precision + s.recall);
  s.deletion_rate = (overall ? n.n_del : n.n_fn) / (n.n_ref + kEps);
  s.insertion_rate = (overall ? n.n_ins : n.n_fp) / (n.n_ref + kEps);
  s.substitution_rate = overall ? n.n_subs / (n.n_ref + kEps) : 0.0;
  s.error_rate = s.substitution_rate + s.deletion_rate + s.insertion_rate;
  return s;
}

void finish(SedEvalResult& r, bool zero_score) {
  for (const auto& n : r.class_counts) r.class_scores.push_back(score(n, zero_score, false));
  r.micro = score(r.overall, zero_score, true);
  r.macro.f1 = nanmean_of(r.class_scores, &SedEvalScores::f1);
  r.macro.precision = nanmean_of(r.class_scores, &SedEvalScores::precision);
  r.macro.recall = nanmean_of(r.class_scores, &SedEvalScores::recall);
  r.macro.error_rate = nanmean_of(r.class_scores, &SedEvalScores::error_rate);
  r.macro.deletion_rate = nanmean_of(r.class_scores, &SedEvalScores::deletion_rate);
  r.macro.insertion_rate = nanmean_of(r.class_scores, &SedEvalScores::insertion_rate);
  r.macro.substitution_rate = kNaN;
}

}  // namespace

SedEvalResult event_based_metrics(const EventTable& ground_truth, const EventTable& detections,
                                  double t_collar, double percentage_of_length) {
  SedEvalResult r;
  r.classes = class_union(ground_truth, detections);
  const size_t C = r.classes.size();
  r.class_counts.resize(C);
  const Collar collar{t_collar, percentage_of_length};
  for (const Clip& clip : clips_of(ground_truth, detections)) {
    const auto& ref = clip.ref;
    const auto& est = clip.est;
    // Overall: label-equal matching, then greedy substitutions among the leftovers.
    const auto match = match_events(ref.size(), est.size(), [&](size_t j, size_t i) {
      return ref[j]->label == est[i]->label && collar.hit(*ref[j], *est[i]);
    });
    std::vector<char> ref_ok(ref.size(), 0), est_ok(est.size(), 0);
    double n_tp = 0;
    for (size_t j = 0; j < ref.size(); ++j) {
      if (match[j] >= 0) {
        ref_ok[j] = 1;
        est_ok[size_t(match[j])] = 1;
        ++n_tp;
      }
    }
    double n_subs = 0;
    std::vector<char> counted(est.size(), 0);
    for (size_t j = 0; j < ref.size(); ++j) {
      if (ref_ok[j]) continue;
      for (size_t i = 0; i < est.size(); ++i) {
        if (est_ok[i] || counted[i]) continue;
        if (collar.hit(*ref[j], *est[i])) {
          counted[i] = 1;
          ++n_subs;
          break;
        }
      }
    }
    const double n_ref = double(ref.size()), n_sys = double(est.size());
    r.overall.n_ref += n_ref;
    r.overall.n_sys += n_sys;
    r.overall.n_tp += n_tp;
    r.overall.n_subs += n_subs;
    r.overall.n_fp += n_sys - n_tp - n_subs;
    r.overall.n_fn += n_ref - n_tp - n_subs;
    // Class-wise: maximum matching per class.
    for (size_t c = 0; c < C; ++c) {
      std::vector<const Event*> cref, cest;
      for (const Event* e : ref) {
        if (e->label == r.classes[c]) cref.push_back(e);
      }
      for (const Event* e : est) {
        if (e->label == r.classes[c]) cest.push_back(e);
      }
      const auto m = match_events(cref.size(), cest.size(), [&](size_t j, size_t i) {
        return collar.hit(*cref[j], *cest[i]);
      });
      double tp = 0;
      for (int x : m) tp += x >= 0 ? 1 : 0;
      auto& n = r.class_counts[c];
      n.n_ref += double(cref.size());
      n.n_sys += double(cest.size());
      n.n_tp += tp;
      n.n_fp += double(cest.size()) - tp;
      n.n_fn += double(cref.size()) - tp;
    }
  }
  r.overall.n_del = r.overall.n_fn;  // event-based: deletions are Nfn, insertions Nfp
  r.overall.n_ins = r.overall.n_fp;
  finish(r, true);
  return r;
}

SedEvalResult segment_based_metrics(const EventTable& ground_truth, const EventTable& detections,
                                    double time_resolution) {
  SedEvalResult r;
  r.classes = class_union(ground_truth, detections);
  const size_t C = r.classes.size();
  r.class_counts.resize(C);
  std::unordered_map<std::string_view, size_t> class_index;
  for (size_t c = 0; c < C; ++c) class_index.emplace(r.classes[c], c);
  const double scale = 1.0 / time_resolution;
  for (const Clip& clip : clips_of(ground_truth, detections)) {
    double length = 0.0;
    for (const Event* e : clip.ref) length = std::max(length, e->offset);
    for (const Event* e : clip.est) length = std::max(length, e->offset);
    const long n_seg = long(std::ceil(length * scale));
    if (n_seg <= 0) continue;
    auto roll = [&](const std::vector<const Event*>& events) {
      std::vector<char> a(size_t(n_seg) * C, 0);
      for (const Event* e : events) {
        const long on = long(std::floor(e->onset * scale));
        const long off = long(std::ceil(e->offset * scale));
        const size_t c = class_index.at(e->label);
        for (long s = std::max(on, 0L); s < std::min(off, n_seg); ++s) a[size_t(s) * C + c] = 1;
      }
      return a;
    };
    const auto a = roll(clip.ref), b = roll(clip.est);
    for (long s = 0; s < n_seg; ++s) {
      double tp = 0, nref = 0, nsys = 0;
      for (size_t c = 0; c < C; ++c) {
        const bool x = a[size_t(s) * C + c], y = b[size_t(s) * C + c];
        auto& n = r.class_counts[c];
        n.n_tp += x && y;
        n.n_fp += !x && y;
        n.n_fn += x && !y;
        n.n_tn += !x && !y;
        n.n_ref += x;
        n.n_sys += y;
        tp += x && y;
        nref += x;
        nsys += y;
        r.overall.n_tp += x && y;
        r.overall.n_fp += !x && y;
        r.overall.n_fn += x && !y;
        r.overall.n_tn += !x && !y;
      }
      r.overall.n_ref += nref;
      r.overall.n_sys += nsys;
      r.overall.n_subs += std::min(nref, nsys) - tp;
      r.overall.n_del += std::max(0.0, nref - nsys);
      r.overall.n_ins += std::max(0.0, nsys - nref);
    }
  }
  finish(r, false);
  return r;
}

}  // namespace greensed::metrics
