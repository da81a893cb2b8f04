// The CRNN's output heads (spec desed_baseline §3.5) under the recipe's names `dense.*` and
// `dense_softmax.*`: h [B, T, D] → Dropout(p) → strong s = σ(dense(h)) and attention
// a = clamp(softmax_K(dense_softmax(h)), 1e-7, 1) (softmax over CLASSES, per frame) →
// weak [B, K] = Σ_t s·a / Σ_t a; strong is returned transposed, [B, K, T].
// Caches the dropped input, both logits and s, a; backward ACCUMULATES into the parameter
// gradients and grad_h.
#pragma once

#include <vector>

#include "greensed/core/rng.hpp"
#include "greensed/nn/parameters.hpp"

namespace greensed::nn {

class SedHeads {
 public:
  SedHeads(ParameterStore& store, int n_in, int n_classes, float dropout);

  void forward(ParameterStore& store, const float* h, int b, int t, bool train,
               core::RngStream* rng);
  const float* strong() const { return strong_.data(); }  // [B, K, T]
  const float* weak() const { return weak_.data(); }      // [B, K]
  // grad_strong [B, K, T], grad_weak [B, K] (either may be null) → grad_h [B, T, D] +=.
  void backward(ParameterStore& store, const float* grad_strong, const float* grad_weak,
                float* grad_h);

 private:
  int d_, k_;
  float dropout_;
  TensorHandle w_s_, b_s_, w_a_, b_a_;
  int b_ = 0, t_ = 0;
  bool dropped_ = false;
  std::vector<float> hd_, logits_s_, logits_a_, s_, a_, strong_, weak_;
  std::vector<float> g_s_, g_a_, g_ls_, g_la_, g_hd_;  // backward scratch, kept across calls
  std::vector<uint64_t> keep_bits_;
};

}  // namespace greensed::nn
