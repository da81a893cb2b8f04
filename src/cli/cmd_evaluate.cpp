// greensed evaluate: detection tables or frame scores -> intersection F1, PSDS (psds_eval and
// sed_scores_eval semantics), collar- and segment-based F1, as the DESED baseline reports them.
#include <fmt/core.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/metrics/decode.hpp"
#include "greensed/metrics/psds_eval.hpp"
#include "greensed/metrics/sed_eval.hpp"
#include "greensed/metrics/sed_scores.hpp"
#include "greensed/metrics/tsv.hpp"

namespace greensed::cli {
namespace {

using core::InputError;
using nlohmann::json;
namespace m = metrics;

struct Table {
  double threshold;
  m::EventTable events;
};

std::vector<int> parse_windows(const std::string& text) {
  std::vector<int> windows;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      const int w = std::stoi(item, &used);
      if (used != item.size() || w < 1) throw std::invalid_argument(item);
      windows.push_back(w);
    } catch (const std::logic_error&) {
      throw InputError(fmt::format(
          "greensed evaluate: --median-filter expects a window length >= 1 or one per class "
          "separated by commas (e.g. 7 or 3,9,9,5,...); found '{}'",
          text));
    }
  }
  if (windows.empty()) throw InputError("greensed evaluate: --median-filter is empty");
  return windows;
}

m::PsdsParams parse_psds_params(const std::string& text) {
  std::vector<double> v;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::logic_error&) {
      v.clear();
      break;
    }
  }
  if (v.size() != 6) {
    throw InputError(fmt::format(
        "greensed evaluate: --psds-params expects six numbers DTC,GTC,CTTC,ALPHA_CT,ALPHA_ST,"
        "MAX_EFPR (e.g. 0.5,0.5,0.3,0,0,100); found '{}'",
        text));
  }
  return {{v[0], v[1], v[2]}, v[3], v[4], v[5]};
}

