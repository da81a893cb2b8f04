#include "greensed/kernels/winograd.hpp"

#include <algorithm>
#include <cstring>

#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/math.hpp"
#include "greensed/kernels/simd.hpp"

namespace greensed::kernels {
namespace {

// Tile rows are transformed, multiplied and transformed back in chunks of about this many tiles:
// wide enough for the GEMMs, small enough that a chunk's V and M stay in the core's L2.
constexpr int kChunkTiles = 128;

int tiles_t(int t) {
  return (t + 1) / 2;
}
int tiles_f(int f) {
  return (f + 1) / 2;
}
int chunk_rows(int f) {
  return std::max(1, kChunkTiles / tiles_f(f));
}

// The transforms' rows, over n channels: op maps In input values to Out output values, applied
// lane block by lane block (explicit vectors, the last block masked: with the rows as local
// pointers, GCC left these loops scalar), then channel by channel where there is no SIMD. op is
// written once for both (GCC's vector types take + and −).
template <int In, int Out, class Op>
void lanes(const float* const (&in)[In], float* const (&out)[Out], int n, Op op) {
  int k = 0;
#if GREENSED_SIMD_WIDTH > 0
  for (; k < n; k += simd::kWidth) {
    const int m = std::min(simd::kWidth, n - k);
    simd::Vec x[In], y[Out];
    for (int i = 0; i < In; ++i) x[i] = simd::load(in[i] + k, m);
    op(x, y);
    for (int o = 0; o < Out; ++o) simd::store(out[o] + k, y[o], m);
  }
#endif
  for (; k < n; ++k) {
    float x[In], y[Out];
    for (int i = 0; i < In; ++i) x[i] = in[i][k];
    op(x, y);
    for (int o = 0; o < Out; ++o) out[o][k] = y[o];
  }
}

// Bᵀ: o0 = a − c, o1 = b + c, o2 = c − b, o3 = b − d.
void bt_row(const float* a, const float* b, const float* c, const float* d, float* o0, float* o1,
            float* o2, float* o3, int n) {
  lanes<4, 4>({a, b, c, d}, {o0, o1, o2, o3}, n, [](const auto* x, auto* y) {
    y[0] = x[0] - x[2], y[1] = x[1] + x[2], y[2] = x[2] - x[1], y[3] = x[1] - x[3];
  });
}

// Aᵀ: o0 = a + b + c, o1 = b − c − d.
void at_row(const float* a, const float* b, const float* c, const float* d, float* o0, float* o1,
            int n) {
  lanes<4, 2>({a, b, c, d}, {o0, o1}, n,
              [](const auto* x, auto* y) { y[0] = x[0] + x[1] + x[2], y[1] = x[1] - x[2] - x[3]; });
}

// A (the adjoint of Aᵀ's rows): o0 = a, o1 = a + b, o2 = a − b, o3 = −b.
void a_row(const float* a, const float* b, float* o0, float* o1, float* o2, float* o3, int n) {
  lanes<2, 4>({a, b}, {o0, o1, o2, o3}, n, [](const auto* x, auto* y) {
    y[0] = x[0], y[1] = x[0] + x[1], y[2] = x[0] - x[1], y[3] = -x[1];
  });
}

// dst[c·dst_stride + r] = src[r·src_stride + c] for r < rows, c < cols: the layout changes
// between channel-major planes and the channels-last transforms. 16 × 16 blocks through registers
// on AVX-512 (a strided scalar copy was most of the transforms' time), plain loops otherwise.
#if GREENSED_SIMD_WIDTH == 16
void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}
#endif

void transpose(const float* src, int64_t src_stride, int rows, int cols, float* dst,
               int64_t dst_stride) {
#if GREENSED_SIMD_WIDTH == 16
  for (int r0 = 0; r0 < rows; r0 += 16) {
    const int nr = std::min(16, rows - r0);
    for (int c0 = 0; c0 < cols; c0 += 16) {
      const int nc = std::min(16, cols - c0);
      __m512 v[16];
      for (int i = 0; i < 16; ++i)
        v[i] = i < nr ? simd::load(src + (r0 + i) * src_stride + c0, nc) : _mm512_setzero_ps();
      transpose_16x16(v);
      for (int i = 0; i < nc; ++i) simd::store(dst + (c0 + i) * dst_stride + r0, v[i], nr);
    }
  }
#else
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) dst[c * dst_stride + r] = src[r * src_stride + c];
#endif
}

