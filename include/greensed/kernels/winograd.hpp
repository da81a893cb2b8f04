// Winograd convolution (Lavin & Gray 2016), F(2×2, 3×3) and F(4×4, 3×3): the same 3×3, stride
// 1, zero padding 1 cross-correlation as conv3x3_forward, on one batch item x [C_in, T, F] →
// y [C_out, T, F]. With output tiles of M × M (M = 2 or 4), each (M + 2)² input tile d becomes
// V = Bᵀ d B, each filter g becomes U = G g Gᵀ (once per weight set), the (M + 2)² elementwise
// products over channels are as many GEMMs U[ξ] [C_out × C_in] · V[ξ] [C_in × tiles], and each
// product tile m becomes the M × M output Aᵀ m A (+ bias): 16 multiplications per 4 outputs and
// input channel (2.25× fewer than 36), or 36 per 16 (4× fewer).
//
// It reassociates the sums (the transforms add and subtract inputs before the products, F(4×4)
// with coefficients up to 8), so the results differ from im2col + GEMM by float rounding; the test
// states the error of each tile size against the double-precision plain-loop
// conv3x3_forward_reference, which is its reference twin.
// Kernels allocate nothing: `u` and `scratch` are the caller's.
#pragma once

#include <cstdint>

namespace greensed::kernels {

// Where the GEMMs win (bench_crnn_kernels, one thread, CPU time per item, recipe shapes): from 16
// input channels on, against the direct kernel for block 2 (16 → 32, 313 × 64) and im2col + GEMM
// for blocks 3–7; the first block's single input channel stays with im2col + GEMM. F(4×4) from 4
// frequency bins on: blocks 2–6 take 1.03 / 0.68 / 1.09 / 1.06 / 0.60 ms against F(2×2)'s 1.65 /
// 1.18 / 2.24 / 2.23 / 1.12 ms; block 7 (2 bins, half of each 6 × 6 tile padding) stays with
// F(2×2), as fast and 10× more accurate.
constexpr int kWinogradMinCin = 16;
constexpr int kWinograd4MinF = 4;
// The output tile size M for this shape: 4 or 2, or 0 where Winograd is not used.
int conv3x3_winograd_tile(int c_in, int c_out, int t, int f);

// Transformed weights: u[ξ][ci][co], ξ = (M + 2)·row + column of the input tile, computed in
// float over lanes of output channels (a few roundings, far below the transforms' own error).
int64_t winograd_weight_floats(int c_in, int c_out, int m);
void winograd_transform_weights(const float* w, int c_in, int c_out, int m, float* u);

// Scratch of conv3x3_winograd_forward: a chunk of input rows channels last, its transformed
// inputs and products.
int64_t winograd_scratch_floats(int c_in, int c_out, int t, int f, int m);
// y = conv(x) + bias (=; bias may be null) from u = winograd_transform_weights(w, m).
void conv3x3_winograd_forward(const float* x, const float* u, const float* bias, int c_in,
                              int c_out, int t, int f, int m, float* scratch, float* y);

// grad_w += ∂/∂w and grad_bias += Σ_{t,f} grad_y (null: skip) of y = conv(x) + bias, through
// the same transforms: dU[ξ] = V[ξ]ᵀ · (A dY Aᵀ)[ξ] summed over the tiles ((M + 2)² GEMMs,
// C_in × C_out deep over the tiles), then grad_w += Gᵀ dU G. The exact gradient of the Winograd
// forward, which is the convolution's gradient up to float rounding (stated in the test against
// the double reference).
int64_t winograd_backward_weights_scratch_floats(int c_in, int c_out, int t, int f, int m);
void conv3x3_winograd_backward_weights(const float* x, const float* grad_y, int c_in, int c_out,
                                       int t, int f, int m, float* scratch, float* grad_w,
                                       float* grad_bias);

}  // namespace greensed::kernels
