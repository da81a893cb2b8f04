#include "greensed/kernels/winograd.hpp"

#include <algorithm>
#include <cstring>

#include "greensed/kernels/gemm.hpp"

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

// The chunk's input rows 2·i0 − 1 … 2·i1 (zero outside the plane and in the border columns),
// channels last: xt[(row − 2·i0 + 1)·W + col + 1][ci], W = 2·nf + 2 (even a partial last tile has
// its four columns). Channels last makes every transform below a loop over contiguous channels.
void gather_rows(const float* x, int c_in, int t, int f, int i0, int i1, float* xt) {
  const int w = 2 * tiles_f(f) + 2;
  const int n_rows = 2 * (i1 - i0) + 2;
  const int64_t tf = int64_t(t) * f;
  std::memset(xt, 0, sizeof(float) * int64_t(n_rows) * w * c_in);
  for (int r = 0; r < n_rows; ++r) {
    const int row = 2 * i0 - 1 + r;
    if (row < 0 || row >= t) continue;
    float* __restrict dst = xt + (int64_t(r) * w + 1) * c_in;
    const float* __restrict src = x + int64_t(row) * f;
    for (int col = 0; col < f; ++col)
      for (int ci = 0; ci < c_in; ++ci) dst[int64_t(col) * c_in + ci] = src[ci * tf + col];
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
        const float* __restrict d0 = xt + (int64_t(2 * i + 0) * w + 2 * j + c) * c_in;
        const float* __restrict d1 = xt + (int64_t(2 * i + 1) * w + 2 * j + c) * c_in;
        const float* __restrict d2 = xt + (int64_t(2 * i + 2) * w + 2 * j + c) * c_in;
        const float* __restrict d3 = xt + (int64_t(2 * i + 3) * w + 2 * j + c) * c_in;
        float* __restrict t0 = tmp + (0 + c) * c_in;
        float* __restrict t1 = tmp + (4 + c) * c_in;
        float* __restrict t2 = tmp + (8 + c) * c_in;
        float* __restrict t3 = tmp + (12 + c) * c_in;
        for (int k = 0; k < c_in; ++k) {
          t0[k] = d0[k] - d2[k];
          t1[k] = d1[k] + d2[k];
          t2[k] = d2[k] - d1[k];
          t3[k] = d1[k] - d3[k];
        }
      }
      // Then columns: V[4a + b] = (Bᵀ d B)[a][b].
      float* vt = v + (int64_t(i) * nf + j) * c_in;
      for (int a = 0; a < 4; ++a) {
        const float* __restrict s0 = tmp + (4 * a + 0) * c_in;
        const float* __restrict s1 = tmp + (4 * a + 1) * c_in;
        const float* __restrict s2 = tmp + (4 * a + 2) * c_in;
        const float* __restrict s3 = tmp + (4 * a + 3) * c_in;
        float* __restrict v0 = vt + (4 * a + 0) * plane;
        float* __restrict v1 = vt + (4 * a + 1) * plane;
        float* __restrict v2 = vt + (4 * a + 2) * plane;
        float* __restrict v3 = vt + (4 * a + 3) * plane;
        for (int k = 0; k < c_in; ++k) {
          v0[k] = s0[k] - s2[k];
          v1[k] = s1[k] + s2[k];
          v2[k] = s2[k] - s1[k];
          v3[k] = s1[k] - s3[k];
        }
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
        const float* __restrict m0 = mt + (0 + c) * plane;
        const float* __restrict m1 = mt + (4 + c) * plane;
        const float* __restrict m2 = mt + (8 + c) * plane;
        const float* __restrict m3 = mt + (12 + c) * plane;
        float* __restrict s0 = tmp + (0 + c) * c_out;
        float* __restrict s1 = tmp + (4 + c) * c_out;
        for (int k = 0; k < c_out; ++k) {
          s0[k] = m0[k] + m1[k] + m2[k];
          s1[k] = m1[k] - m2[k] - m3[k];
        }
      }
      // Then columns: rows[a][2j + b][co].
      for (int a = 0; a < 2; ++a) {
        const float* __restrict s0 = tmp + (4 * a + 0) * c_out;
        const float* __restrict s1 = tmp + (4 * a + 1) * c_out;
        const float* __restrict s2 = tmp + (4 * a + 2) * c_out;
        const float* __restrict s3 = tmp + (4 * a + 3) * c_out;
        float* __restrict o0 = rows + (int64_t(a) * 2 * nf + 2 * j) * c_out;
        float* __restrict o1 = o0 + c_out;
        for (int k = 0; k < c_out; ++k) {
          o0[k] = s0[k] + s1[k] + s2[k];
          o1[k] = s1[k] - s2[k] - s3[k];
        }
      }
    }
    // Channel-major output rows 2i and 2i + 1 (where they exist), + bias.
    for (int a = 0; a < 2; ++a) {
      const int row = 2 * (i0 + i) + a;
      if (row >= t) continue;
      const float* __restrict src = rows + int64_t(a) * 2 * nf * c_out;
      for (int k = 0; k < c_out; ++k) {
        float* __restrict dst = y + k * tf + int64_t(row) * f;
        const float b = bias != nullptr ? bias[k] : 0.0f;
        for (int col = 0; col < f; ++col) dst[col] = src[int64_t(col) * c_out + k] + b;
      }
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

}  // namespace greensed::kernels