// The chunk's input rows 2·i0 − 1 … 2·i1 (zero outside the plane and in the border columns),
// channels last: xt[(row − 2·i0 + 1)·W + col + 1][ci], W = 2·nf + 2 (even a partial last tile has
// its four columns). Channels last makes every transform below a loop over contiguous channels.
void gather_rows(const float* x, int c_in, int t, int f, int i0, int i1, float* xt) {
  const int w = 2 * tiles_f(f) + 2;
  const int n_rows = 2 * (i1 - i0) + 2;
  const int64_t tf = int64_t(t) * f;
  for (int r = 0; r < n_rows; ++r) {
    const int row = 2 * i0 - 1 + r;
    float* dst = xt + int64_t(r) * w * c_in;
    if (row < 0 || row >= t) {
      std::memset(dst, 0, sizeof(float) * int64_t(w) * c_in);
      continue;
    }
    // Zero border columns (col −1 and col ≥ F), then [C_in, F] (channel stride T·F) → [F, C_in].
    std::memset(dst, 0, sizeof(float) * c_in);
    std::memset(dst + int64_t(f + 1) * c_in, 0, sizeof(float) * int64_t(w - f - 1) * c_in);
    transpose(x + int64_t(row) * f, tf, c_in, f, dst + c_in, c_in);
  }
}

// V = Bᵀ d B of every tile of the chunk: v[ξ][tile][ci], ξ = 4·row + column. tmp: 16·c_in.
void input_transform(const float* xt, int c_in, int nf, int n_tile_rows, float* v, int64_t n,
                     float* tmp) {
  const int w = 2 * nf + 2;
  const int64_t plane = n * c_in;  // one ξ
  for (int i = 0; i < n_tile_rows; ++i)
    for (int j = 0; j < nf; ++j) {
      // d(r, c) = xt[(2i + r)·W + 2j + c]; rows first: tmp[4a + c] = (Bᵀ d)[a][c].
      for (int c = 0; c < 4; ++c) {
        const float* d0 = xt + (int64_t(2 * i + 0) * w + 2 * j + c) * c_in;
        const float* d1 = xt + (int64_t(2 * i + 1) * w + 2 * j + c) * c_in;
        const float* d2 = xt + (int64_t(2 * i + 2) * w + 2 * j + c) * c_in;
        const float* d3 = xt + (int64_t(2 * i + 3) * w + 2 * j + c) * c_in;
        bt_row(d0, d1, d2, d3, tmp + (0 + c) * c_in, tmp + (4 + c) * c_in, tmp + (8 + c) * c_in,
               tmp + (12 + c) * c_in, c_in);
      }
      // Then columns: V[4a + b] = (Bᵀ d B)[a][b].
      float* vt = v + (int64_t(i) * nf + j) * c_in;
      for (int a = 0; a < 4; ++a) {
        const float* s0 = tmp + (4 * a + 0) * c_in;
        const float* s1 = tmp + (4 * a + 1) * c_in;
        const float* s2 = tmp + (4 * a + 2) * c_in;
        const float* s3 = tmp + (4 * a + 3) * c_in;
        bt_row(s0, s1, s2, s3, vt + (4 * a + 0) * plane, vt + (4 * a + 1) * plane,
               vt + (4 * a + 2) * plane, vt + (4 * a + 3) * plane, c_in);
      }
    }
}

