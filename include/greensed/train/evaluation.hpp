// Evaluation of the student and the teacher in eval mode: frame and clip scores for a list of
// clips, and the recipe's metrics on them (spec desed_baseline §6.1 validation, §6.3 test).
#pragma once

#include <string>
#include <vector>

#include "greensed/core/config.hpp"
#include "greensed/data/datasets.hpp"
#include "greensed/data/loader.hpp"
#include "greensed/metrics/events.hpp"
#include "greensed/model/crnn.hpp"

namespace greensed::train {

// Scores of one clip: strong [K, T'] (the model's layout), weak [K].
struct ClipScores {
  std::string filename;
  std::vector<float> strong;
  std::vector<float> weak;
};

// Runs both models in eval mode on the clips (batches of `batch_size`, features from `source`:
// linear mel → dB → instance scaler), returning the scores of each model in clip order.
void predict(model::Crnn& student, model::Crnn& teacher, data::FeatureSource& source,
             const std::vector<std::string>& paths, const std::vector<std::string>& filenames,
             int batch_size, const std::string& normtype, std::vector<ClipScores>& student_out,
             std::vector<ClipScores>& teacher_out);

// Median filter (per class, `median_window` frames) + strict threshold + contiguous regions:
// the events of every clip at `threshold` (batched_decode_preds).
metrics::EventTable decode(const std::vector<ClipScores>& scores, int n_frames_out,
                           double threshold, int median_window, const core::Config& config,
                           const std::string& name);

// Ground truth of a strong set as a metrics table (event-less clips listed without events), and
// its durations.
metrics::EventTable ground_truth(const data::StrongSet& set);
metrics::Durations durations_of(const data::StrongSet& set);

struct ValidationMetrics {
  double synth_f1_student = 0, synth_f1_teacher = 0;  // intersection F1 (configured DTC = GTC)
  double weak_f1_student = 0, weak_f1_teacher = 0;    // torchmetrics 0.7.3 macro F1
  double obj =
      0;  // student weak F1 + student synthetic F1 (or event F1 with obj_metric_synth_type)
};

ValidationMetrics validate(model::Crnn& student, model::Crnn& teacher, data::FeatureSource& source,
                           const data::StrongSet& synth_val, const data::WeakSet& weak_val,
                           const core::Config& config);

// Devtest metrics of one model (JSON-ready numbers): PSDS1, PSDS2 over n_test_thresholds operating
// points, intersection F1 at 0.5 (DTC = GTC = 0.5), event-based F1 (collar 0.2 s).
struct TestMetrics {
  double psds1 = 0, psds2 = 0, intersection_f1 = 0, event_f1 = 0;
  int n_clips = 0;
};

TestMetrics test_scores(const std::vector<ClipScores>& scores, const data::StrongSet& test_set,
                        const core::Config& config);

}  // namespace greensed::train
