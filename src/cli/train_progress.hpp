// The progress line of commands that train (train, normalize): redrawn every second on a terminal,
// a plain log line every `log_every_s` seconds otherwise (Slurm, nohup, CI; 30 by default).
// Defined in cmd_train.cpp.
#pragma once

#include "greensed/train/trainer.hpp"

namespace greensed::cli {

void set_train_progress(train::TrainOptions& options, double log_every_s = 30.0);

}  // namespace greensed::cli