// y = Aᵀ m A + bias of every tile of the chunk (tile rows i0 …), m[ξ][tile][co]; outputs outside
// the plane (a partial last tile) are dropped. tmp: 8·c_out + 2·(2·nf)·c_out.
void output_transform(const float* m, const float* bias, int c_out, int t, int f, int i0,
                      int n_tile_rows, int64_t n, float* y, float* tmp) {
  const int nf = tiles_f(f);
  const int64_t plane = n * c_out, tf = int64_t(t) * f;
  float* rows = tmp + 8 * c_out;  // the tile row's two output rows, channels last
  for (int i = 0; i < n_tile_rows; ++i) {
    for (int j = 0; j < nf; ++j) {
      const float* mt = m + (int64_t(i) * nf + j) * c_out;
      // Rows first: tmp[4a + c] = (Aᵀ m)[a][c].
      for (int c = 0; c < 4; ++c) {
        const float* m0 = mt + (0 + c) * plane;
        const float* m1 = mt + (4 + c) * plane;
        const float* m2 = mt + (8 + c) * plane;
        const float* m3 = mt + (12 + c) * plane;
        at_row(m0, m1, m2, m3, tmp + (0 + c) * c_out, tmp + (4 + c) * c_out, c_out);
      }
      // Then columns: rows[a][2j + b][co].
      for (int a = 0; a < 2; ++a) {
        const float* s0 = tmp + (4 * a + 0) * c_out;
        const float* s1 = tmp + (4 * a + 1) * c_out;
        const float* s2 = tmp + (4 * a + 2) * c_out;
        const float* s3 = tmp + (4 * a + 3) * c_out;
        float* o0 = rows + (int64_t(a) * 2 * nf + 2 * j) * c_out;
        at_row(s0, s1, s2, s3, o0, o0 + c_out, c_out);
      }
    }
    // Channel-major output rows 2i and 2i + 1 (where they exist): [F, C_out] → [C_out, F], then
    // + bias.
    for (int a = 0; a < 2; ++a) {
      const int row = 2 * (i0 + i) + a;
      if (row >= t) continue;
      float* yr = y + int64_t(row) * f;
      transpose(rows + int64_t(a) * 2 * nf * c_out, c_out, f, c_out, yr, tf);
      if (bias != nullptr)
        for (int k = 0; k < c_out; ++k)
          for (int col = 0; col < f; ++col) yr[k * tf + col] += bias[k];
    }
  }
}

// dM = A dY Aᵀ (the adjoint of the output transform) of every tile of the chunk, dm[ξ][tile][co],
// from the output gradient's rows 2i and 2i + 1 (zero beyond T and F). tmp: 4·nf·c_out +
// 8·c_out.
void output_transform_adjoint(const float* gy, int c_out, int t, int f, int i0, int n_tile_rows,
                              int64_t n, float* dm, float* tmp) {
  const int nf = tiles_f(f);
  const int64_t plane = n * c_out, tf = int64_t(t) * f, row_floats = 2 * int64_t(nf) * c_out;
  float* rows = tmp;                 // [2][2·nf][c_out]: the tile row's output-gradient rows
  float* q = rows + 2 * row_floats;  // [4][2][c_out]: A dY
  for (int i = 0; i < n_tile_rows; ++i) {
    for (int a = 0; a < 2; ++a) {
      const int row = 2 * (i0 + i) + a;
      float* dst = rows + a * row_floats;
      if (row >= t) {
        std::memset(dst, 0, sizeof(float) * row_floats);
        continue;
      }
      transpose(gy + int64_t(row) * f, tf, c_out, f, dst, c_out);  // [C_out, F] → [F, C_out]
      if (f < 2 * nf) std::memset(dst + int64_t(f) * c_out, 0, sizeof(float) * c_out);
    }
    for (int j = 0; j < nf; ++j) {
      // Rows: q[r][b] = Σ_a A[r][a] dY[a][b]; then columns: dM[4r + c] = Σ_b A[c][b] q[r][b].
      for (int b = 0; b < 2; ++b) {
        const float* d0 = rows + (2 * j + b) * int64_t(c_out);
        a_row(d0, d0 + row_floats, q + (0 + b) * c_out, q + (2 + b) * c_out, q + (4 + b) * c_out,
              q + (6 + b) * c_out, c_out);
      }
      float* mt = dm + (int64_t(i) * nf + j) * c_out;
      for (int r = 0; r < 4; ++r)
        a_row(q + (2 * r) * c_out, q + (2 * r + 1) * c_out, mt + (4 * r + 0) * plane,
              mt + (4 * r + 1) * plane, mt + (4 * r + 2) * plane, mt + (4 * r + 3) * plane, c_out);
    }
  }
}

}  // namespace

