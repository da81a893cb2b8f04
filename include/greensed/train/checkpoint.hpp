// Training checkpoints: safetensors files holding the student and the teacher under the recipe's
// state_dict names (`sed_student.cnn.cnn.conv0.weight`, `sed_teacher.rnn.rnn.weight_hh_l1_reverse`,
// BatchNorm running statistics and num_batches_tracked included), Adam's moment buffers
// (`optimizer.exp_avg`, `optimizer.exp_avg_sq`, flat in the student's parameter order) and, in the
// metadata key `greensed.train_state`, everything else a resumed run needs: epoch and step
// counters, best objective, RNG and loader states, the meter's energy totals and the epoch rows so
// far.
#pragma once

#include <limits>
#include <span>
#include <string>
#include <vector>

#include "greensed/core/rng.hpp"
#include "greensed/data/loader.hpp"
#include "greensed/model/crnn.hpp"
#include "greensed/report/epochs.hpp"

namespace greensed::train {

struct TrainState {
  int epoch = 0;     // epochs finished
  int64_t step = 0;  // optimiser steps done
  int64_t adam_t = 0;
  double best_obj = -std::numeric_limits<double>::infinity();
  int best_epoch = 0;
  double best_f1 = -std::numeric_limits<double>::infinity();
  int best_f1_epoch = 0;
  int first_f1_040_epoch = 0;
  double wall_cumulative_s = 0;
  core::RngState dropout_student, dropout_teacher, crop;
  data::LoaderState loader;
  std::string meter_json;  // energy::Meter::serialize()
  std::vector<report::EpochRecord> epochs;
  std::string stop_policy, stop_reason;
};

std::string train_state_to_json(const TrainState& state);
TrainState train_state_from_json(const std::string& text, const std::string& origin);

// Writes atomically. `adam_m`/`adam_v` may be empty (weights-only checkpoints).
void save_checkpoint(const std::string& path, model::Crnn& student, model::Crnn& teacher,
                     std::span<const float> adam_m, std::span<const float> adam_v,
                     const TrainState& state);

// Loads into models of the same config; InputError naming the file and the tensor on any mismatch.
// `adam_m`/`adam_v` are filled when present (resized to the parameter count).
TrainState load_checkpoint(const std::string& path, model::Crnn& student, model::Crnn& teacher,
                           std::vector<float>* adam_m, std::vector<float>* adam_v);

// Loads one model's weights from a checkpoint: prefix "sed_student." or "sed_teacher.", or "" for a
// file holding a single model's state_dict.
void load_model_weights(const std::string& path, model::Crnn& net, const std::string& prefix);

}  // namespace greensed::train
