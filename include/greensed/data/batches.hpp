// Batch composition and MixUp (spec desed_baseline.md §4.1, §4.3).
//
// A training batch concatenates rows of several subsets in a fixed order; for the baseline
// [synthetic strong, weak, unlabelled] with sizes [b/4, b/4, b/2] (or training.batch_size as
// written). Each subset iterates its own fresh random permutation every epoch and batches draw
// from it sequentially; an epoch has min over subsets of floor(len_i / size_i) steps, so no clip
// appears twice in one epoch within a subset.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "greensed/core/rng.hpp"

namespace greensed::data {

class BatchSampler {
 public:
  // Everything needed to continue exactly where a run stopped (stored in checkpoints).
  struct State {
    core::RngState epoch_rng;  // the stream before this epoch's permutations were drawn
    int64_t epoch = 0;
    int next_step = 0;  // steps of `epoch` already handed out
  };
  // One batch: for each subset, the indices of its rows in batch order.
  struct Draw {
    int64_t epoch = 0;
    int step = 0;
    std::vector<std::vector<int>> indices;  // [subset][row]
  };

  // Permutations come from core::RngStream(seed, RngStreamId::kBatchOrder). Throws InputError
  // when a subset is smaller than its batch size (no full batch could be drawn).
  BatchSampler(std::vector<int> subset_sizes, std::vector<int> batch_sizes, uint64_t seed);

  int steps_per_epoch() const { return steps_per_epoch_; }
  // The next batch; after the last step of an epoch the next call starts a new epoch with fresh
  // permutations.
  Draw next();

  State state() const { return {epoch_rng_, epoch_, next_step_}; }
  void restore(const State& state);

 private:
  void start_epoch();

  std::vector<int> subset_sizes_, batch_sizes_;
  int steps_per_epoch_ = 0;
  core::RngStream rng_;
  core::RngState epoch_rng_;
  int64_t epoch_ = 0;
  int next_step_ = 0;
  bool started_ = false;
  std::vector<std::vector<int>> permutations_;
};

// The subset sizes of a total batch: [b/4, b/4, b/2] (core::batch_composition) or a triple as
// written in training.batch_size.
std::vector<int> batch_sizes_from_config(const std::vector<int>& training_batch_size);

// ---- MixUp

enum class MixupMode { kNone, kSoft, kHard };
// "soft" | "hard" | "none" (training.mixup); throws InputError naming the key otherwise.
MixupMode parse_mixup_mode(const std::string& value);

// What one training step drew: with probability 0.5 MixUp is applied, first to the weak rows then
// to the strong rows, each with its own lambda ~ Beta(0.2, 0.2) and permutation.
struct MixupDraw {
  bool applied = false;
  double lambda_weak = 1.0, lambda_strong = 1.0;
  std::vector<int> perm_weak, perm_strong;
};

// Draws in this order from `rng` (core::RngStreamId::kMixup): the decision u < 0.5; if applied,
// lambda_weak, perm_weak, lambda_strong, perm_strong.
MixupDraw draw_mixup(core::RngStream& rng, int n_weak, int n_strong, double alpha = 0.2);

// Mixes n rows in place: x[i] = lambda x[i] + (1 - lambda) x[perm[i]] over rows of x_row floats
// (the linear mel [F, T]); targets soft: y = clamp(lambda y + (1 - lambda) y[perm], 0, 1), hard:
// y = clamp(y + y[perm], 0, 1), over rows of y_row floats. Reads the unmixed rows (out of place).
void mixup_rows(std::span<float> x, size_t x_row, std::span<float> y, size_t y_row, double lambda,
                std::span<const int> perm, MixupMode mode);

}  // namespace greensed::data
