// Intersection-based evaluation with psds_eval 0.5.3 semantics (spec/metrics.md §3-5):
// DTC/GTC/CTTC matching, per-class TP/FP/cross-trigger counts, the macro F-score with psds_eval's
// NaN rule, and the PSD-ROC / PSDS over a set of operating points. Sums follow pandas' and numpy's
// order (§9), so results equal the reference to the last bit.
//
// Typical use (DESED test): one PsdsEval per scenario; add_operating_point() for each decoded
// table; psds(). Training calls macro_f1() on the table decoded at threshold 0.5 every epoch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "greensed/metrics/events.hpp"

namespace greensed::metrics {

struct IntersectionCriteria {
  double dtc = 0.5;   // detection tolerance criterion
  double gtc = 0.5;   // ground-truth intersection criterion
  double cttc = 0.3;  // cross-trigger tolerance criterion
};

// PSDS parameters; the DCASE scenarios are the named presets.
struct PsdsParams {
  IntersectionCriteria criteria;
  double alpha_ct = 0.0;
  double alpha_st = 0.0;
  double max_efpr = 100.0;  // per hour

  static PsdsParams scenario1() { return {{0.7, 0.7, 0.3}, 0.0, 1.0, 100.0}; }
  static PsdsParams scenario2() { return {{0.1, 0.1, 0.3}, 0.5, 1.0, 100.0}; }
};

// Result of matching one detection table against the ground truth. C classes (sorted labels of
// the ground truth).
struct OperatingPoint {
  std::vector<int64_t> tp;  // [C]
  std::vector<int64_t> fp;  // [C] detections failing the DTC that overlap their clip
  std::vector<int64_t> ct;  // [C, C] ct[c*C + k]: detections of c cross-triggering on k
  std::vector<double> tpr;  // [C] tp / n_gt
  std::vector<double> fpr;  // [C] (fp * 3600) / dataset duration
  std::vector<double> ctr;  // [C, C] (ct * 3600) / duration of class k; NaN on the diagonal
};

// Macro F-score of one table (psds_eval compute_macro_f_score, beta = 1).
struct IntersectionF1 {
  double macro = 0.0;              // nanmean over classes; NaN when every class is NaN
  std::vector<double> f1;          // [C]; NaN where tp = 0 (psds_eval: num_gts = 0/0)
  std::vector<double> tp, fp, fn;  // [C] counts; fn = n_gt - tp. F itself uses psds_eval's
                                   // literal fn = tp / (tp / n_gt) - tp (not always an integer)
};

struct PsdRoc {
  std::vector<double> efpr;  // the common grid (sorted distinct eFPR values, 0 first)
  std::vector<double> etpr;  // max(mean - alpha_st * std, 0)
  std::vector<double> mean, std;
};

struct PsdsResult {
  double value = 0.0;
  PsdRoc roc;
  int n_operating_points = 0;  // kept (duplicates skipped), without the appended zero point
};

class PsdsEval {
 public:
  // Validates the ground truth (onset <= offset, no same-class overlap; throws core::InputError
  // naming the source and line) and indexes it. Clips with a duration contribute their WORLD
  // event; ground truth of clips without a duration is still counted.
  PsdsEval(const EventTable& ground_truth, const Durations& durations,
           IntersectionCriteria criteria = {});
  ~PsdsEval();
  PsdsEval(PsdsEval&&) noexcept;
  PsdsEval& operator=(PsdsEval&&) noexcept;

  const std::vector<std::string>& classes() const;
  const std::vector<int64_t>& n_gt() const;            // [C] events per class
  double dataset_duration() const;                     // seconds (sum of WORLD durations)
  const std::vector<double>& class_durations() const;  // [C] summed ground-truth lengths
  const IntersectionCriteria& criteria() const;

  // Matches one table (validated like the ground truth; labels outside the classes and clips
  // without a duration are ignored as psds_eval does).
  OperatingPoint evaluate(const EventTable& detections) const;
  IntersectionF1 macro_f1(const EventTable& detections) const;
  static IntersectionF1 macro_f1(const OperatingPoint& op, const std::vector<int64_t>& n_gt);

  // Adds an operating point; returns false (and keeps nothing) when an identical table (same rows
  // in any order, after dropping zero-length events) was already added, as psds_eval does.
  bool add_operating_point(const EventTable& detections);
  const std::vector<OperatingPoint>& operating_points() const;
  PsdsResult psds(double alpha_ct, double alpha_st, double max_efpr) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// PSD-ROC and PSDS from per-class rates (psds_eval.psds): the operating points plus an all-zero
// point; eFPR = FPR + alpha_ct * nanmean_k CTR. Usable without a PsdsEval.
PsdsResult psds_from_operating_points(const std::vector<OperatingPoint>& ops, int n_classes,
                                      double alpha_ct, double alpha_st, double max_efpr);

// DESED compute_per_intersection_macro_f1 for one table: empty table -> 0, NaN -> 0.
double desed_intersection_f1(const PsdsEval& eval, const EventTable& detections);

}  // namespace greensed::metrics