bool conv3x3_use_winograd(int c_in, int c_out, int t, int f) {
  (void)c_out, (void)t, (void)f;
  return c_in >= kWinogradMinCin;
}

void winograd_transform_weights(const float* w, int c_in, int c_out, float* u) {
  const int64_t plane = int64_t(c_out) * c_in;
  for (int co = 0; co < c_out; ++co)
    for (int ci = 0; ci < c_in; ++ci) {
      const float* g = w + (int64_t(co) * c_in + ci) * 9;
      // G g (4×3), then (G g) Gᵀ (4×4), in double.
      double gg[4][3];
      for (int k = 0; k < 3; ++k) {
        const double g0 = g[k], g1 = g[3 + k], g2 = g[6 + k];
        gg[0][k] = g0;
        gg[1][k] = 0.5 * (g0 + g1 + g2);
        gg[2][k] = 0.5 * (g0 - g1 + g2);
        gg[3][k] = g2;
      }
      for (int r = 0; r < 4; ++r) {
        const double h0 = gg[r][0], h1 = gg[r][1], h2 = gg[r][2];
        const double row[4] = {h0, 0.5 * (h0 + h1 + h2), 0.5 * (h0 - h1 + h2), h2};
        for (int c = 0; c < 4; ++c)
          u[(r * 4 + c) * plane + int64_t(ci) * c_out + co] = float(row[c]);
      }
    }
}

int64_t winograd_scratch_floats(int c_in, int c_out, int t, int f) {
  const int nf = tiles_f(f);
  const int rows = std::min(chunk_rows(f), tiles_t(t));
  const int64_t chunk = int64_t(rows) * nf;
  const int64_t gathered = int64_t(2 * rows + 2) * (2 * nf + 2) * c_in;
  return gathered + 16 * chunk * (int64_t(c_in) + c_out) + 16 * int64_t(std::max(c_in, c_out)) +
         4 * int64_t(nf) * c_out;
}

void conv3x3_winograd_forward(const float* x, const float* u, const float* bias, int c_in,
                              int c_out, int t, int f, float* scratch, float* y) {
  const int nt = tiles_t(t), nf = tiles_f(f);
  const int rows = std::min(chunk_rows(f), nt);
  const int64_t chunk = int64_t(rows) * nf;
  const int64_t plane = int64_t(c_out) * c_in;
  float* xt = scratch;                                          // the chunk's rows, channels last
  float* v = xt + int64_t(2 * rows + 2) * (2 * nf + 2) * c_in;  // [16][chunk tiles][c_in]
  float* m = v + 16 * chunk * c_in;                             // [16][chunk tiles][c_out]
  float* tmp = m + 16 * chunk * c_out;  // 16·max(c_in, c_out) + 4·nf·c_out
  for (int i0 = 0; i0 < nt; i0 += rows) {
    const int i1 = std::min(nt, i0 + rows);
    const int64_t n = int64_t(i1 - i0) * nf;  // tiles in this chunk
    gather_rows(x, c_in, t, f, i0, i1, xt);
    input_transform(xt, c_in, nf, i1 - i0, v, n, tmp);
    for (int xi = 0; xi < 16; ++xi)
      gemm(false, false, int(n), c_out, c_in, 1.0f, v + xi * n * c_in, c_in, u + xi * plane, c_out,
           0.0f, m + xi * n * c_out, c_out);
    output_transform(m, bias, c_out, t, f, i0, i1 - i0, n, y, tmp);
  }
}

