// The CRNN's multi-layer bidirectional GRU (torch.nn.GRU(bidirectional=True, batch_first=True),
// spec desed_baseline §3.4), registered under the recipe's names `<prefix>weight_ih_l{l}`,
// `weight_hh_l{l}`, `bias_ih_l{l}`, `bias_hh_l{l}` and the same with `_reverse`.
// x [B, T, I] → out [B, T, 2H] = [forward ‖ backward] of the last layer; h0 = 0; no dropout
// between layers. Per layer and direction the input projections x·W_ihᵀ + b_ih of the whole
// sequence are one GEMM; the two directions run in parallel (one thread each).
// A kept forward caches per layer and direction the states entering each step, the gate
// activations and W_hn h + b_hn (backward ACCUMULATES); the input projections live in one buffer
// per direction that the layers reuse (backward does not read them). A forward that keeps nothing
// (teacher, evaluation) caches no step and gives the same outputs bit for bit.
#pragma once

#include <string>
#include <vector>

#include "greensed/nn/parameters.hpp"
#include "greensed/nn/workspace.hpp"

namespace greensed::nn {

class BiGru {
 public:
  BiGru(ParameterStore& store, const std::string& prefix, int n_in, int n_hidden, int n_layers);

  int n_out() const { return 2 * h_; }
  // x must stay valid until backward (when `keep`). Returns out [B, T, 2H].
  const float* forward(ParameterStore& store, const float* x, int b, int t, int n_threads,
                       bool keep = true);
  // grad_out [B, T, 2H] → grad_x [B, T, I] += (null = not needed).
  void backward(ParameterStore& store, const float* grad_out, float* grad_x, int n_threads);

  int64_t cache_bytes() const;

 private:
  struct Direction {
    TensorHandle w_ih, w_hh, b_ih, b_hh;
    std::vector<float> h_prev, gates, hn;  // caches of the last kept forward
  };
  struct Layer {
    int n_in;
    Direction dir[2];
    std::vector<float> out;  // [B, T, 2H]
  };
  int h_;
  std::vector<Layer> layers_;
  const float* x_ = nullptr;
  int b_ = 0, t_ = 0;
  bool kept_ = false;
  std::vector<float> xproj_, scratch_, grad_a_, grad_b_, gxp_, ghh_, gh_;
};

}  // namespace greensed::nn
