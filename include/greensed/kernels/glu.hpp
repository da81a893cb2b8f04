// The recipe's "GLU" (spec desed_baseline §3.2; not torch.nn.GLU), fused with the Dropout and
// AvgPool2d that follow it in every CNN block. On one batch item with x [C, T, F] (the BatchNorm
// output) and lin [C, T, F] = W·x + b (W [C, C] = the PyTorch Linear weight applied on the channel
// axis at every (t, f); the caller computes it with one GEMM):
//   g   = lin ⊙ σ(x)                          (the gate is the sigmoid of the INPUT)
//   d   = g ⊙ keep·scale                      (inverted dropout; keep bits as in dropout.hpp,
//                                              element index c·T·F + t·F + f; null = no dropout)
//   out = AvgPool2d(kernel = stride = (pt, pf), floor)(d)   → [C, T/pt, F/pf]
#pragma once

#include <cstdint>

namespace greensed::kernels {

void glu_dropout_avgpool_forward(const float* lin, const float* x, const uint64_t* keep_bits,
                                 float keep_scale, int c, int t, int f, int pt, int pf, float* out);

// From grad_out [C, T/pt, F/pf]: grad_lin = ∂/∂lin (=) and grad_x = the gate's part of ∂/∂x (=);
// the caller adds Wᵀ·grad_lin to grad_x and accumulates grad_W += grad_lin·xᵀ, grad_b += Σ
// grad_lin. grad_lin may alias lin.
void glu_dropout_avgpool_backward(const float* grad_out, const float* lin, const float* x,
                                  const uint64_t* keep_bits, float keep_scale, int c, int t, int f,
                                  int pt, int pf, float* grad_lin, float* grad_x);

// The same forward without a GEMM and without materialising the BatchNorm output or lin: x is
// rebuilt on the fly as x = a[c]·y + d[c] (BatchNorm folded into a per-channel affine map of its
// input y; a = 1, d = 0 when y already is x), and lin = W·x + b is computed per tile of 32
// positions in cache. For the recipe's small channel counts (C ≤ 128) this is several times faster
// than a K = C GEMM followed by a separate elementwise pass. C ≤ 256, pf ≤ 32.
void glu_dropout_avgpool_forward_direct(const float* y, const float* a, const float* d,
                                        const float* w, const float* b, const uint64_t* keep_bits,
                                        float keep_scale, int c, int t, int f, int pt, int pf,
                                        float* out);

// Plain-loop twins of each piece (one batch item).
// out = W·x + b then ⊙ σ(x): [C, N].
void glu_forward_reference(const float* x, const float* w, const float* b, int c, int64_t n,
                           float* out);
// grad_x += ..., grad_w += ..., grad_b += ... from grad_out [C, N].
void glu_backward_reference(const float* x, const float* w, const float* b, const float* grad_out,
                            int c, int64_t n, float* grad_x, float* grad_w, float* grad_b);
void avgpool_forward_reference(const float* x, int c, int t, int f, int pt, int pf, float* out);
// grad_x += ... (positions dropped by the floor get nothing).
void avgpool_backward_reference(const float* grad_out, int c, int t, int f, int pt, int pf,
                                float* grad_x);

}  // namespace greensed::kernels
