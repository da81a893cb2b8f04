// Winograd F(2×2, 3×3) convolution (Lavin & Gray 2016): the same 3×3, stride 1, zero padding 1
// cross-correlation as conv3x3_forward, on one batch item x [C_in, T, F] → y [C_out, T, F], with
// 16 multiplications per 2×2 output tile and input channel instead of 36 (2.25× fewer FLOPs).
// Each 4×4 input tile d becomes V = Bᵀ d B, each filter g becomes U = G g Gᵀ (once per weight
// set), the 16 elementwise products over channels are 16 GEMMs U[ξ] [C_out × C_in] · V[ξ]
// [C_in × tiles], and each product tile m becomes the 2×2 output Aᵀ m A (+ bias).
//
// It reassociates the sums (the transforms add and subtract inputs before the products), so the
// results differ from im2col + GEMM by float rounding; the test states the error against the
// double-precision plain-loop conv3x3_forward_reference, which is its reference twin.
// Kernels allocate nothing: `u` and `scratch` are the caller's.
#pragma once

#include <cstdint>

namespace greensed::kernels {

// Where the 16 GEMMs win (bench_crnn_kernels, one thread, CPU time, recipe shapes): from 16 input
// channels on, against the direct kernel for block 2 (16 → 32, 313 × 64: 1.90 ms vs 2.41) and
// im2col + GEMM for blocks 3–7 (1.20 / 2.22 / 2.09 / 1.05 / 0.59 ms vs 2.26 / 4.15 / 4.00 / 2.00 /
// 1.01); the first block's single input channel stays with im2col + GEMM.
constexpr int kWinogradMinCin = 16;
bool conv3x3_use_winograd(int c_in, int c_out, int t, int f);

// Transformed weights: u[ξ][ci][co], ξ = 4·row + column of the 4×4 tile, computed in double and
// rounded once.
inline int64_t winograd_weight_floats(int c_in, int c_out) {
  return 16 * int64_t(c_in) * c_out;
}
void winograd_transform_weights(const float* w, int c_in, int c_out, float* u);

// Scratch of conv3x3_winograd_forward: a chunk of input rows channels last, its transformed
// inputs and products.
int64_t winograd_scratch_floats(int c_in, int c_out, int t, int f);
// y = conv(x) + bias (=; bias may be null) from u = winograd_transform_weights(w).
void conv3x3_winograd_forward(const float* x, const float* u, const float* bias, int c_in,
                              int c_out, int t, int f, float* scratch, float* y);

// grad_w += ∂/∂w and grad_bias += Σ_{t,f} grad_y (null: skip) of y = conv(x) + bias, through
// the same transforms: dU[ξ] = V[ξ]ᵀ · (A dY Aᵀ)[ξ] summed over the tiles (16 GEMMs, C_in × C_out
// deep over the tiles), then grad_w += Gᵀ dU G. The exact gradient of the Winograd forward, which
// is the convolution's gradient up to float rounding (stated in the test against the double
// reference).
int64_t winograd_backward_weights_scratch_floats(int c_in, int c_out, int t, int f);
void conv3x3_winograd_backward_weights(const float* x, const float* grad_y, int c_in, int c_out,
                                       int t, int f, float* scratch, float* grad_w,
                                       float* grad_bias);

}  // namespace greensed::kernels
