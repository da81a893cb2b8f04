// The recipe's "GLU" (spec desed_baseline §3.2; not torch.nn.GLU), fused with the Dropout and
// AvgPool2d that follow it in every CNN block. On one batch item with x [C, T, F] (the BatchNorm
// output) and lin [C, T, F] = W·x + b (W [C, C] = the PyTorch Linear weight applied on the channel
// axis at every (t, f); the caller computes it with one GEMM):
//   g   = lin ⊙ σ(x)                          (the gate is the sigmoid of the INPUT)
//   d   = g ⊙ keep·scale                      (inverted dropout; keep bits as in dropout.hpp,
//                                              element index c·T·F + t·F + f; null = no dropout,
//                                              and then keep_scale is ignored)
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

// Plain-loop twins of the two fused kernels (double accumulation, std::exp): what the vector
// paths (simd.hpp) and the scalar fallback are tested against.
void glu_dropout_avgpool_forward_reference(const float* lin, const float* x,
                                           const uint64_t* keep_bits, float keep_scale, int c,
                                           int t, int f, int pt, int pf, float* out);
// Writes (does not add) grad_lin and grad_x, like the fused kernel.
void glu_dropout_avgpool_backward_reference(const float* grad_out, const float* lin, const float* x,
                                            const uint64_t* keep_bits, float keep_scale, int c,
                                            int t, int f, int pt, int pf, float* grad_lin,
                                            float* grad_x);

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
