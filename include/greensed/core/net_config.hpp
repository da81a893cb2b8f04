#pragma once

#include "greensed/core/config.hpp"

namespace greensed::core {

// What a net section must describe: a CRNN `greensed model-info` can count (one entry per CNN
// block in every list, 3x3 convolutions with padding 1 and stride 1, GLU, BGRU, positive sizes,
// dropout in [0, 1)), or one greensed builds (also: one input channel, the attention head, no
// recurrent dropout). Throws InputError naming the key. The one check: config loading (countable),
// model::complexity (countable) and model::Crnn (buildable) call it.
enum class NetUse { kCount, kBuild };
void validate_net(const NetConfig& net, NetUse use = NetUse::kBuild);

}  // namespace greensed::core
