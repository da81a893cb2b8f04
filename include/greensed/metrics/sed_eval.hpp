// Collar-based (event) and segment-based metrics with sed_eval 0.2.1 semantics as DESED calls it
// (spec/metrics.md §7-8): evaluated clips are those listed in the ground truth (with or without
// events); classes are the sorted union of ground-truth and detection labels.
#pragma once

#include <string>
#include <vector>

#include "greensed/metrics/events.hpp"

namespace greensed::metrics {

struct SedEvalCounts {
  double n_ref = 0, n_sys = 0, n_tp = 0, n_tn = 0, n_fp = 0, n_fn = 0;
  double n_subs = 0;            // overall only: substitutions (event) or S (segment)
  double n_del = 0, n_ins = 0;  // overall segment-based D and I
};

struct SedEvalScores {
  double f1 = 0, precision = 0, recall = 0, error_rate = 0;
  double substitution_rate = 0, deletion_rate = 0, insertion_rate = 0;
};

struct SedEvalResult {
  std::vector<std::string> classes;
  std::vector<SedEvalCounts> class_counts;  // [C]
  std::vector<SedEvalScores> class_scores;  // [C]
  SedEvalCounts overall;
  SedEvalScores micro;  // from the pooled counts ("overall")
  SedEvalScores macro;  // nanmean over classes of f1, precision, recall, error rates (each alone)
};

// EventBasedMetrics(t_collar, percentage_of_length, empty_system_output_handling='zero_score',
// onset and offset evaluated, optimal matching). Event order within a clip follows the tables.
SedEvalResult event_based_metrics(const EventTable& ground_truth, const EventTable& detections,
                                  double t_collar = 0.2, double percentage_of_length = 0.2);

// SegmentBasedMetrics(time_resolution); precision is NaN when a class has no output.
SedEvalResult segment_based_metrics(const EventTable& ground_truth, const EventTable& detections,
                                    double time_resolution = 1.0);

}  // namespace greensed::metrics
