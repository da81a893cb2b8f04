// Every case of tests/data/metrics (computed by psds_eval 0.5.3 and sed_eval 0.2.1, see the README
// there) against greensed's metrics: counts exactly; psds_eval rates, F-scores and PSDS to the last
// bit (spec §9 order); sed_eval scores within 1e-12 (its class order is Python's set order, which
// moves the last bit of macro means); and the errors psds_eval raises.
#include <gtest/gtest.h>

#include <map>

#include "fixture_util.hpp"
#include "greensed/core/error.hpp"
#include "greensed/metrics/psds_eval.hpp"
#include "greensed/metrics/sed_eval.hpp"
#include "greensed/metrics/tsv.hpp"

namespace greensed::metrics::testing {
namespace {

using nlohmann::json;

struct Case {
  json expected;
  EventTable gt;
  Durations durations;
  std::map<std::string, EventTable> tables;  // threshold key as in the JSON ("0.5")
  std::string f1_key;
};

Case load_case(const std::string& name) {
  Case c;
  const std::string dir = case_dir(name);
  c.expected = load_json(dir + "/expected.json");
  const json in = load_json(dir + "/case.json");
  c.gt = read_event_table(dir + "/gt.tsv");
  c.durations = read_durations(dir + "/durations.tsv");
  for (const auto& [key, path] : in["operating_points"].items()) {
    c.tables[key] = read_event_table(dir + "/" + path.get<std::string>());
  }
  const double f1_th = in["f1_threshold"].get<double>();
  for (const auto& [key, _] : c.tables) {
    if (std::stod(key) == f1_th) c.f1_key = key;
  }
  EXPECT_FALSE(c.f1_key.empty()) << name;
  return c;
}

IntersectionCriteria criteria_of(const std::string& key) {
  return key.rfind("dtc0.5", 0) == 0 ? IntersectionCriteria{0.5, 0.5, 0.3}
                                     : IntersectionCriteria{0.7, 0.7, 0.3};
}

void expect_psds_eval_error(const json& e, const std::function<void()>& f,
                            const std::string& what) {
  ASSERT_EQ(e["error"], "PSDSEvalError") << what;
  try {
    f();
    ADD_FAILURE() << what << ": expected an InputError (" << e["message"] << ")";
  } catch (const core::InputError& err) {
    EXPECT_NE(std::string(err.what()).find("overlaps the"), std::string::npos) << err.what();
  }
}

class MetricFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(MetricFixture, IntersectionF1AndOperatingPoints) {
  const Case c = load_case(GetParam());
  for (const auto& [ckey, block] : c.expected["psds_eval"]["intersection_f1"].items()) {
    const auto criteria = criteria_of(ckey);
    for (const auto& [th, e] : block["per_threshold"].items()) {
      const std::string what = GetParam() + " " + ckey + " @" + th;
      if (e.contains("error")) {
        expect_psds_eval_error(
            e,
            [&] {
              PsdsEval eval(c.gt, c.durations, criteria);
              eval.macro_f1(c.tables.at(th));
            },
            what);
        continue;
      }
      const PsdsEval eval(c.gt, c.durations, criteria);
      const OperatingPoint op = eval.evaluate(c.tables.at(th));
      const IntersectionF1 f = PsdsEval::macro_f1(op, eval.n_gt());
      expect_exact(e["macro_f1_nanmean"], f.macro, what + " macro");
      const auto& classes = eval.classes();
      const size_t C = classes.size();
      ASSERT_EQ(e["per_class_f1"].size(), C) << what;
      const json& detail = e["operating_point_detail"];
      expect_exact(detail["dataset_duration"], eval.dataset_duration(), what + " T_data");
      for (size_t i = 0; i < C; ++i) {
        const std::string cls = classes[i];
        ASSERT_EQ(detail["classes"][i], cls) << what;
        expect_exact(e["per_class_f1"][cls], f.f1[i], what + " F " + cls);
        const json& n = e["per_class_tp_fp_fn"][cls];
        expect_count(n["tp"], f.tp[i], what + " tp " + cls);
        expect_count(n["fp"], f.fp[i], what + " fp " + cls);
        expect_exact(n["fn"], f.fn[i], what + " fn " + cls);
        expect_count(n["n_gt"], double(eval.n_gt()[i]), what + " n_gt " + cls);
        const json& pc = detail["per_class"][cls];
        expect_exact(pc["tpr"], op.tpr[i], what + " tpr " + cls);
        expect_exact(pc["fpr_per_hour"], op.fpr[i], what + " fpr " + cls);
        expect_exact(pc["gt_duration"], eval.class_durations()[i], what + " T_k " + cls);
        const json& row = detail["counts_matrix_rows_det_cols_gt_plus_world"][i];
        for (size_t k = 0; k < C; ++k) {
          const double count = k == i ? double(op.tp[i]) : double(op.ct[i * C + k]);
          expect_count(row[k], count, what + " counts " + cls + "->" + classes[k]);
          if (k == i) continue;
          expect_exact(pc["ctr_per_hour"][classes[k]], op.ctr[i * C + k],
                       what + " ctr " + cls + "->" + classes[k]);
        }
        expect_count(row[C], double(op.fp[i]), what + " WORLD " + cls);
      }
    }
    const json& desed = block["desed_compute_per_intersection_macro_f1_at_f1_threshold"];
    if (!desed.contains("error")) {
      const PsdsEval eval(c.gt, c.durations, criteria);
      expect_exact(desed, desed_intersection_f1(eval, c.tables.at(c.f1_key)),
                   GetParam() + " desed F1 " + ckey);
    }
  }
}

TEST_P(MetricFixture, Psds) {
  const Case c = load_case(GetParam());
  for (const auto& [name, e] : c.expected["psds_eval"]["psds"].items()) {
    const json& p = e["params"];
    const IntersectionCriteria criteria{p["dtc_threshold"].get<double>(),
                                        p["gtc_threshold"].get<double>(),
                                        p["cttc_threshold"].get<double>()};
    const double alpha_ct = p["alpha_ct"].get<double>(), alpha_st = p["alpha_st"].get<double>(),
                 max_efpr = p["max_efpr"].get<double>();
    const std::string what = GetParam() + " " + name;
    auto run = [&] {
      PsdsEval eval(c.gt, c.durations, criteria);
      for (const auto& [th, table] : c.tables) eval.add_operating_point(table);
      return std::make_pair(eval.psds(alpha_ct, alpha_st, max_efpr),
                            int(eval.operating_points().size()));
    };
    if (e.contains("error")) {
      expect_psds_eval_error(
          e, [&] { run(); }, what);
      continue;
    }
    const auto [r, n_ops] = run();
    expect_exact(e["value"], r.value, what + " PSDS");
    EXPECT_EQ(e["n_operating_points_kept"].get<int>(), n_ops) << what;
    const json& roc = e["psd_roc"];
    ASSERT_EQ(roc["efpr"].size(), r.roc.efpr.size()) << what;
    for (size_t j = 0; j < r.roc.efpr.size(); ++j) {
      const std::string at = what + " roc[" + std::to_string(j) + "]";
      expect_exact(roc["efpr"][j], r.roc.efpr[j], at + " efpr");
      expect_exact(roc["etpr"][j], r.roc.etpr[j], at + " etpr");
      expect_exact(roc["mean_tpr"][j], r.roc.mean[j], at + " mean");
      expect_exact(roc["std_tpr"][j], r.roc.std[j], at + " std");
    }
  }
}

void expect_sed_eval(const json& e, const SedEvalResult& r, bool segment, const std::string& what) {
  expect_value(e["macro_f1"], r.macro.f1, what + " macro F");
  expect_value(e["macro_precision"], r.macro.precision, what + " macro P");
  expect_value(e["macro_recall"], r.macro.recall, what + " macro R");
  expect_value(e["macro_error_rate"], r.macro.error_rate, what + " macro ER");
  expect_value(e["micro_f1"], r.micro.f1, what + " micro F");
  expect_value(e["micro_precision"], r.micro.precision, what + " micro P");
  expect_value(e["micro_recall"], r.micro.recall, what + " micro R");
  expect_value(e["micro_error_rate"], r.micro.error_rate, what + " micro ER");
  expect_value(e["micro_substitution_rate"], r.micro.substitution_rate, what + " micro S");
  expect_value(e["micro_deletion_rate"], r.micro.deletion_rate, what + " micro D");
  expect_value(e["micro_insertion_rate"], r.micro.insertion_rate, what + " micro I");
  const json& o = e["overall_counts"];
  expect_count(o["Nref"], r.overall.n_ref, what + " Nref");
  expect_count(o["Nsys"], r.overall.n_sys, what + " Nsys");
  expect_count(o["Ntp"], r.overall.n_tp, what + " Ntp");
  expect_count(o["Nfp"], r.overall.n_fp, what + " Nfp");
  expect_count(o["Nfn"], r.overall.n_fn, what + " Nfn");
  if (segment) {
    expect_count(o["Ntn"], r.overall.n_tn, what + " Ntn");
    expect_count(o["S"], r.overall.n_subs, what + " S");
    expect_count(o["D"], r.overall.n_del, what + " D");
    expect_count(o["I"], r.overall.n_ins, what + " I");
  } else {
    expect_count(o["Nsubs"], r.overall.n_subs, what + " Nsubs");
  }
  std::vector<std::string> expected_classes;
  for (const auto& [cls, _] : e["per_class"].items()) expected_classes.push_back(cls);
  std::sort(expected_classes.begin(), expected_classes.end());
  ASSERT_EQ(expected_classes, r.classes) << what;
  for (size_t i = 0; i < r.classes.size(); ++i) {
    const json& pc = e["per_class"][r.classes[i]];
    const std::string at = what + " " + r.classes[i];
    expect_value(pc["f1"], r.class_scores[i].f1, at + " F");
    expect_value(pc["precision"], r.class_scores[i].precision, at + " P");
    expect_value(pc["recall"], r.class_scores[i].recall, at + " R");
    expect_value(pc["error_rate"], r.class_scores[i].error_rate, at + " ER");
    const json& n = pc["counts"];
    const SedEvalCounts& k = r.class_counts[i];
    expect_count(n["Nref"], k.n_ref, at + " Nref");
    expect_count(n["Nsys"], k.n_sys, at + " Nsys");
    expect_count(n["Ntp"], k.n_tp, at + " Ntp");
    expect_count(n["Nfp"], k.n_fp, at + " Nfp");
    expect_count(n["Nfn"], k.n_fn, at + " Nfn");
    if (segment) expect_count(n["Ntn"], k.n_tn, at + " Ntn");
  }
}

TEST_P(MetricFixture, SedEval) {
  const Case c = load_case(GetParam());
  const json& e = c.expected["sed_eval"];
  const EventTable& det = c.tables.at(c.f1_key);
  const auto event = event_based_metrics(c.gt, det);
  const auto segment = segment_based_metrics(c.gt, det);
  expect_sed_eval(e["event_based"], event, false, GetParam() + " event");
  expect_sed_eval(e["segment_based"], segment, true, GetParam() + " segment");
  const json& desed = e["desed_log_sedeval_metrics"];
  expect_value(desed[0], event.macro.f1, "desed event macro");
  expect_value(desed[1], event.micro.f1, "desed event micro");
  expect_value(desed[2], segment.macro.f1, "desed segment macro");
  expect_value(desed[3], segment.micro.f1, "desed segment micro");
}

INSTANTIATE_TEST_SUITE_P(Cases, MetricFixture,
                         ::testing::Values("case_a_basic", "case_b_empty_and_missing",
                                           "case_c_boundaries", "case_d1_gt_overlap_same_class",
                                           "case_d2_det_overlap_same_class",
                                           "case_d3_touching_same_class",
                                           "external_psds_eval_dcase2019_example"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace greensed::metrics::testing

namespace greensed::metrics::testing {
namespace {

// psds_eval's own unit-test tables (one operating point each, 0.5/0.5/0.3, alpha 0, max 100),
// whose PSDS values its tests assert.
class PsdsEvalUnitTables : public ::testing::TestWithParam<std::string> {};

TEST_P(PsdsEvalUnitTables, CountsRatesF1AndPsds) {
  const std::string dir = case_dir("external_psds_eval_dcase2019_example");
  const auto e = load_json(dir + "/expected.json")["psds_eval_unit_test_tables"][GetParam()];
  const std::string tables = dir + "/psds_eval_unit_test_tables/";
  auto base = [](const nlohmann::json& path) {
    const auto s = path.get<std::string>();
    return s.substr(s.rfind('/') + 1);
  };
  const EventTable gt = read_event_table(tables + base(e["files"]["ground_truth"]));
  const EventTable det = read_event_table(tables + base(e["files"]["detections"]));
  const Durations durations = read_durations(tables + base(e["files"]["metadata"]));
  PsdsEval eval(gt, durations, {0.5, 0.5, 0.3});
  ASSERT_TRUE(eval.add_operating_point(det));
  const OperatingPoint& op = eval.operating_points()[0];
  const size_t C = eval.classes().size();
  ASSERT_EQ(e["tpr"].size(), C);
  for (size_t i = 0; i < C; ++i) {
    const std::string at = GetParam() + " " + eval.classes()[i];
    expect_exact(e["tpr"][i], op.tpr[i], at + " tpr");
    expect_exact(e["fpr"][i], op.fpr[i], at + " fpr");
    for (size_t k = 0; k < C; ++k) {
      expect_count(e["counts"][i][k], double(k == i ? op.tp[i] : op.ct[i * C + k]), at + " counts");
      expect_exact(e["ctr"][i][k], op.ctr[i * C + k], at + " ctr");
    }
    expect_count(e["counts"][i][C], double(op.fp[i]), at + " WORLD");
  }
  const IntersectionF1 f = eval.macro_f1(det);
  expect_exact(e["f1"]["macro_f1_nanmean"], f.macro, GetParam() + " F1");
  expect_exact(e["psds_dtc0.5_gtc0.5_cttc0.3_ct0_st0_max100"], eval.psds(0.0, 0.0, 100.0).value,
               GetParam() + " PSDS");
}

INSTANTIATE_TEST_SUITE_P(Tables, PsdsEvalUnitTables,
                         ::testing::Values("test_1.det", "test_2.det", "test_3.det", "test_4.det",
                                           "Y23R6_ppquxs_247.000_257000.det"),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.find('.'));
                           return name;
                         });

}  // namespace
}  // namespace greensed::metrics::testing
