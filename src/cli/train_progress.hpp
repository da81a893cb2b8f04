// The progress line of commands that train (train, normalize): redrawn every second on a terminal,
// a plain log line every 30 s otherwise. Defined in cmd_train.cpp.
#pragma once

#include "greensed/train/trainer.hpp"

namespace greensed::cli {

void set_train_progress(train::TrainOptions& options);

}  // namespace greensed::cli
