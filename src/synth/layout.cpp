#include "greensed/synth/layout.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "greensed/core/error.hpp"
#include "greensed/core/text.hpp"

namespace greensed::synth {
namespace {

std::vector<std::vector<std::string>> parse_rows(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string_view line : core::split_lines(text)) {
    if (line.empty()) continue;
    std::vector<std::string> fields;
    for (const std::string_view f : core::split_fields(line, '\t')) fields.emplace_back(f);
    rows.push_back(std::move(fields));
  }
  return rows;
}

RealStats load_real_stats() {
  RealStats s;
  const auto rows = parse_rows(embedded_class_stats_tsv());
  GREENSED_CHECK(rows.size() == 11, "embedded class stats has {} rows", rows.size());
  const auto& h = rows[0];
  auto col = [&](const char* name) {
    const auto it = std::find(h.begin(), h.end(), name);
    GREENSED_CHECK(it != h.end(), "embedded class stats lacks {}", name);
    return size_t(it - h.begin());
  };
  for (size_t r = 1; r < rows.size(); ++r) {
    const int c = data::class_index(rows[r][0]);
    GREENSED_CHECK(c >= 0, "embedded class stats class {}", rows[r][0]);
    auto v = [&](const char* name) { return std::stod(rows[r][col(name)]); };
    ClassStats& k = s.classes[c];
    k.frac_clips = v("frac_clips_with_class");
    k.n_events = int(v("n_events"));
    k.events_mean = v("events_of_class_per_clip_mean");
    k.events_std = v("events_of_class_per_clip_std");
    k.events_max = v("events_of_class_per_clip_max");
    k.all_mean = v("all_events_per_clip_mean");
    k.all_std = v("all_events_per_clip_std");
    k.all_max = v("all_events_per_clip_max");
    k.dur_quantiles = {v("dur_p10"), v("dur_p25"), v("dur_p50"), v("dur_p75"), v("dur_p90")};
    k.frac_full_clip = v("frac_full_clip");
    k.frac_onset_at_0 = v("frac_onset_at_0");
    k.frac_offset_at_end = v("frac_offset_at_end");
  }
  const auto co = parse_rows(embedded_cooccurrence_tsv());
  GREENSED_CHECK(co.size() == 11, "embedded co-occurrence has {} rows", co.size());
  for (size_t r = 1; r < co.size(); ++r) {
    const int a = data::class_index(co[r][0]);
    for (size_t j = 1; j < co[0].size(); ++j) {
      const int b = data::class_index(co[0][j]);
      GREENSED_CHECK(a >= 0 && b >= 0, "embedded co-occurrence classes");
      s.cooccurrence[a][b] = std::stod(co[r][j]);
    }
  }
  // First-class weights q fitted so that the share of clips containing each class,
  // q_c + sum_{f != c} q_f P(c | f), matches the real share (iterative proportional fitting).
  std::array<double, data::kNumClasses> q{};
  for (int c = 0; c < data::kNumClasses; ++c) q[c] = s.classes[c].frac_clips;
  for (int iter = 0; iter < 200; ++iter) {
    double total = 0;
    for (int c = 0; c < data::kNumClasses; ++c) {
      double present = q[c];
      for (int f = 0; f < data::kNumClasses; ++f) {
        if (f != c) present += q[f] * s.cooccurrence[f][c];
      }
      q[c] *= std::sqrt(s.classes[c].frac_clips / std::max(present, 1e-9));
      total += q[c];
    }
    for (double& v : q) v /= total;
  }
  s.first_class_weights = q;
  return s;
}

int choose_weighted(core::RngStream& rng, std::span<const double> w) {
  double total = 0;
  for (double x : w) total += x;
  double u = rng.uniform() * total;
  for (size_t i = 0; i < w.size(); ++i) {
    if (u < w[i]) return int(i);
    u -= w[i];
  }
  for (size_t i = w.size(); i-- > 0;) {
    if (w[i] > 0) return int(i);
  }
  return 0;
}

constexpr double kMinGap = 0.15;  // DESED's merge threshold between same-class events

bool is_long_class(int label) {
  return label == 1 || label == 5 || label == 6 || label == 7 || label == 9;
}

// Places one event of `label` and `duration` following Scaper's onset rules; returns false when no
// placement keeps polyphony <= 3 and a gap to the same class's events.
bool place_event(core::RngStream& rng, int label, double duration, double clip_len,
                 std::vector<SourceEvent>& sources) {
  const ClassStats& k = real_stats().classes[label];
  duration = std::min(duration, clip_len);
  const double p_non =
      std::max(0.0, k.frac_onset_at_0 - k.frac_full_clip) / std::max(1e-9, 1.0 - k.frac_full_clip);
  for (int attempt = 0; attempt < 20; ++attempt) {
    double onset;
    if (duration >= clip_len || (attempt == 0 && rng.uniform() < p_non)) {
      onset = 0.0;  // already running at the clip start ("_nOn")
    } else {
      onset = truncnorm(rng, 5.0, 2.0, 0.25, clip_len);
      if (onset + duration > clip_len) onset = clip_len - duration;  // Scaper's end clamp
    }
    SourceEvent e{label, onset, duration};
    bool ok = true;
    for (const auto& o : sources) {
      if (o.label == label && onset < o.onset + o.duration + kMinGap &&
          o.onset < onset + duration + kMinGap) {
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    sources.push_back(e);
    if (max_polyphony(sources) > 3) {
      sources.pop_back();
      continue;
    }
    return true;
  }
  return false;
}

}  // namespace

const RealStats& real_stats() {
  static const RealStats stats = load_real_stats();
  return stats;
}

double truncnorm(core::RngStream& rng, double mean, double sd, double lo, double hi) {
  if (sd <= 0) return std::clamp(mean, lo, hi);
  for (int i = 0; i < 1000; ++i) {
    const double x = mean + sd * rng.normal();
    if (x >= lo && x <= hi) return x;
  }
  return rng.uniform(lo, hi);  // mass of [lo, hi] is negligible: fall back to uniform
}

double draw_duration(core::RngStream& rng, int label, double clip_len) {
  const auto& q = real_stats().classes[label].dur_quantiles;
  const double top = is_long_class(label) ? std::max(q[4], 10.0) : std::min(10.0, 2.0 * q[4]);
  const double ps[7] = {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0};
  const double xs[7] = {0.25, q[0], q[1], q[2], q[3], q[4], top};
  const double u = rng.uniform();
  int i = 0;
  while (i < 5 && u > ps[i + 1]) ++i;
  const double f = (u - ps[i]) / (ps[i + 1] - ps[i]);
  return std::clamp(xs[i] + f * (xs[i + 1] - xs[i]), 0.25, clip_len);
}

int max_polyphony(const std::vector<SourceEvent>& sources) {
  std::vector<std::pair<double, int>> edges;
  for (const auto& e : sources) {
    edges.push_back({e.onset, 1});
    edges.push_back({e.onset + e.duration, -1});
  }
  std::sort(edges.begin(), edges.end());  // ends (-1) sort before starts at the same time
  int active = 0, peak = 0;
  for (const auto& [t, d] : edges) peak = std::max(peak, active += d);
  return peak;
}

std::vector<data::Event> post_process_labels(std::vector<data::Event> events, double clip_len) {
  for (auto& e : events) {
    e.onset = std::round(std::clamp(e.onset, 0.0, clip_len) * 1000.0) / 1000.0;
    e.offset = std::round(std::clamp(e.offset, 0.0, clip_len) * 1000.0) / 1000.0;
  }
  std::vector<data::Event> out;
  for (int c = 0; c < data::kNumClasses; ++c) {
    std::vector<data::Event> cls;
    for (const auto& e : events) {
      if (e.label == c) cls.push_back(e);
    }
    std::sort(cls.begin(), cls.end(),
              [](const data::Event& a, const data::Event& b) { return a.onset < b.onset; });
    std::vector<data::Event> kept;
    for (auto e : cls) {
      if (e.offset - e.onset < 0.25) {
        if (e.onset + 0.25 > clip_len) break;  // this and the later events of the class go
        e.offset = std::round((e.onset + 0.25) * 1000.0) / 1000.0;
      }
      if (!kept.empty()) {
        auto& last = kept.back();
        if (e.offset <= last.offset) continue;  // ends inside the previous one
        if (e.onset - last.offset < 0.15 || e.onset - last.onset < 0.40) {
          last.offset = std::max(last.offset, e.offset);
          continue;
        }
      }
      kept.push_back(e);
    }
    out.insert(out.end(), kept.begin(), kept.end());
  }
  std::sort(out.begin(), out.end(), [](const data::Event& a, const data::Event& b) {
    return a.onset != b.onset ? a.onset < b.onset : a.label < b.label;
  });
  return out;
}

namespace {

ClipLayout finish(std::vector<SourceEvent> sources, double clip_len) {
  ClipLayout layout;
  layout.duration = clip_len;
  std::vector<data::Event> events;
  for (const auto& s : sources) events.push_back({s.onset, s.onset + s.duration, s.label});
  layout.sources = std::move(sources);
  layout.labels = post_process_labels(std::move(events), clip_len);
  return layout;
}

}  // namespace

ClipLayout sample_strong_layout(core::RngStream& rng, double clip_len) {
  const RealStats& st = real_stats();
  const int first = choose_weighted(rng, st.first_class_weights);
  // The other classes present with P(class | first class); each present class gets
  // round(truncnorm(mean, std, 1, max)) events of its events-per-clip distribution.
  uint32_t classes = 1u << first;
  for (int c = 0; c < data::kNumClasses; ++c) {
    if (c != first && rng.uniform() < st.cooccurrence[first][c]) classes |= 1u << c;
  }
  return sample_layout_for_classes(rng, classes, clip_len, /*every_class_audible=*/false);
}

ClipLayout sample_layout_for_classes(core::RngStream& rng, uint32_t classes, double clip_len,
                                     bool every_class_audible) {
  std::vector<SourceEvent> sources;
  for (int c = 0; c < data::kNumClasses; ++c) {
    if (!(classes & (1u << c))) continue;
    const ClassStats& k = real_stats().classes[c];
    const int n = int(std::lround(truncnorm(rng, k.events_mean, k.events_std, 1.0, k.events_max)));
    bool any = false;
    for (int i = 0; i < n; ++i) {
      any |= place_event(rng, c, draw_duration(rng, c, clip_len), clip_len, sources);
    }
    if (!any && every_class_audible) {  // a weak label must be audible: force one event
      sources.push_back({c, 0.0, std::min(clip_len, draw_duration(rng, c, clip_len))});
    }
  }
  return finish(std::move(sources), clip_len);
}

ClipLayout layout_from_labels(const std::vector<data::Event>& events, double clip_len) {
  ClipLayout layout;
  layout.duration = clip_len;
  layout.labels = events;
  for (const auto& e : events) {
    const double end = std::min(e.offset, clip_len);
    if (end > e.onset) layout.sources.push_back({e.label, e.onset, end - e.onset});
  }
  return layout;
}

}  // namespace greensed::synth
