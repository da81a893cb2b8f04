// 3×3 convolution, stride 1, zero padding 1 (PyTorch Conv2d(k=3, p=1), cross-correlation), on one
// batch item: x [C_in, T, F] → y [C_out, T, F]. Weights w [C_out, C_in, 3, 3] (PyTorch layout,
// = a [C_out, C_in·9] matrix), bias [C_out]. im2col + GEMM; `col` is caller scratch of
// C_in·9·T·F floats. Kernels allocate nothing.
#pragma once

#include <cstdint>

namespace greensed::kernels {

// col[(ci·9 + ky·3 + kx), t·F + f] = x[ci, t + ky − 1, f + kx − 1] (0 outside).
void im2col_3x3(const float* x, int c_in, int t, int f, float* col);
// Plain-loop twin: col[(ci·9 + ky·3 + kx)·T·F + t·F + f] = x[ci, t + ky − 1, f + kx − 1] or 0.
void im2col_3x3_reference(const float* x, int c_in, int t, int f, float* col);
// x[ci, t + ky − 1, f + kx − 1] += col[...] (the adjoint of im2col_3x3). col is scratch: its
// border columns are overwritten with zeros.
void col2im_3x3_add(float* col, int c_in, int t, int f, float* x);
// Plain-loop twin (col untouched); adds each x element's terms in the same (ci, ky, kx) order.
void col2im_3x3_add_reference(const float* col, int c_in, int t, int f, float* x);

// Direct (register-tiled, no im2col, no GEMM packing) 3×3 convolution, AVX-512 builds only:
// y = conv(x) + bias (bias may be null). Each output element sums its C_in·9 terms in
// (ci, ky, kx) order after the bias: a different association than im2col + GEMM, so results
// differ from it by float rounding (the test states the error against the double reference).
bool conv3x3_direct_available();
// Where it wins (bench_crnn_kernels, one thread, an AVX-512 Xeon, recipe shapes): block 2
// (16 → 32 channels, 313 × 64) forward 2.5–3.0 ms against 3.6–4.2 ms for im2col + GEMM. With one
// input channel (block 1) the 9-term sums do not amortise the tile, and at F ≤ 32 or in the
// transposed (data-gradient) direction im2col + GEMM was as fast or faster.
constexpr int kConvDirectMinCin = 8;
constexpr int kConvDirectMinF = 64;
// Whether conv3x3_forward takes the direct path.
bool conv3x3_use_direct(int c_in, int c_out, int f);
void conv3x3_direct_forward(const float* x, const float* w, const float* bias, int c_in, int c_out,
                            int t, int f, float* y);

// y = conv(x) + bias (=); the direct path where conv3x3_use_direct says so, else im2col + GEMM.
void conv3x3_forward(const float* x, const float* w, const float* bias, int c_in, int c_out, int t,
                     int f, float* col, float* y);
void conv3x3_forward_reference(const float* x, const float* w, const float* bias, int c_in,
                               int c_out, int t, int f, float* y);

// grad_x += convᵀ(grad_y).
void conv3x3_backward_data(const float* grad_y, const float* w, int c_in, int c_out, int t, int f,
                           float* col, float* grad_x);
void conv3x3_backward_data_reference(const float* grad_y, const float* w, int c_in, int c_out,
                                     int t, int f, float* grad_x);

// grad_w += grad_y · im2col(x)ᵀ, grad_bias += Σ_{t,f} grad_y (either may be null to skip).
// `col_ready` = col already holds im2col_3x3(x).
void conv3x3_backward_weights(const float* x, const float* grad_y, int c_in, int c_out, int t,
                              int f, float* col, bool col_ready, float* grad_w, float* grad_bias);
void conv3x3_backward_weights_reference(const float* x, const float* grad_y, int c_in, int c_out,
                                        int t, int f, float* grad_w, float* grad_bias);

}  // namespace greensed::kernels
