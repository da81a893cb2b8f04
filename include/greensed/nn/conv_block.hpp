// One CNN block of the CRNN (spec desed_baseline §3.2), in the recipe's module names
// (`<prefix>conv{i}`, `batchnorm{i}`, `glu{i}.linear`):
//   Conv2d(C_in → C_out, 3×3, pad 1) → BatchNorm2d(eps 1e-3, momentum 0.99) → "GLU"
//   (Linear(C_out, C_out) over channels × σ(input)) → Dropout(p) → AvgPool2d((pt, pf), floor).
// x [B, C_in, T, F] → out [B, C_out, T/pt, F/pf].
//
// Memory (what a kept forward holds for backward): the input pointer (the previous block's output,
// which must stay valid until backward), the batch mean and 1/std, the dropout keep bits (1 bit
// per element) and the block's own output; plus xhat = the normalised conv output [B, C_out, T, F]
// in a caller buffer, unless the block recomputes it (recomputes_xhat(): where the convolution
// costs no more than the GLU's linear map, the first block with its one input channel): backward
// then re-runs the conv on the kept input and normalises it with the kept statistics,
// bit-identical to the forward's values. Backward rebuilds the BN output and the GLU's linear map
// from xhat instead of storing them (one extra C×C GEMM, half the memory).
// A forward that keeps nothing (teacher, evaluation) writes its conv outputs and its result to
// caller buffers that the caller reuses across blocks, and draws keep bits per item in scratch.
// A block that recomputes xhat can also run without a batch-sized conv buffer: it then convolves
// twice (the batch moments first, then the fused pass), item by item in scratch.
// Backward ACCUMULATES (+=) into the parameter gradients and OVERWRITES grad_in, which may be the
// forward's input itself (each item's input is read before its gradient is written): the CRNN
// writes each block's input gradient over the previous block's output, and that block then reads
// its grad_out from there (no gradient buffers of its own).
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

  // Whether a kept forward leaves xhat out and backward recomputes it (9·C_in ≤ C_out).
  bool recomputes_xhat() const { return 9 * c_in_ <= c_out_; }

  // train: batch statistics (running stats updated) and dropout from `rng` (null = no dropout);
  // else running statistics and no dropout. `keep` (train only): cache what backward needs, the
  // output in the block's own storage (out_buf must be null). conv_buf: ≥ B·C_out·T·F floats for
  // the conv outputs; with `keep` and not recomputes_xhat() it is where xhat is kept (untouched by
  // the caller until backward); null only for a block that recomputes xhat (two passes).
  // out_buf: null = the block's own storage, else ≥ B·C_out·T/pt·F/pf floats that do not overlap
  // x. lin_buf (with `keep`; may be null): ≥ B·C_out·T·F floats where the GLU's linear map is kept
  // for backward (untouched by the caller until then), which then does not recompute it (one GEMM
  // per item less, for that much memory). Returns the output.
  const float* forward(ParameterStore& store, const float* x, int b, int t, int f, bool train,
                       core::RngStream* rng, bool keep, float* conv_buf, float* out_buf,
                       ThreadScratch& scratch, float* lin_buf = nullptr);

  // The kept forward's output [B, C_out, T/pt, F/pf]: free once the next block's backward has
  // read it, so that backward may write its input gradient (this block's grad_out) there.
  float* output_storage() { return out_.data(); }

  // grad_out [B, C_out, T/pt, F/pf] → grad_in [B, C_in, T, F] = (null = not needed; may alias the
  // forward's input x, not grad_out); grad_scratch holds ≥ B·C_out·T·F floats.
  void backward(ParameterStore& store, const float* grad_out, float* grad_in, float* grad_scratch,
                ThreadScratch& scratch);

  int64_t cache_bytes() const;

 private:
  // Scratch floats of one item's convolution at T × F, and that convolution (im2col + GEMM, the
  // direct kernel or Winograd: kernels::conv3x3_winograd_tile decides per shape).
  int64_t conv_scratch_floats(int t, int f) const;
  void convolve(const float* x, const float* w, const float* bias, int t, int f, float* scratch,
                float* y) const;
  // Eval mode: the running statistics into mean_ / inv_std_, and BatchNorm folded into the
  // convolution's weights and bias (folded_w_, folded_b_).
  void fold_eval_batchnorm(ParameterStore& store);

  int c_in_, c_out_, pool_t_, pool_f_;
  float dropout_;
  TensorHandle conv_w_, conv_b_, bn_gamma_, bn_beta_, running_mean_, running_var_, n_batches_,
      glu_w_, glu_b_;
  // Caches of the last forward.
  const float* x_ = nullptr;
  int b_ = 0, t_ = 0, f_ = 0;
  bool kept_ = false, train_ = false, dropped_ = false;
  int winograd_ = 0;                // the forward's Winograd tile size (0: none)
  std::vector<float> winograd_u_;   // the transformed conv weights of the last forward
  std::vector<float> winograd_ut_;  // … of the flipped, transposed kernel (the data gradient)
  std::vector<float> folded_w_, folded_b_;  // eval mode: the conv with BatchNorm folded in
  float* xhat_ = nullptr;                   // the caller's buffer (kept, not recomputed)
  float* lin_ = nullptr;                    // the caller's buffer with the kept linear map, or null
  std::vector<float> mean_, inv_std_, out_;
  std::vector<uint64_t> keep_bits_;
  int64_t words_per_item_ = 0;
  std::vector<double> item_sums_;  // per item: BN moments (forward) or gradient sums (backward)
};

}  // namespace greensed::nn