int64_t winograd_backward_weights_scratch_floats(int c_in, int c_out, int t, int f) {
  return winograd_scratch_floats(c_in, c_out, t, f) + 4 * int64_t(tiles_f(f)) * c_out +
         16 * int64_t(c_in) * c_out;
}

void conv3x3_winograd_backward_weights(const float* x, const float* grad_y, int c_in, int c_out,
                                       int t, int f, float* scratch, float* grad_w,
                                       float* grad_bias) {
  const int nt = tiles_t(t), nf = tiles_f(f);
  const int rows = std::min(chunk_rows(f), nt);
  const int64_t chunk = int64_t(rows) * nf;
  const int64_t plane = int64_t(c_in) * c_out;
  float* xt = scratch;
  float* v = xt + int64_t(2 * rows + 2) * (2 * nf + 2) * c_in;  // [16][chunk tiles][c_in]
  float* dm = v + 16 * chunk * c_in;                            // [16][chunk tiles][c_out]
  float* tmp = dm + 16 * chunk * c_out;  // 16·max(c_in, c_out) + 8·nf·c_out
  float* du = tmp + 16 * int64_t(std::max(c_in, c_out)) + 8 * int64_t(nf) * c_out;
  std::memset(du, 0, sizeof(float) * 16 * plane);  // dU[ξ][ci][co]
  for (int i0 = 0; i0 < nt; i0 += rows) {
    const int i1 = std::min(nt, i0 + rows);
    const int64_t n = int64_t(i1 - i0) * nf;
    gather_rows(x, c_in, t, f, i0, i1, xt);
    input_transform(xt, c_in, nf, i1 - i0, v, n, tmp);
    output_transform_adjoint(grad_y, c_out, t, f, i0, i1 - i0, n, dm, tmp);
    for (int xi = 0; xi < 16; ++xi)
      gemm(true, false, c_in, c_out, int(n), 1.0f, v + xi * n * c_in, c_in, dm + xi * n * c_out,
           c_out, 1.0f, du + xi * plane, c_out);
  }
  // dW = Gᵀ dU G (the adjoint of U = G g Gᵀ), in double, added to grad_w.
  for (int ci = 0; ci < c_in; ++ci)
    for (int co = 0; co < c_out; ++co) {
      double h[4][3];  // (dU G)[r][kx]
      for (int r = 0; r < 4; ++r) {
        const double u0 = du[(4 * r + 0) * plane + int64_t(ci) * c_out + co],
                     u1 = du[(4 * r + 1) * plane + int64_t(ci) * c_out + co],
                     u2 = du[(4 * r + 2) * plane + int64_t(ci) * c_out + co],
                     u3 = du[(4 * r + 3) * plane + int64_t(ci) * c_out + co];
        h[r][0] = u0 + 0.5 * (u1 + u2);
        h[r][1] = 0.5 * (u1 - u2);
        h[r][2] = 0.5 * (u1 + u2) + u3;
      }
      float* g = grad_w + (int64_t(co) * c_in + ci) * 9;
      for (int kx = 0; kx < 3; ++kx) {
        g[0 * 3 + kx] += float(h[0][kx] + 0.5 * (h[1][kx] + h[2][kx]));
        g[1 * 3 + kx] += float(0.5 * (h[1][kx] - h[2][kx]));
        g[2 * 3 + kx] += float(0.5 * (h[1][kx] + h[2][kx]) + h[3][kx]);
      }
    }
  if (grad_bias != nullptr) {
    const int64_t tf = int64_t(t) * f;
    for (int co = 0; co < c_out; ++co)
      grad_bias[co] += float(sum_lanes(grad_y + int64_t(co) * tf, tf));
  }
}

}  // namespace greensed::kernels
