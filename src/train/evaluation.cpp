#include "greensed/train/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <future>

#include "greensed/core/error.hpp"
#include "greensed/data/labels.hpp"
#include "greensed/features/db_scaler.hpp"
#include "greensed/metrics/decode.hpp"
#include "greensed/metrics/psds_eval.hpp"
#include "greensed/metrics/sed_eval.hpp"
#include "greensed/metrics/weak_f1.hpp"

namespace greensed::train {
namespace {

std::vector<std::string> class_names() {
  return {data::kClassNames.begin(), data::kClassNames.end()};
}

std::string join_path(const std::string& folder, const std::string& file) {
  return (std::filesystem::path(folder) / file).string();
}

// The recipe evaluates only clips with at least one event (StronglyAnnotatedSet drops the
// empty-row clips with dropna, spec §1.3); they stay in the durations table.
void clips_with_events(const data::StrongSet& set, std::vector<std::string>& paths,
                       std::vector<std::string>& names) {
  for (const auto& clip : set.clips) {
    if (clip.events.empty()) continue;
    paths.push_back(join_path(set.folder, clip.filename));
    names.push_back(clip.filename);
  }
}

double intersection_dtc(const core::Config& config) {
  return config.run.f1_variant == "0.7" ? 0.7 : 0.5;
}

}  // namespace

void predict(model::Crnn& student, model::Crnn& teacher, data::FeatureSource& source,
             const std::vector<std::string>& paths, const std::vector<std::string>& filenames,
             int batch_size, const std::string& normtype, std::vector<ClipScores>& student_out,
             std::vector<ClipScores>& teacher_out) {
  GREENSED_CHECK(paths.size() == filenames.size(), "{} paths, {} names", paths.size(),
                 filenames.size());
  const int F = source.n_mels(), T = source.n_frames();
  const int K = student.n_classes(), T_out = student.frames_out(T);
  const auto norm = features::parse_normtype(normtype);
  const size_t n = paths.size(), step = size_t(batch_size);
  // One batch's network input: its clips from the cache, then dB, clamp and scaler.
  auto load_batch = [&](size_t first, std::vector<float>& x) {
    const int B = int(std::min(n - first, step));
    x.assign(size_t(B) * F * T, 0.0f);
    for (int b = 0; b < B; ++b)
      source.load(paths[first + b], std::span<float>(x.data() + size_t(b) * F * T, size_t(F) * T));
    features::network_input(x, B, norm);
  };
  std::vector<float> x, next;
  if (n > 0) load_batch(0, x);
  for (size_t first = 0; first < n; first += step) {
    const int B = int(std::min(n - first, step));
    // The next batch loads on a second thread while this one runs through both models (the
    // source is only ever used by one thread at a time: get() hands it back).
    std::future<void> pending;
    if (first + step < n)
      pending = std::async(std::launch::async, load_batch, first + step, std::ref(next));
    for (int m = 0; m < 2; ++m) {
      model::Crnn& net = m == 0 ? student : teacher;
      auto& out = m == 0 ? student_out : teacher_out;
      net.forward(x.data(), B, F, T, model::Mode::kEval, nullptr, false);
      for (int b = 0; b < B; ++b) {
        ClipScores s;
        s.filename = filenames[first + b];
        s.strong.assign(net.strong() + size_t(b) * K * T_out,
                        net.strong() + size_t(b + 1) * K * T_out);
        s.weak.assign(net.weak() + size_t(b) * K, net.weak() + size_t(b + 1) * K);
        out.push_back(std::move(s));
      }
    }
    if (pending.valid()) {
      pending.get();  // rethrows a load error (a missing or corrupt cache entry) here
      x.swap(next);
    }
  }
}

metrics::EventTable decode(const std::vector<ClipScores>& scores, int n_frames_out,
                           double threshold, int median_window, const core::Config& config,
                           const std::string& name) {
  const metrics::FrameGrid grid = metrics::frame_grid(config);
  const auto classes = class_names();
  const int K = int(classes.size());
  const int windows[1] = {median_window};
  metrics::EventTable table;
  table.source = name;
  std::vector<float> tk(size_t(n_frames_out) * K);
  for (const auto& clip : scores) {
    GREENSED_CHECK(clip.strong.size() == tk.size(), "{}: {} scores for [{}, {}]", clip.filename,
                   clip.strong.size(), K, n_frames_out);
    for (int k = 0; k < K; ++k) {
      for (int t = 0; t < n_frames_out; ++t)
        tk[size_t(t) * K + k] = clip.strong[size_t(k) * n_frames_out + t];
    }
    metrics::decode_clip(tk, n_frames_out, classes, windows, threshold, clip.filename, grid,
                         table.events);
    table.clips.push_back(clip.filename);
  }
  return table;
}

metrics::EventTable ground_truth(const data::StrongSet& set) {
  metrics::EventTable gt;
  gt.source = set.folder;
  for (const auto& clip : set.clips) {
    gt.clips.push_back(clip.filename);
    for (const auto& e : clip.events) {
      gt.events.push_back(
          {clip.filename, std::string(data::kClassNames[e.label]), e.onset, e.offset, 0});
    }
  }
  return gt;
}

metrics::Durations durations_of(const data::StrongSet& set) {
  metrics::Durations d;
  for (const auto& c : set.durations) d.emplace(c.filename, c.duration);
  return d;
}

ValidationMetrics validate(model::Crnn& student, model::Crnn& teacher, data::FeatureSource& source,
                           const data::StrongSet& synth_val, const data::WeakSet& weak_val,
                           const core::Config& config) {
  std::vector<std::string> paths, names;
  clips_with_events(synth_val, paths, names);
  const size_t n_synth = paths.size();
  for (const auto& clip : weak_val.clips) {
    paths.push_back(join_path(weak_val.folder, clip.filename));
    names.push_back(clip.filename);
  }
  std::vector<ClipScores> s_scores, t_scores;
  predict(student, teacher, source, paths, names, config.training.batch_size_val,
          config.scaler.normtype, s_scores, t_scores);
  const int T_out = student.frames_out(source.n_frames());
  const int K = student.n_classes();

  ValidationMetrics m;
  const std::vector<ClipScores> s_synth(s_scores.begin(), s_scores.begin() + n_synth);
  const std::vector<ClipScores> t_synth(t_scores.begin(), t_scores.begin() + n_synth);
  const double threshold = config.training.val_thresholds.front();
  const double dtc = intersection_dtc(config);
  const metrics::EventTable gt = ground_truth(synth_val);
  const metrics::PsdsEval eval(gt, durations_of(synth_val), {dtc, dtc, 0.3});
  const auto s_det =
      decode(s_synth, T_out, threshold, config.training.median_window, config, "student");
  const auto t_det =
      decode(t_synth, T_out, threshold, config.training.median_window, config, "teacher");
  m.synth_f1_student = metrics::desed_intersection_f1(eval, s_det);
  m.synth_f1_teacher = metrics::desed_intersection_f1(eval, t_det);

  metrics::WeakMacroF1 weak_s(K), weak_t(K);
  std::vector<float> target(K);
  for (size_t i = 0; i < weak_val.clips.size(); ++i) {
    data::ManyHotEncoder::encode_weak(weak_val.clips[i].labels, target);
    weak_s.update(s_scores[n_synth + i].weak, target);
    weak_t.update(t_scores[n_synth + i].weak, target);
  }
  m.weak_f1_student = weak_s.compute();
  m.weak_f1_teacher = weak_t.compute();
  double synth_obj = m.synth_f1_student;
  if (config.training.obj_metric_synth_type == "event") {
    const double f = metrics::event_based_metrics(gt, s_det).macro.f1;
    synth_obj = std::isnan(f) ? 0.0 : f;
  }
  m.obj = m.weak_f1_student + synth_obj;
  return m;
}

TestMetrics test_scores(const std::vector<ClipScores>& scores, const data::StrongSet& test_set,
                        const core::Config& config) {
  GREENSED_CHECK(!scores.empty(), "no test scores");
  const int K = int(data::kNumClasses);
  const int T_out = int(scores.front().strong.size()) / K;
  const metrics::EventTable gt = ground_truth(test_set);
  const metrics::Durations dur = durations_of(test_set);
  TestMetrics r;
  r.n_clips = int(scores.size());
  metrics::PsdsEval s1(gt, dur, metrics::PsdsParams::scenario1().criteria);
  metrics::PsdsEval s2(gt, dur, metrics::PsdsParams::scenario2().criteria);
  for (double th : metrics::desed_test_thresholds(config.training.n_test_thresholds)) {
    const auto det = decode(scores, T_out, th, config.training.median_window, config,
                            fmt::format("test@{}", th));
    s1.add_operating_point(det);
    s2.add_operating_point(det);
  }
  const auto p1 = metrics::PsdsParams::scenario1(), p2 = metrics::PsdsParams::scenario2();
  r.psds1 = s1.psds(p1.alpha_ct, p1.alpha_st, p1.max_efpr).value;
  r.psds2 = s2.psds(p2.alpha_ct, p2.alpha_st, p2.max_efpr).value;
  const auto det05 = decode(scores, T_out, 0.5, config.training.median_window, config, "test@0.5");
  const metrics::PsdsEval inter(gt, dur, {0.5, 0.5, 0.3});
  r.intersection_f1 = metrics::desed_intersection_f1(inter, det05);
  const double ef1 = metrics::event_based_metrics(gt, det05).macro.f1;
  r.event_f1 = std::isnan(ef1) ? 0.0 : ef1;
  return r;
}

}  // namespace greensed::train
