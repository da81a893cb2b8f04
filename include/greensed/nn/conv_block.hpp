// One CNN block of the CRNN (spec desed_baseline §3.2), in the recipe's module names
// (`<prefix>conv{i}`, `batchnorm{i}`, `glu{i}.linear`):
//   Conv2d(C_in → C_out, 3×3, pad 1) → BatchNorm2d(eps 1e-3, momentum 0.99) → "GLU"
//   (Linear(C_out, C_out) over channels × σ(input)) → Dropout(p) → AvgPool2d((pt, pf), floor).
// x [B, C_in, T, F] → out [B, C_out, T/pt, F/pf].
//
// Forward caches (when it owns its conv output): the input pointer (which must stay valid until
// backward), xhat = the normalised conv output [B, C_out, T, F] (stored over the conv output),
// the batch mean and 1/std, and the dropout keep bits. Backward recomputes the BN output and the
// GLU's linear map from xhat instead of storing them (one extra C×C GEMM, half the memory).
// Backward ACCUMULATES (+=) into the parameter gradients and into grad_in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "greensed/core/rng.hpp"
#include "greensed/nn/parameters.hpp"
#include "greensed/nn/workspace.hpp"

namespace greensed::nn {

class ConvBlock {
 public:
  ConvBlock(ParameterStore& store, const std::string& prefix, int index, int c_in, int c_out,
            int pool_t, int pool_f, float dropout);

  int c_in() const { return c_in_; }
  int c_out() const { return c_out_; }
  int pool_t() const { return pool_t_; }
  int pool_f() const { return pool_f_; }
  // Per-thread scratch floats needed at T × F.
  int64_t scratch_floats(int t, int f) const;

  // train: batch statistics (running stats updated) and dropout from `rng` (null = no dropout);
  // else running statistics and no dropout. `conv_out` = null: the block keeps its caches in its
  // own storage (backward allowed); else a caller buffer of ≥ B·C_out·T·F floats is used and
  // nothing is kept (a teacher shares one such buffer across its blocks).
  const float* forward(ParameterStore& store, const float* x, int b, int t, int f, bool train,
                       core::RngStream* rng, float* conv_out, ThreadScratch& scratch);

  // grad_out [B, C_out, T/pt, F/pf] → grad_in [B, C_in, T, F] += (null = not needed);
  // grad_scratch holds ≥ B·C_out·T·F floats.
  void backward(ParameterStore& store, const float* grad_out, float* grad_in, float* grad_scratch,
                ThreadScratch& scratch);

  int64_t cache_bytes() const;

 private:
  int c_in_, c_out_, pool_t_, pool_f_;
  float dropout_;
  TensorHandle conv_w_, conv_b_, bn_gamma_, bn_beta_, running_mean_, running_var_, n_batches_,
      glu_w_, glu_b_;
  // Caches of the last forward.
  const float* x_ = nullptr;
  int b_ = 0, t_ = 0, f_ = 0;
  bool kept_ = false, train_ = false, dropped_ = false;
  std::vector<float> xhat_, mean_, inv_std_, out_;
  std::vector<uint64_t> keep_bits_;
  int64_t words_per_item_ = 0;
  std::vector<float> item_grads_;  // per item: conv_w, conv_b, glu_w, glu_b gradients
  std::vector<double> item_sums_;  // per item: BN moments (forward) or gradient sums (backward)
};

}  // namespace greensed::nn
