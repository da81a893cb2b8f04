// Threshold-free intersection-based PSDS from frame scores with sed_scores_eval semantics
// (spec/metrics.md §6): every distinct score of a clip acts as a decision threshold (detect
// score >= tau), statistics are exact integer counts accumulated over clips, intersections are
// compared after np.round(x, 6), and the PSD-ROC is the staircase over all change points.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "greensed/metrics/events.hpp"
#include "greensed/metrics/psds_eval.hpp"
#include "greensed/metrics/scores.hpp"

namespace greensed::metrics {

struct SedScoresPsds {
  double value = 0.0;
  std::vector<std::string> classes;
  std::vector<double> per_class;   // [K] single-class PSDS
  std::vector<double> efpr, etpr;  // the multi-class PSD-ROC (max_efpr appended)
};

// sed_scores_eval.intersection_based.psds. `scores` define the classes (every clip must have the
// same columns); every class needs ground truth. Clip ids must match between the scores (audio_id)
// and the ground truth / durations (filename without extension). cttc: std::nullopt for
// scenario 1 (alpha_ct = 0), a value otherwise. Throws core::InputError on mismatches.
SedScoresPsds sed_scores_psds(const std::vector<ClipScores>& scores, const EventTable& ground_truth,
                              const Durations& durations, double dtc, double gtc,
                              std::optional<double> cttc, double alpha_ct, double alpha_st,
                              double max_efpr);

// DESED's compute_psds_from_scores: clips without ground-truth events are dropped from scores,
// ground truth and durations first; scenario 1 uses cttc = None.
SedScoresPsds desed_sed_scores_psds(const std::vector<ClipScores>& scores,
                                    const EventTable& ground_truth, const Durations& durations,
                                    const PsdsParams& params);

}  // namespace greensed::metrics
