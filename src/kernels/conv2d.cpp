#include "greensed/kernels/conv2d.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "greensed/core/error.hpp"
#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/math.hpp"
#include "greensed/kernels/simd.hpp"

namespace greensed::kernels {

void im2col_3x3(const float* x, int c_in, int t, int f, float* col) {
  const int64_t tf = int64_t(t) * f;
  for (int ci = 0; ci < c_in; ++ci) {
    const float* xc = x + ci * tf;
    for (int ky = 0; ky < 3; ++ky) {
      // Rows ti whose source row ts = ti + ky − 1 exists.
      const int t_lo = std::max(0, 1 - ky), t_hi = std::min(t, t + 1 - ky);
      for (int kx = 0; kx < 3; ++kx) {
        float* row = col + (int64_t(ci) * 9 + ky * 3 + kx) * tf;
        const int dx = kx - 1;
        const int f_lo = std::max(0, -dx), f_hi = std::min(f, f - dx);
        if (t_hi <= t_lo || f_hi <= f_lo) {
          std::memset(row, 0, sizeof(float) * tf);
          continue;
        }
        std::memset(row, 0, sizeof(float) * t_lo * f);
        std::memset(row + int64_t(t_hi) * f, 0, sizeof(float) * (t - t_hi) * f);
        // The shifted plane is one contiguous run of x: copy it at once (not row by row, which
        // costs a call per 2..128 floats), then clear the border column that wrapped around.
        const int64_t j0 = int64_t(t_lo) * f + f_lo, j1 = int64_t(t_hi - 1) * f + f_hi;
        std::memcpy(row + j0, xc + j0 + (ky - 1) * f + dx, sizeof(float) * (j1 - j0));
        if (f_lo > 0)
          for (int ti = t_lo; ti < t_hi; ++ti) row[int64_t(ti) * f] = 0.0f;
        if (f_hi < f)
          for (int ti = t_lo; ti < t_hi; ++ti) row[int64_t(ti) * f + f - 1] = 0.0f;
      }
    }
  }
}

void col2im_3x3_add(float* col, int c_in, int t, int f, float* x) {
  const int64_t tf = int64_t(t) * f;
  for (int ci = 0; ci < c_in; ++ci) {
    float* xc = x + ci * tf;
    for (int ky = 0; ky < 3; ++ky) {
      const int t_lo = std::max(0, 1 - ky), t_hi = std::min(t, t + 1 - ky);
      for (int kx = 0; kx < 3; ++kx) {
        float* row = col + (int64_t(ci) * 9 + ky * 3 + kx) * tf;
        const int dx = kx - 1;
        const int f_lo = std::max(0, -dx), f_hi = std::min(f, f - dx);
        if (t_hi <= t_lo || f_hi <= f_lo) continue;
        // The adjoint of im2col's contiguous copy: one contiguous add over the shifted plane.
        // The border column would land on the neighbouring row's far end, so it is zeroed in
        // the (scratch) col first: adding +0 leaves x unchanged, and each x element still
        // receives its terms in the same (ci, ky, kx) order as the row-by-row loop.
        if (f_lo > 0)
          for (int ti = t_lo; ti < t_hi; ++ti) row[int64_t(ti) * f] = 0.0f;
        if (f_hi < f)
          for (int ti = t_lo; ti < t_hi; ++ti) row[int64_t(ti) * f + f - 1] = 0.0f;
        const int64_t j0 = int64_t(t_lo) * f + f_lo, j1 = int64_t(t_hi - 1) * f + f_hi;
        float* __restrict dst = xc + (ky - 1) * f + dx;
        const float* __restrict src = row;
        for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
      }
    }
  }
}

void col2im_3x3_add_reference(const float* col, int c_in, int t, int f, float* x) {
  const int64_t tf = int64_t(t) * f;
  for (int ci = 0; ci < c_in; ++ci)
    for (int k = 0; k < 9; ++k)
      for (int ti = 0; ti < t; ++ti)
        for (int fi = 0; fi < f; ++fi) {
          const int ts = ti + k / 3 - 1, fs = fi + k % 3 - 1;
          if (ts < 0 || ts >= t || fs < 0 || fs >= f) continue;
          x[ci * tf + int64_t(ts) * f + fs] +=
              col[(int64_t(ci) * 9 + k) * tf + int64_t(ti) * f + fi];
        }
}

#if GREENSED_SIMD_WIDTH == 16
namespace {
// Direct 3×3 convolution, AVX-512: for each output row, a tile of CB output channels × NV vectors
// of 16 frequency bins lives in registers while every (ci, ky, kx) term is added in that order;
// the shifted input rows are masked loads (zero padding = masked-off lanes), so nothing is copied
// (no im2col, no GEMM packing). w is [C_out, C_in, 9]; the sums start from the bias (0 if null).
template <int NV, int CB>
void direct_conv(const float* x, const float* w, const float* bias, int c_in, int c_out, int t,
                 int f, float* y) {
  const int64_t tf = int64_t(t) * f;
  constexpr int kChunk = NV * 16;
  for (int ti = 0; ti < t; ++ti) {
    for (int f0 = 0; f0 < f; f0 += kChunk) {
      __mmask16 in_mask[NV][3], out_mask[NV];
      for (int v = 0; v < NV; ++v) {
        uint32_t om = 0, im[3] = {0, 0, 0};
        for (int l = 0; l < 16; ++l) {
          const int fi = f0 + v * 16 + l;
          if (fi >= f) continue;
          om |= 1u << l;
          for (int kx = 0; kx < 3; ++kx)
            if (fi + kx - 1 >= 0 && fi + kx - 1 < f) im[kx] |= 1u << l;
        }
        out_mask[v] = __mmask16(om);
        for (int kx = 0; kx < 3; ++kx) in_mask[v][kx] = __mmask16(im[kx]);
      }
      for (int co0 = 0; co0 < c_out; co0 += CB) {
        const int cb = std::min(CB, c_out - co0);
        const float* wc[CB];
        for (int c = 0; c < CB; ++c) wc[c] = w + int64_t(std::min(co0 + c, c_out - 1)) * c_in * 9;
        __m512 acc[CB][NV];
        for (int c = 0; c < CB; ++c) {
          const int co = std::min(co0 + c, c_out - 1);
          for (int v = 0; v < NV; ++v) acc[c][v] = _mm512_set1_ps(bias ? bias[co] : 0.0f);
        }
        for (int ci = 0; ci < c_in; ++ci) {
          for (int ky = 0; ky < 3; ++ky) {
            const int ts = ti + ky - 1;
            if (ts < 0 || ts >= t) continue;
            const float* src = x + ci * tf + int64_t(ts) * f + f0;
            for (int kx = 0; kx < 3; ++kx) {
              __m512 xv[NV];
              for (int v = 0; v < NV; ++v)
                xv[v] = _mm512_maskz_loadu_ps(in_mask[v][kx], src + v * 16 + kx - 1);
              const int k = ci * 9 + ky * 3 + kx;
#pragma GCC unroll 16
              for (int c = 0; c < CB; ++c) {
                const __m512 wv = _mm512_set1_ps(wc[c][k]);
#pragma GCC unroll 8
                for (int v = 0; v < NV; ++v) acc[c][v] = _mm512_fmadd_ps(wv, xv[v], acc[c][v]);
              }
            }
          }
        }
        for (int c = 0; c < cb; ++c)
          for (int v = 0; v < NV; ++v)
            _mm512_mask_storeu_ps(y + (co0 + c) * tf + int64_t(ti) * f + f0 + v * 16, out_mask[v],
                                  acc[c][v]);
      }
    }
  }
}

void direct_dispatch(const float* x, const float* w, const float* bias, int c_in, int c_out, int t,
                     int f, float* y) {
  // 2 vectors × 8 channels: the best of the tiles tried on the recipe's block 2 (4×6, 4×4, 2×8,
  // 2×12) on an AVX-512 Xeon; narrower rows take one vector × 16 channels.
  if (f >= 32)
    direct_conv<2, 8>(x, w, bias, c_in, c_out, t, f, y);
  else
    direct_conv<1, 16>(x, w, bias, c_in, c_out, t, f, y);
}
}  // namespace
#endif

bool conv3x3_direct_available() {
  return GREENSED_SIMD_WIDTH == 16;
}

bool conv3x3_use_direct(int c_in, int c_out, int f) {
  (void)c_out;
  return conv3x3_direct_available() && c_in >= kConvDirectMinCin && f >= kConvDirectMinF;
}

void conv3x3_direct_forward(const float* x, const float* w, const float* bias, int c_in, int c_out,
                            int t, int f, float* y) {
#if GREENSED_SIMD_WIDTH == 16
  direct_dispatch(x, w, bias, c_in, c_out, t, f, y);
#else
  (void)x, (void)w, (void)bias, (void)c_in, (void)c_out, (void)t, (void)f, (void)y;
  GREENSED_CHECK(false, "conv3x3_direct_forward needs an AVX-512 build");
#endif
}

void conv3x3_forward(const float* x, const float* w, const float* bias, int c_in, int c_out, int t,
                     int f, float* col, float* y) {
  if (conv3x3_use_direct(c_in, c_out, f)) {
    conv3x3_direct_forward(x, w, bias, c_in, c_out, t, f, y);
    return;
  }
  const int tf = t * f;
  im2col_3x3(x, c_in, t, f, col);
  for (int co = 0; co < c_out; ++co)
    std::fill(y + int64_t(co) * tf, y + int64_t(co + 1) * tf, bias[co]);
  gemm(false, false, c_out, tf, c_in * 9, 1.0f, w, c_in * 9, col, tf, 1.0f, y, tf);
}

void conv3x3_backward_data(const float* grad_y, const float* w, int c_in, int c_out, int t, int f,
                           float* col, float* grad_x) {
  const int tf = t * f;
  gemm(true, false, c_in * 9, tf, c_out, 1.0f, w, c_in * 9, grad_y, tf, 0.0f, col, tf);
  col2im_3x3_add(col, c_in, t, f, grad_x);
}

void conv3x3_backward_weights(const float* x, const float* grad_y, int c_in, int c_out, int t,
                              int f, float* col, bool col_ready, float* grad_w, float* grad_bias) {
  const int tf = t * f;
  if (grad_w != nullptr) {
    if (!col_ready) im2col_3x3(x, c_in, t, f, col);
    gemm(false, true, c_out, c_in * 9, tf, 1.0f, grad_y, tf, col, tf, 1.0f, grad_w, c_in * 9);
  }
  if (grad_bias != nullptr) {
    for (int co = 0; co < c_out; ++co) {
      grad_bias[co] += float(sum_lanes(grad_y + int64_t(co) * tf, tf));
    }
  }
}

// Plain loops: the definition the optimised path is tested against.
namespace {
inline float at(const float* x, int t, int f, int ti, int fi) {
  return (ti < 0 || ti >= t || fi < 0 || fi >= f) ? 0.0f : x[int64_t(ti) * f + fi];
}
}  // namespace

void im2col_3x3_reference(const float* x, int c_in, int t, int f, float* col) {
  const int64_t tf = int64_t(t) * f;
  for (int ci = 0; ci < c_in; ++ci)
    for (int k = 0; k < 9; ++k)
      for (int ti = 0; ti < t; ++ti)
        for (int fi = 0; fi < f; ++fi)
          col[(int64_t(ci) * 9 + k) * tf + int64_t(ti) * f + fi] =
              at(x + ci * tf, t, f, ti + k / 3 - 1, fi + k % 3 - 1);
}

void conv3x3_forward_reference(const float* x, const float* w, const float* bias, int c_in,
                               int c_out, int t, int f, float* y) {
  const int64_t tf = int64_t(t) * f;
  for (int co = 0; co < c_out; ++co) {
    for (int ti = 0; ti < t; ++ti) {
      for (int fi = 0; fi < f; ++fi) {
        double sum = bias[co];
        for (int ci = 0; ci < c_in; ++ci) {
          for (int ky = 0; ky < 3; ++ky) {
            for (int kx = 0; kx < 3; ++kx) {
              sum += double(w[((co * c_in + ci) * 3 + ky) * 3 + kx]) *
                     at(x + ci * tf, t, f, ti + ky - 1, fi + kx - 1);
            }
          }
        }
        y[co * tf + int64_t(ti) * f + fi] = float(sum);
      }
    }
  }
}

void conv3x3_backward_data_reference(const float* grad_y, const float* w, int c_in, int c_out,
                                     int t, int f, float* grad_x) {
  const int64_t tf = int64_t(t) * f;
  for (int ci = 0; ci < c_in; ++ci) {
    for (int ti = 0; ti < t; ++ti) {
      for (int fi = 0; fi < f; ++fi) {
        double sum = 0.0;
        for (int co = 0; co < c_out; ++co) {
          for (int ky = 0; ky < 3; ++ky) {
            for (int kx = 0; kx < 3; ++kx) {
              // y[ti'] uses x[ti' + ky − 1] → x[ti] feeds y[ti − ky + 1].
              sum += double(w[((co * c_in + ci) * 3 + ky) * 3 + kx]) *
                     at(grad_y + co * tf, t, f, ti - ky + 1, fi - kx + 1);
            }
          }
        }
        grad_x[ci * tf + int64_t(ti) * f + fi] += float(sum);
      }
    }
  }
}

void conv3x3_backward_weights_reference(const float* x, const float* grad_y, int c_in, int c_out,
                                        int t, int f, float* grad_w, float* grad_bias) {
  const int64_t tf = int64_t(t) * f;
  for (int co = 0; co < c_out; ++co) {
    if (grad_bias != nullptr) {
      double sum = 0.0;
      for (int64_t i = 0; i < tf; ++i) sum += grad_y[co * tf + i];
      grad_bias[co] += float(sum);
    }
    if (grad_w == nullptr) continue;
    for (int ci = 0; ci < c_in; ++ci) {
      for (int ky = 0; ky < 3; ++ky) {
        for (int kx = 0; kx < 3; ++kx) {
          double sum = 0.0;
          for (int ti = 0; ti < t; ++ti) {
            for (int fi = 0; fi < f; ++fi) {
              sum += double(grad_y[co * tf + int64_t(ti) * f + fi]) *
                     at(x + ci * tf, t, f, ti + ky - 1, fi + kx - 1);
            }
          }
          grad_w[((co * c_in + ci) * 3 + ky) * 3 + kx] += float(sum);
        }
      }
    }
  }
}

}  // namespace greensed::kernels
