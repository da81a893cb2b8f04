#include "greensed/kernels/winograd.hpp"

#include <algorithm>
#include <cstring>

#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/math.hpp"
#include "greensed/kernels/simd.hpp"

namespace greensed::kernels {
namespace {

// F(M×M, 3×3): each tile of M × M outputs comes from N × N inputs, N = M + 2, through N² products
// per input channel (transform points ξ = N·row + column). The transforms' rows over n channels:
// bt (Bᵀ, N → N), at (Aᵀ, N → M) and a (its adjoint A, M → N), written once for vectors and
// floats; G (N × 3) turns a filter into U = G g Gᵀ (its entries rounded to float once).
template <int M>
struct Tile;

// F(2×2, 3×3), points 0, 1, −1 and ∞: exact in float but for the sums' rounding.
template <>
struct Tile<2> {
  static constexpr int N = 4;
  // Tile rows are transformed, multiplied and transformed back in chunks of about this many
  // tiles: wide enough for the GEMMs, small enough that a chunk's V and M stay near the core (the
  // forward's and the weight gradient's).
  static constexpr int kChunkTiles = 128;
  static constexpr int kWeightChunkTiles = 128;
  static constexpr double G[N][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  template <class V>
  static void bt(const V* x, V* y) {
    y[0] = x[0] - x[2], y[1] = x[1] + x[2], y[2] = x[2] - x[1], y[3] = x[1] - x[3];
  }
  template <class V>
  static void at(const V* x, V* y) {
    y[0] = x[0] + x[1] + x[2], y[1] = x[1] - x[2] - x[3];
  }
  template <class V>
  static void a(const V* x, V* y) {
    y[0] = x[0], y[1] = x[0] + x[1], y[2] = x[0] - x[1], y[3] = -x[1];
  }
};

// F(4×4, 3×3), points 0, 1, −1, 1/2, −2 and ∞: 36 products per 16 outputs instead of 16 per 4.
// The points trade Lavin & Gray's ±2 (coefficients up to 8 after the products) for 1/2 and −2,
// which cuts the float error against the double reference on the recipe's blocks about 2.5-fold
// (2.2e-5 → 8.7e-6 on block 5; Barabasz et al. 2020, "Error analysis and improving the accuracy
// of Winograd convolution"; the error is stated in the test).
template <>
struct Tile<4> {
  static constexpr int N = 6;
  // 2.25× more transformed values per tile: smaller chunks (bench_crnn_kernels, one thread: 32
  // the fastest forward of 16 … 128, the weight gradient flat from 64 on).
  static constexpr int kChunkTiles = 32;
  static constexpr int kWeightChunkTiles = 64;
  static constexpr double G[N][3] = {{1, 0, 0},
                                     {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                     {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                     {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                     {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                     {0, 0, 1}};
  template <class V>
  static void bt(const V* x, V* y) {
    y[0] = x[0] - 1.5f * x[1] - 2.0f * x[2] + 1.5f * x[3] + x[4];
    y[1] = 0.5f * x[2] + 2.5f * x[3] + x[4] - x[1];
    y[2] = x[1] - 2.5f * x[2] + 0.5f * x[3] + x[4];
    y[3] = 2.0f * (x[3] - x[1]) + x[4] - x[2];
    y[4] = 0.5f * (x[1] - x[3]) + x[4] - x[2];
    y[5] = x[1] - 1.5f * x[2] - 2.0f * x[3] + 1.5f * x[4] + x[5];
  }
  template <class V>
  static void at(const V* x, V* y) {
    const V s = x[1] + x[2], d = x[1] - x[2];
    y[0] = x[0] + s + x[3] + x[4];
    y[1] = d + 0.5f * x[3] - 2.0f * x[4];
    y[2] = s + 0.25f * x[3] + 4.0f * x[4];
    y[3] = d + 0.125f * x[3] - 8.0f * x[4] + x[5];
  }
  template <class V>
  static void a(const V* x, V* y) {
    const V e = x[0] + x[2], o = x[1] + x[3];
    y[0] = x[0];
    y[1] = e + o, y[2] = e - o;
    y[3] = x[0] + 0.5f * x[1] + 0.25f * x[2] + 0.125f * x[3];
    y[4] = x[0] - 2.0f * x[1] + 4.0f * x[2] - 8.0f * x[3];
    y[5] = x[3];
  }
};

template <int M>
int tiles(int n) {
  return (n + M - 1) / M;
}
template <int M>
int chunk_rows(int f, int chunk_tiles = Tile<M>::kChunkTiles) {
  return std::max(1, chunk_tiles / tiles<M>(f));
}

// op maps In input rows to Out output rows over n channels, lane block by lane block (explicit
// vectors, the last block masked: with the rows as local pointers, GCC left these loops scalar),
// then channel by channel where there is no SIMD.
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

// dst[c·dst_stride + r] = src[r·src_stride + c] for r < rows, c < cols: the layout changes
// between channel-major planes and the channels-last transforms. 16 × 16 blocks through registers
// on AVX-512 (a strided scalar copy was most of the transforms' time), plain loops otherwise.
#if GREENSED_SIMD_WIDTH == 16
[[gnu::always_inline]] inline void transpose_16x16(__m512 r[16]) {
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

// The chunk's input rows M·i0 − 1 … M·i1 (zero outside the plane and in the border columns),
// channels last: xt[(row − M·i0 + 1)·W + col + 1][ci], W = M·nf + 2 (even a partial last tile has
// all its columns). Channels last makes every transform below a loop over contiguous channels.
template <int M>
void gather_rows(const float* x, int c_in, int t, int f, int i0, int i1, float* xt) {
  const int w = M * tiles<M>(f) + 2;
  const int n_rows = M * (i1 - i0) + 2;
  const int64_t tf = int64_t(t) * f;
  for (int r = 0; r < n_rows; ++r) {
    const int row = M * i0 - 1 + r;
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

// V = Bᵀ d B of every tile of the chunk: v[ξ][tile][ci]. tmp: N²·c_in.
template <int M>
void input_transform(const float* xt, int c_in, int nf, int n_tile_rows, float* v, int64_t n,
                     float* tmp) {
  constexpr int N = Tile<M>::N;
  const auto bt = [](const auto* x, auto* y) { Tile<M>::bt(x, y); };
  const int w = M * nf + 2;
  const int64_t plane = n * c_in;  // one ξ
  for (int i = 0; i < n_tile_rows; ++i)
    for (int j = 0; j < nf; ++j) {
      // d(r, c) = xt[(M·i + r)·W + M·j + c]; rows first: tmp[N·a + c] = (Bᵀ d)[a][c].
      for (int c = 0; c < N; ++c) {
        const float* in[N];
        float* out[N];
        for (int r = 0; r < N; ++r) in[r] = xt + (int64_t(M * i + r) * w + M * j + c) * c_in;
        for (int a = 0; a < N; ++a) out[a] = tmp + (N * a + c) * c_in;
        lanes(in, out, c_in, bt);
      }
      // Then columns: V[N·a + b] = (Bᵀ d B)[a][b].
      float* vt = v + (int64_t(i) * nf + j) * c_in;
      for (int a = 0; a < N; ++a) {
        const float* in[N];
        float* out[N];
        for (int b = 0; b < N; ++b) in[b] = tmp + (N * a + b) * c_in;
        for (int b = 0; b < N; ++b) out[b] = vt + (N * a + b) * plane;
        lanes(in, out, c_in, bt);
      }
    }
}

// y = Aᵀ m A + bias of every tile of the chunk (tile rows i0 …), m[ξ][tile][co]; outputs outside
// the plane (a partial last tile) are dropped. tmp: N·M·c_out + M·(M·nf)·c_out.
template <int M>
void output_transform(const float* m, const float* bias, int c_out, int t, int f, int i0,
                      int n_tile_rows, int64_t n, float* y, float* tmp) {
  constexpr int N = Tile<M>::N;
  const auto at = [](const auto* x, auto* y) { Tile<M>::at(x, y); };
  const auto at_bias = [](const auto* x, auto* y) {  // x[N]: the bias
    Tile<M>::at(x, y);
    for (int b = 0; b < M; ++b) y[b] += x[N];
  };
  const int nf = tiles<M>(f);
  const int64_t plane = n * c_out, tf = int64_t(t) * f, row_floats = int64_t(M) * nf * c_out;
  float* rows = tmp + N * M * c_out;  // the tile row's M output rows, channels last
  for (int i = 0; i < n_tile_rows; ++i) {
    for (int j = 0; j < nf; ++j) {
      const float* mt = m + (int64_t(i) * nf + j) * c_out;
      // Rows first: tmp[N·a + c] = (Aᵀ m)[a][c].
      for (int c = 0; c < N; ++c) {
        const float* in[N];
        float* out[M];
        for (int r = 0; r < N; ++r) in[r] = mt + (N * r + c) * plane;
        for (int a = 0; a < M; ++a) out[a] = tmp + (N * a + c) * c_out;
        lanes(in, out, c_out, at);
      }
      // Then columns, + bias: rows[a][M·j + b][co].
      for (int a = 0; a < M; ++a) {
        const float* in[N + 1];  // the bias last
        float* out[M];
        for (int c = 0; c < N; ++c) in[c] = tmp + (N * a + c) * c_out;
        in[N] = bias;
        for (int b = 0; b < M; ++b) out[b] = rows + a * row_floats + int64_t(M * j + b) * c_out;
        if (bias != nullptr) {
          lanes(in, out, c_out, at_bias);
        } else {
          const float* in_m[N];
          std::copy(in, in + N, in_m);
          lanes(in_m, out, c_out, at);
        }
      }
    }
    // Channel-major output rows M·i … M·i + M − 1 (where they exist): [F, C_out] → [C_out, F].
    for (int a = 0; a < M; ++a) {
      const int row = M * (i0 + i) + a;
      if (row >= t) continue;
      transpose(rows + a * row_floats, c_out, f, c_out, y + int64_t(row) * f, tf);
    }
  }
}

// dM = A dY Aᵀ (the adjoint of the output transform) of every tile of the chunk, dm[ξ][tile][co],
// from the output gradient's rows M·i … M·i + M − 1 (zero beyond T and F). tmp: M·(M·nf)·c_out +
// N·M·c_out.
template <int M>
void output_transform_adjoint(const float* gy, int c_out, int t, int f, int i0, int n_tile_rows,
                              int64_t n, float* dm, float* tmp) {
  constexpr int N = Tile<M>::N;
  const auto a_op = [](const auto* x, auto* y) { Tile<M>::a(x, y); };
  const int nf = tiles<M>(f);
  const int64_t plane = n * c_out, tf = int64_t(t) * f, row_floats = int64_t(M) * nf * c_out;
  float* rows = tmp;                 // [M][M·nf][c_out]: the tile row's output-gradient rows
  float* q = rows + M * row_floats;  // [N][M][c_out]: A dY
  for (int i = 0; i < n_tile_rows; ++i) {
    for (int a = 0; a < M; ++a) {
      const int row = M * (i0 + i) + a;
      float* dst = rows + a * row_floats;
      if (row >= t) {
        std::memset(dst, 0, sizeof(float) * row_floats);
        continue;
      }
      transpose(gy + int64_t(row) * f, tf, c_out, f, dst, c_out);  // [C_out, F] → [F, C_out]
      std::memset(dst + int64_t(f) * c_out, 0, sizeof(float) * (int64_t(M) * nf - f) * c_out);
    }
    for (int j = 0; j < nf; ++j) {
      // Rows: q[r][b] = Σ_a A[r][a] dY[a][b]; then columns: dM[N·r + c] = Σ_b A[c][b] q[r][b].
      for (int b = 0; b < M; ++b) {
        const float* in[M];
        float* out[N];
        for (int a = 0; a < M; ++a) in[a] = rows + a * row_floats + int64_t(M * j + b) * c_out;
        for (int r = 0; r < N; ++r) out[r] = q + (M * r + b) * c_out;
        lanes(in, out, c_out, a_op);
      }
      float* mt = dm + (int64_t(i) * nf + j) * c_out;
      for (int r = 0; r < N; ++r) {
        const float* in[M];
        float* out[N];
        for (int b = 0; b < M; ++b) in[b] = q + (M * r + b) * c_out;
        for (int c = 0; c < N; ++c) out[c] = mt + (N * r + c) * plane;
        lanes(in, out, c_out, a_op);
      }
    }
  }
}

// The transforms' working rows (any of the three above), after a chunk's gathered rows, V and M.
template <int M>
int64_t tmp_floats(int c_in, int c_out, int f) {
  constexpr int N = Tile<M>::N;
  return N * N * int64_t(std::max(c_in, c_out)) + int64_t(M) * M * tiles<M>(f) * c_out;
}

template <int M>
int64_t scratch_floats(int c_in, int c_out, int t, int f, int chunk_tiles) {
  constexpr int N = Tile<M>::N;
  const int nf = tiles<M>(f);
  const int rows = std::min(chunk_rows<M>(f, chunk_tiles), tiles<M>(t));
  const int64_t chunk = int64_t(rows) * nf;
  const int64_t gathered = int64_t(M * rows + 2) * (M * nf + 2) * c_in;
  return gathered + N * N * chunk * (int64_t(c_in) + c_out) + tmp_floats<M>(c_in, c_out, f);
}

// The filter transform's rows over lanes of output channels: y[r] = Σ_a G[r][a]·x[a] (3 → N)
// and its adjoint y[a] = Σ_r G[r][a]·x[r] (N → 3).
template <int M>
void g_row(const auto* x, auto* y) {
  const auto& G = Tile<M>::G;
  for (int r = 0; r < Tile<M>::N; ++r)
    y[r] = float(G[r][0]) * x[0] + float(G[r][1]) * x[1] + float(G[r][2]) * x[2];
}
template <int M>
void gt_row(const auto* x, auto* y) {
  const auto& G = Tile<M>::G;
  for (int a = 0; a < 3; ++a) {
    y[a] = float(G[0][a]) * x[0];
    for (int r = 1; r < Tile<M>::N; ++r) y[a] += float(G[r][a]) * x[r];
  }
}

// Output channels at a time in the filter transforms (their rows live on the stack).
constexpr int kFilterLanes = 64;

// U = G g Gᵀ, vectorised over output channels: each input channel's filters are transposed to
// [tap][co] (16 × 16 register blocks), then G runs down the columns and across the rows.
template <int M>
void transform_weights(const float* w, int c_in, int c_out, float* u) {
  constexpr int N = Tile<M>::N;
  const auto g = [](const auto* x, auto* y) { g_row<M>(x, y); };
  const int64_t plane = int64_t(c_out) * c_in;
  float gt[9][kFilterLanes], gg[N][3][kFilterLanes];
  for (int ci = 0; ci < c_in; ++ci)
    for (int co0 = 0; co0 < c_out; co0 += kFilterLanes) {
      const int nb = std::min(kFilterLanes, c_out - co0);
      transpose(w + (int64_t(co0) * c_in + ci) * 9, int64_t(c_in) * 9, nb, 9, gt[0], kFilterLanes);
      for (int k = 0; k < 3; ++k) {  // (G g)[r][k] from the filter's column k
        const float* in[3] = {gt[k], gt[3 + k], gt[6 + k]};
        float* out[N];
        for (int r = 0; r < N; ++r) out[r] = gg[r][k];
        lanes(in, out, nb, g);
      }
      for (int r = 0; r < N; ++r) {  // U[r][c] = Σ_k (G g)[r][k] G[c][k]
        const float* in[3] = {gg[r][0], gg[r][1], gg[r][2]};
        float* out[N];
        for (int c = 0; c < N; ++c) out[c] = u + (r * N + c) * plane + int64_t(ci) * c_out + co0;
        lanes(in, out, nb, g);
      }
    }
}

// grad_w += Gᵀ dU G (the adjoint of U = G g Gᵀ), vectorised as transform_weights is.
template <int M>
void transform_weights_adjoint(const float* du, int c_in, int c_out, float* grad_w) {
  constexpr int N = Tile<M>::N;
  const auto gt_op = [](const auto* x, auto* y) { gt_row<M>(x, y); };
  const int64_t plane = int64_t(c_out) * c_in;
  float h[3][N][kFilterLanes], dw[9][kFilterLanes], dwt[kFilterLanes][9];
  for (int ci = 0; ci < c_in; ++ci)
    for (int co0 = 0; co0 < c_out; co0 += kFilterLanes) {
      const int nb = std::min(kFilterLanes, c_out - co0);
      for (int r = 0; r < N; ++r) {  // h[k][r] = Σ_c dU[r][c] G[c][k]
        const float* in[N];
        for (int c = 0; c < N; ++c) in[c] = du + (N * r + c) * plane + int64_t(ci) * c_out + co0;
        float* out[3] = {h[0][r], h[1][r], h[2][r]};
        lanes(in, out, nb, gt_op);
      }
      for (int k = 0; k < 3; ++k) {  // dW[a][k] = Σ_r G[r][a] h[k][r]
        const float* in[N];
        for (int r = 0; r < N; ++r) in[r] = h[k][r];
        float* out[3] = {dw[k], dw[3 + k], dw[6 + k]};
        lanes(in, out, nb, gt_op);
      }
      transpose(dw[0], kFilterLanes, 9, nb, dwt[0], 9);
      for (int co = 0; co < nb; ++co) {
        float* gw = grad_w + (int64_t(co0 + co) * c_in + ci) * 9;
        for (int j = 0; j < 9; ++j) gw[j] += dwt[co][j];
      }
    }
}

template <int M>
void forward(const float* x, const float* u, const float* bias, int c_in, int c_out, int t, int f,
             float* scratch, float* y) {
  constexpr int N = Tile<M>::N;
  const int nt = tiles<M>(t), nf = tiles<M>(f);
  const int rows = std::min(chunk_rows<M>(f), nt);
  const int64_t chunk = int64_t(rows) * nf;
  const int64_t plane = int64_t(c_out) * c_in;
  float* xt = scratch;                                          // the chunk's rows, channels last
  float* v = xt + int64_t(M * rows + 2) * (M * nf + 2) * c_in;  // [N²][chunk tiles][c_in]
  float* m = v + N * N * chunk * c_in;                          // [N²][chunk tiles][c_out]
  float* tmp = m + N * N * chunk * c_out;                       // tmp_floats
  for (int i0 = 0; i0 < nt; i0 += rows) {
    const int i1 = std::min(nt, i0 + rows);
    const int64_t n = int64_t(i1 - i0) * nf;  // tiles in this chunk
    gather_rows<M>(x, c_in, t, f, i0, i1, xt);
    input_transform<M>(xt, c_in, nf, i1 - i0, v, n, tmp);
    for (int xi = 0; xi < N * N; ++xi)
      gemm(false, false, int(n), c_out, c_in, 1.0f, v + xi * n * c_in, c_in, u + xi * plane, c_out,
           0.0f, m + xi * n * c_out, c_out);
    output_transform<M>(m, bias, c_out, t, f, i0, i1 - i0, n, y, tmp);
  }
}

template <int M>
void backward_weights(const float* x, const float* grad_y, int c_in, int c_out, int t, int f,
                      float* scratch, float* grad_w) {
  constexpr int N = Tile<M>::N;
  const int nt = tiles<M>(t), nf = tiles<M>(f);
  const int rows = std::min(chunk_rows<M>(f, Tile<M>::kWeightChunkTiles), nt);
  const int64_t chunk = int64_t(rows) * nf;
  const int64_t plane = int64_t(c_in) * c_out;
  float* xt = scratch;
  float* v = xt + int64_t(M * rows + 2) * (M * nf + 2) * c_in;  // [N²][chunk tiles][c_in]
  float* dm = v + N * N * chunk * c_in;                         // [N²][chunk tiles][c_out]
  float* tmp = dm + N * N * chunk * c_out;                      // tmp_floats
  float* du = tmp + tmp_floats<M>(c_in, c_out, f);              // dU[ξ][ci][co]
  std::memset(du, 0, sizeof(float) * N * N * plane);
  for (int i0 = 0; i0 < nt; i0 += rows) {
    const int i1 = std::min(nt, i0 + rows);
    const int64_t n = int64_t(i1 - i0) * nf;
    gather_rows<M>(x, c_in, t, f, i0, i1, xt);
    input_transform<M>(xt, c_in, nf, i1 - i0, v, n, tmp);
    output_transform_adjoint<M>(grad_y, c_out, t, f, i0, i1 - i0, n, dm, tmp);
    for (int xi = 0; xi < N * N; ++xi)
      gemm(true, false, c_in, c_out, int(n), 1.0f, v + xi * n * c_in, c_in, dm + xi * n * c_out,
           c_out, 1.0f, du + xi * plane, c_out);
  }
  transform_weights_adjoint<M>(du, c_in, c_out, grad_w);
}

}  // namespace

int conv3x3_winograd_tile(int c_in, int c_out, int t, int f) {
  (void)c_out, (void)t;
  if (c_in < kWinogradMinCin) return 0;
  return f >= kWinograd4MinF ? 4 : 2;
}

int64_t winograd_weight_floats(int c_in, int c_out, int m) {
  return int64_t(m + 2) * (m + 2) * c_in * c_out;
}

void winograd_transform_weights(const float* w, int c_in, int c_out, int m, float* u) {
  if (m == 4)
    transform_weights<4>(w, c_in, c_out, u);
  else
    transform_weights<2>(w, c_in, c_out, u);
}

int64_t winograd_scratch_floats(int c_in, int c_out, int t, int f, int m) {
  return m == 4 ? scratch_floats<4>(c_in, c_out, t, f, Tile<4>::kChunkTiles)
                : scratch_floats<2>(c_in, c_out, t, f, Tile<2>::kChunkTiles);
}

void conv3x3_winograd_forward(const float* x, const float* u, const float* bias, int c_in,
                              int c_out, int t, int f, int m, float* scratch, float* y) {
  if (m == 4)
    forward<4>(x, u, bias, c_in, c_out, t, f, scratch, y);
  else
    forward<2>(x, u, bias, c_in, c_out, t, f, scratch, y);
}

int64_t winograd_backward_weights_scratch_floats(int c_in, int c_out, int t, int f, int m) {
  const int64_t chunk = m == 4 ? scratch_floats<4>(c_in, c_out, t, f, Tile<4>::kWeightChunkTiles)
                               : scratch_floats<2>(c_in, c_out, t, f, Tile<2>::kWeightChunkTiles);
  return chunk + winograd_weight_floats(c_in, c_out, m);
}

void conv3x3_winograd_backward_weights(const float* x, const float* grad_y, int c_in, int c_out,
                                       int t, int f, int m, float* scratch, float* grad_w,
                                       float* grad_bias) {
  if (m == 4)
    backward_weights<4>(x, grad_y, c_in, c_out, t, f, scratch, grad_w);
  else
    backward_weights<2>(x, grad_y, c_in, c_out, t, f, scratch, grad_w);
  if (grad_bias != nullptr) {
    const int64_t tf = int64_t(t) * f;
    for (int co = 0; co < c_out; ++co)
      grad_bias[co] += float(sum_lanes(grad_y + int64_t(co) * tf, tf));
  }
}

}  // namespace greensed::kernels
