// Parameters and multiply-accumulates of the CRNN, computed per block from the net config, counted
// with the rules of thop 0.1.1 (the counter DCASE asks participants to use; the 2023 baseline
// README prints its result, 930.902 M MACs for 10 s). Spec desed_baseline §3.7:
//   conv     = output elements · C_in · k²   (bias not counted)
//   BatchNorm (affine) = 4 · elements
//   Linear   = in_features · output elements  (the GLU's channel Linear and both heads)
//   AvgPool  = output elements
//   GRU      = (3·(H+I)·H + 13·H) per direction per time step (thop's GRU cell formula, biased)
//   Softmax  = rows · (3·n − 1); sigmoid, dropout, transposes = 0
// counted for one clip (batch 1) in eval mode. Parameters are the trainable ones
// (`model.parameters()`); BatchNorm running statistics are listed separately as buffers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "greensed/core/config.hpp"

namespace greensed::model {

// One CNN block: Conv2d → BatchNorm2d → GLU (Linear over channels × sigmoid) → Dropout → AvgPool2d.
struct CnnBlockComplexity {
  int c_in = 0, c_out = 0;
  int t_in = 0, f_in = 0;    // block input frames × mel bins
  int t_out = 0, f_out = 0;  // after pooling
  int64_t conv_params = 0, bn_params = 0, glu_params = 0;
  int64_t conv_macs = 0, bn_macs = 0, glu_macs = 0, pool_macs = 0;

  int64_t params() const { return conv_params + bn_params + glu_params; }
  int64_t macs() const { return conv_macs + bn_macs + glu_macs + pool_macs; }
};

// One bidirectional GRU layer (both directions).
struct GruLayerComplexity {
  int input_size = 0, hidden = 0;
  int64_t params = 0, macs = 0;
};

struct Complexity {
  std::vector<CnnBlockComplexity> cnn;
  std::vector<GruLayerComplexity> rnn;
  int n_frames_out = 0;                                      // T' (156 for 626 input frames)
  int n_classes = 0;                                         // K
  int64_t dense_params = 0, dense_macs = 0;                  // strong head Linear(2H → K)
  int64_t dense_softmax_params = 0, dense_softmax_macs = 0;  // attention head (0 without attention)
  int64_t softmax_macs = 0;  // the class-axis softmax of the attention head
  int64_t bn_buffers = 0;    // running_mean + running_var (F32) and num_batches_tracked (I64)

  int64_t cnn_params() const;
  int64_t cnn_macs() const;
  int64_t rnn_params() const;
  int64_t rnn_macs() const;
  int64_t total_params() const;
  int64_t total_macs() const;
};

// The reference CRNN always has two GRU layers: net.rnn_layers is never read (spec §3.4).
inline constexpr int kRnnLayers = 2;

// Counts for an input of n_frames × n_mels. Throws InputError naming the net.* key when the config
// describes a model greensed does not build (activation other than glu, rnn_type other than BGRU,
// list lengths that differ) or when the input pools down to nothing.
Complexity complexity(const core::NetConfig& net, int n_frames, int n_mels);

// The input frames of a clip length: features::network_input_frames.

// The per-block table `greensed model-info` prints (plain text, one row per part, totals last).
std::string complexity_table(const Complexity& c);

// Multiply-accumulates of one forward pass of the matrix products (convolutions, GLU linears,
// GRU input and recurrent products, heads) for one clip of n_frames × n_mels (bench step's FLOPs).
double forward_macs_per_clip(const core::NetConfig& net, int n_mels, int n_frames);
// The same with each 3×3 convolution counted as the algorithm greensed runs for it
// (kernels::conv3x3_winograd_tile): a Winograd F(M×M, 3×3) block multiplies (M + 2)² values per
// M × M output tile (padded tiles included) and input channel instead of 9·M²; the multiplications
// the CPU executes, for GFLOP/s against the machine's GEMM peak.
double executed_forward_macs_per_clip(const core::NetConfig& net, int n_mels, int n_frames);

}  // namespace greensed::model
