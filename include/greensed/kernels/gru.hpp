// One direction of one GRU layer over a batch of sequences, in PyTorch's convention (spec
// desed_baseline §3.4): gate order (r, z, n) in the stacked weights,
//   r = σ(x_r + W_hr h + b_hr),  z = σ(x_z + W_hz h + b_hz),
//   n = tanh(x_n + r ⊙ (W_hn h + b_hn))      (reset gate applied AFTER the recurrent product),
//   h' = (1 − z) ⊙ n + z ⊙ h,  h_0 = 0,
// where x_* = rows of xproj = x·W_ihᵀ + b_ih, computed for the whole sequence by the caller with
// one GEMM. A reverse direction walks t = T−1 … 0.
//
// Shapes: xproj [B, T, 3H]; w_hh [3H, H]; b_hh [3H]; output h_t at
// out[b·out_stride_b + t·out_stride_t + j] (lets both directions write one [B, T, 2H] tensor).
// Cache (indexed by step s, not by t): h_prev [T, B, H] (state entering step s), gates [T, B, 3H]
// (r, z, n after activation), hn [T, B, H] (W_hn h + b_hn). scratch: [B, 3H].
// Inference: h_prev, gates and hn all null (no cache, the same outputs bit for bit); scratch then
// holds [B, 3H] + [B, H].
#pragma once

#include <cstdint>

namespace greensed::kernels {

void gru_sequence_forward(const float* xproj, const float* w_hh, const float* b_hh, int b, int t,
                          int h, bool reverse, float* h_prev, float* gates, float* hn,
                          float* scratch, float* out, int64_t out_stride_b, int64_t out_stride_t);

// Backward through time from grad_out (same strides as out): grad_xproj [B, T, 3H] (=),
// grad_w_hh += and grad_b_hh +=. The caller then forms grad_x += grad_xproj·W_ih,
// grad_W_ih += grad_xprojᵀ·x and grad_b_ih += Σ grad_xproj.
// scratch_ghh: [T, B, 3H]; scratch_gh: [2, B, H].
void gru_sequence_backward(const float* grad_out, int64_t out_stride_b, int64_t out_stride_t,
                           const float* w_hh, const float* h_prev, const float* gates,
                           const float* hn, int b, int t, int h, bool reverse, float* grad_xproj,
                           float* grad_w_hh, float* grad_b_hh, float* scratch_ghh,
                           float* scratch_gh);

// Plain-loop twins in double precision, self-contained (the backward re-runs the forward).
void gru_sequence_forward_reference(const float* xproj, const float* w_hh, const float* b_hh, int b,
                                    int t, int h, bool reverse, float* out, int64_t out_stride_b,
                                    int64_t out_stride_t);
void gru_sequence_backward_reference(const float* xproj, const float* w_hh, const float* b_hh,
                                     const float* grad_out, int64_t out_stride_b,
                                     int64_t out_stride_t, int b, int t, int h, bool reverse,
                                     float* grad_xproj, float* grad_w_hh, float* grad_b_hh);

}  // namespace greensed::kernels
