// The step trace (`greensed train --trace FILE`): one JSON object per training step, one per line,
// enough to replay the step elsewhere (scripts/replay_trace_in_torch.py):
//   {"epoch": 1, "step": 1, "synth": [names], "weak": [names], "unlabeled": [names],
//    "mixup": null | {"weak": {"lambda": λ, "perm": [...]}, "strong": {"lambda": λ, "perm":
//    [...]}}, "first_frame": {name: frame, ...}   (only clips cropped from a longer recording),
//    "lr": ..., "consistency_weight": ..., "ema_alpha": ...,
//    "loss": {"strong", "weak", "cons_strong", "cons_weak", "total"},
//    "teacher_loss": {"strong", "weak"}}
// Names are the clip file names as in the label tables (no folder), in row order; MixUp is
// X'[i] = λ·X[i] + (1 − λ)·X[perm[i]] inside its block (0-based); loss terms are before the
// consistency weight. Writing the trace reads the batch and the step's results only: a run with and
// without --trace trains the same.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include "greensed/data/loader.hpp"
#include "greensed/train/mean_teacher.hpp"
#include "greensed/train/schedules.hpp"

namespace greensed::train {

// Where the student's and the teacher's dropout streams stood when a step began: with the
// seed, stream id and counter, a replay can draw the same keep masks (core::RngStream,
// kernels::dropout_keep_bits).
struct DropoutPositions {
  core::RngState student, teacher;
};

class TraceWriter {
 public:
  // A resumed run keeps the lines of steps ≤ resumed_step (the killed process may have traced
  // steps it never checkpointed) and appends; a new run starts the file empty.
  TraceWriter(const std::string& path, bool resuming, int64_t resumed_step);

  void write(int epoch, int64_t step, const data::Batch& batch, const StepSchedule& schedule,
             const StepLosses& losses, const DropoutPositions& dropout);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace greensed::train