json number(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

// Strict checks on a detection table beyond psds_eval's (which silently ignores these rows).
void check_detections(const m::EventTable& t, const std::set<std::string>& classes,
                      const m::Durations& durations, const std::string& durations_path) {
  for (const m::Event& e : t.events) {
    if (!classes.count(e.label)) {
      throw InputError(
          fmt::format("{}:{}: unknown class '{}' (ground-truth classes: {}); fix the label "
                      "or add events of that class to the ground truth",
                      t.source, e.line, e.label, fmt::join(classes, ", ")));
    }
    if (!durations.count(e.filename)) {
      throw InputError(fmt::format(
          "{}:{}: clip '{}' is not in the durations file {}; every clip with detections needs a "
          "duration",
          t.source, e.line, e.filename, durations_path));
    }
  }
}

// The table rules `greensed train` applies (data/tables.hpp): exact duplicate rows merged with a
// warning (counting them twice would double the ground truth), then same-class overlaps rejected or
// merged as psds_eval needs.
void validate(m::EventTable& t, bool merge) {
  std::string example;
  if (const int n = m::drop_duplicate_events(t, &example); n > 0) {
    spdlog::warn("[metrics] {}: {} exact duplicate row(s) merged ({}), as greensed train does",
                 t.source, n, example);
  }
  if (merge) {
    m::merge_overlapping_events(t);
  } else {
    m::validate_events(t);
  }
}

int run_evaluate(const std::vector<std::string>& args) {
  std::string gt_path, durations_path, scores_dir, json_path, median = "7";
  std::vector<std::string> detection_paths;
  double f1_threshold = 0.5;
  bool merge = false;
  std::string custom;
  ArgParser parser("evaluate",
                   "intersection F1, PSDS1/2, collar and segment F1 from detections or scores");
  parser.option("--ground-truth", &gt_path, "GT.tsv",
                "ground truth: filename onset offset event_label (required)");
  parser.option("--durations", &durations_path, "DUR.tsv",
                "clip durations: filename duration (required)");
  parser.multi("--detections", &detection_paths, "FILE...",
               "detection tables, each named with its threshold as the last number "
               "(predictions_th_0.50.tsv)");
  parser.option("--scores", &scores_dir, "DIR",
                "one score tsv per clip (onset offset <classes>), as greensed infer writes");
  parser.option("--median-filter", &median, "N[,N...]",
                "median window in frames, one for all classes or one per class (scores only; "
                "default 7)");
  parser.option("--f1-threshold", &f1_threshold, "T",
                "decision threshold of the F1 scores (default 0.5)");
  parser.option("--json", &json_path, "OUT.json", "also write the results as JSON");
  parser.option(
      "--psds-params", &custom, "DTC,GTC,CTTC,ACT,AST,MAX",
      "also report 'psds_custom' with these psds_eval parameters (e.g. 0.5,0.5,0.3,0,0,100)");
  parser.flag("--merge-overlaps", &merge,
              "merge overlapping same-class events instead of rejecting them");
  if (!parser.parse(args)) return kExitOk;
  parser.require("--ground-truth GT.tsv", !gt_path.empty());
  parser.require("--durations DUR.tsv", !durations_path.empty());
  if (detection_paths.empty() == scores_dir.empty()) {
    throw InputError(
        "greensed evaluate: give either --detections FILE... or --scores DIR (see "
        "greensed evaluate --help)");
  }

  m::EventTable gt = m::read_event_table(gt_path);
  if (gt.events.empty()) {
    throw InputError(fmt::format(
        "{}: the ground truth has no events ({} clip(s) listed, none with an event); metrics need "
        "at least one labelled event: check that --ground-truth names the right file",
        gt_path, gt.clips.size()));
  }
  validate(gt, merge);
  const m::Durations durations = m::read_durations(durations_path);
  m::check_events_inside_clips(gt, durations, durations_path);
  std::set<std::string> classes;
  std::vector<m::RequiredClass> required;
  for (const m::Event& e : gt.events) {
    if (classes.insert(e.label).second)
      required.push_back({e.label, fmt::format("{}:{}", gt_path, e.line)});
  }

  std::vector<Table> ops;  // operating points for psds_eval
  std::optional<m::EventTable> f1_table;
  std::vector<m::ClipScores> filtered;
  if (!detection_paths.empty()) {
    for (const auto& path : detection_paths) {
      Table t{m::threshold_from_filename(path), m::read_event_table(path)};
      check_detections(t.events, classes, durations, durations_path);
      validate(t.events, merge);
      m::check_events_inside_clips(t.events, durations, durations_path);
      if (std::fabs(t.threshold - f1_threshold) < 1e-9) f1_table = t.events;
      ops.push_back(std::move(t));
    }
  } else {
    const auto clips = m::read_scores_dir(scores_dir, required);
    for (const auto& clip : clips) {
      if (!durations.count(clip.audio_id + ".wav")) {
        throw InputError(fmt::format("{}: clip '{}.wav' is not in the durations file {}",
                                     clip.source, clip.audio_id, durations_path));
      }
    }
    filtered = m::postprocess_scores(clips, parse_windows(median));
    auto thresholds = m::desed_test_thresholds();
    auto tables = m::decode_tables(filtered, thresholds);
    for (size_t i = 0; i < thresholds.size(); ++i)
      ops.push_back({thresholds[i], std::move(tables[i])});
    const double th[] = {f1_threshold};
    f1_table = std::move(m::decode_tables(filtered, th)[0]);
  }
  spdlog::info("[metrics] {} ground-truth events in {} clips, {} classes, {} operating points",
               gt.events.size(), gt.clips.size(), classes.size(), ops.size());

  json out;
  json per_class = json::object();
  // Intersection F1 at the F1 threshold (DESED: empty table -> 0, NaN -> 0).
  for (const auto& [key, criteria] :
       {std::pair<std::string, m::IntersectionCriteria>{"intersection_f1_macro", {0.5, 0.5, 0.3}},
        {"intersection_f1_macro_0.7", {0.7, 0.7, 0.3}}}) {
    if (!f1_table) {
      out[key] = nullptr;
      continue;
    }
    const m::PsdsEval eval(gt, durations, criteria);
    out[key] = number(m::desed_intersection_f1(eval, *f1_table));
    const auto f = eval.macro_f1(*f1_table);
    for (size_t c = 0; c < eval.classes().size(); ++c) {
      json& pc = per_class[eval.classes()[c]];
      const std::string suffix = key.substr(std::string("intersection_f1_macro").size());
      pc["intersection_f1" + suffix] = number(f.f1[c]);
      if (suffix.empty()) {
        pc["tp"] = f.tp[c];
        pc["fp"] = f.fp[c];
        pc["fn"] = f.fn[c];
        pc["n_gt"] = eval.n_gt()[c];
      }
    }
  }
  for (const auto& [key, params] :
       {std::pair<std::string, m::PsdsParams>{"psds1", m::PsdsParams::scenario1()},
        {"psds2", m::PsdsParams::scenario2()}}) {
    m::PsdsEval eval(gt, durations, params.criteria);
    for (const Table& t : ops) eval.add_operating_point(t.events);
    const auto r = eval.psds(params.alpha_ct, params.alpha_st, params.max_efpr);
    out[key] = number(r.value);
    out["details"][key] = {{"n_operating_points", r.n_operating_points},
                           {"psd_roc", {{"efpr", r.roc.efpr}, {"etpr", r.roc.etpr}}}};
  }
  if (!custom.empty()) {
    const auto p = parse_psds_params(custom);
    m::PsdsEval eval(gt, durations, p.criteria);
    for (const Table& t : ops) eval.add_operating_point(t.events);
    out["psds_custom"] = number(eval.psds(p.alpha_ct, p.alpha_st, p.max_efpr).value);
    out["details"]["psds_custom"] = {{"dtc", p.criteria.dtc},   {"gtc", p.criteria.gtc},
                                     {"cttc", p.criteria.cttc}, {"alpha_ct", p.alpha_ct},
                                     {"alpha_st", p.alpha_st},  {"max_efpr", p.max_efpr}};
  }
  if (!f1_table) {
    out["event_f1_macro"] = nullptr;
    out["segment_f1_macro"] = nullptr;
    spdlog::warn("[metrics] no detection table at the F1 threshold {}; F1 scores are null",
                 f1_threshold);
  } else if (f1_table->events.empty()) {
    out["event_f1_macro"] = 0.0;  // DESED log_sedeval_metrics on an empty table
    out["segment_f1_macro"] = 0.0;
  } else {
    const auto event = m::event_based_metrics(gt, *f1_table);
    const auto segment = m::segment_based_metrics(gt, *f1_table);
    out["event_f1_macro"] = number(event.macro.f1);
    out["segment_f1_macro"] = number(segment.macro.f1);
    out["details"]["event_f1_micro"] = number(event.micro.f1);
    out["details"]["event_error_rate_micro"] = number(event.micro.error_rate);
    out["details"]["segment_f1_micro"] = number(segment.micro.f1);
    out["details"]["segment_error_rate_micro"] = number(segment.micro.error_rate);
    for (size_t c = 0; c < event.classes.size(); ++c) {
      per_class[event.classes[c]]["event_f1"] = number(event.class_scores[c].f1);
    }
    for (size_t c = 0; c < segment.classes.size(); ++c) {
      per_class[segment.classes[c]]["segment_f1"] = number(segment.class_scores[c].f1);
    }
  }
  if (!filtered.empty()) {
    for (const auto& [key, params] :
         {std::pair<std::string, m::PsdsParams>{"psds1_sed_scores", m::PsdsParams::scenario1()},
          {"psds2_sed_scores", m::PsdsParams::scenario2()}}) {
      const auto r = m::desed_sed_scores_psds(filtered, gt, durations, params);
      out[key] = number(r.value);
      for (size_t c = 0; c < r.classes.size(); ++c)
        per_class[r.classes[c]][key] = number(r.per_class[c]);
    }
  }
  out["details"]["f1_threshold"] = f1_threshold;
  out["details"]["thresholds"] = json::array();
  for (const Table& t : ops) out["details"]["thresholds"].push_back(t.threshold);
  out["per_class"] = per_class;

  std::vector<std::string> keys = {
      "intersection_f1_macro", "intersection_f1_macro_0.7", "psds1", "psds2",
      "event_f1_macro",        "segment_f1_macro"};
  if (!custom.empty()) keys.push_back("psds_custom");
  if (!filtered.empty()) {
    keys.push_back("psds1_sed_scores");
    keys.push_back("psds2_sed_scores");
  }
  fmt::print("{:<28} {}\n", "metric", "value");
  for (const auto& k : keys) {
    fmt::print("{:<28} {}\n", k,
               out[k].is_null() ? std::string("n/a") : fmt::format("{:.6f}", out[k].get<double>()));
  }
  if (!json_path.empty()) {
    core::write_file_atomic(json_path, out.dump(1) + "\n");
    spdlog::info("[metrics] wrote {}", json_path);
  }
  return kExitOk;
}

const Registrar registrar({"evaluate",
                           "intersection F1, PSDS, collar and segment F1 of detections or scores",
                           run_evaluate});

}  // namespace
}  // namespace greensed::cli
