#include "greensed/kernels/glu.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "greensed/kernels/dropout.hpp"
#include "greensed/kernels/math.hpp"

namespace greensed::kernels {
namespace {
// GCC/Clang vector extension: 16 floats, lowered to AVX-512, AVX2 or SSE by the target flags.
typedef float V16 __attribute__((vector_size(64)));
constexpr int kChunk = 512;  // row chunk kept on the stack (a multiple of every pf we use)

// Expands one row segment of keep bits to a {0, scale} factor row.
inline void mask_row(const uint64_t* bits, int64_t first, int len, float scale, float* m) {
  if (bits == nullptr) {
    for (int i = 0; i < len; ++i) m[i] = 1.0f;
    return;
  }
  // Word by word so the inner loop is a vector shift of one broadcast word.
  for (int i = 0; i < len;) {
    const int64_t e = first + i;
    const uint64_t w = bits[e >> 6] >> (e & 63);
    const int nb = std::min<int>(64 - int(e & 63), len - i);
    // Branch-free: the bits are random, a branch per element would mispredict half the time.
    for (int j = 0; j < nb; ++j) m[i + j] = scale * float(uint32_t(w >> j) & 1u);
    i += nb;
  }
}
}  // namespace

void glu_dropout_avgpool_forward(const float* lin, const float* x, const uint64_t* keep_bits,
                                 float keep_scale, int c, int t, int f, int pt, int pf,
                                 float* out) {
  const int to = t / pt, fo = f / pf;
  const int64_t tf = int64_t(t) * f;
  const float inv = 1.0f / float(pt * pf);
  const int chunk = (kChunk / pf) * pf;
  float acc[kChunk], m[kChunk];
  for (int ci = 0; ci < c; ++ci) {
    for (int oi = 0; oi < to; ++oi) {
      for (int f0 = 0; f0 < fo * pf; f0 += chunk) {
        const int len = std::min(chunk, fo * pf - f0);
        std::fill(acc, acc + len, 0.0f);
        for (int k = 0; k < pt; ++k) {
          const int64_t row = ci * tf + int64_t(oi * pt + k) * f + f0;
          mask_row(keep_bits, row, len, keep_scale, m);
          const float* __restrict l = lin + row;
          const float* __restrict xr = x + row;
          for (int i = 0; i < len; ++i) acc[i] += l[i] * sigmoid_approx(xr[i]) * m[i];
        }
        float* o = out + (int64_t(ci) * to + oi) * fo + f0 / pf;
        for (int j = 0; j < len / pf; ++j) {
          float s = 0.0f;
          for (int q = 0; q < pf; ++q) s += acc[j * pf + q];
          o[j] = s * inv;
        }
      }
    }
  }
}

void glu_dropout_avgpool_backward(const float* grad_out, const float* lin, const float* x,
                                  const uint64_t* keep_bits, float keep_scale, int c, int t, int f,
                                  int pt, int pf, float* grad_lin, float* grad_x) {
  const int to = t / pt, fo = f / pf;
  const int64_t tf = int64_t(t) * f;
  const float inv = 1.0f / float(pt * pf);
  const int chunk = (kChunk / pf) * pf;  // chunks start on a pooling window
  float gexp[kChunk], m[kChunk];
  for (int ci = 0; ci < c; ++ci) {
    for (int ti = 0; ti < t; ++ti) {
      const int oi = ti / pt;
      const int64_t row = ci * tf + int64_t(ti) * f;
      for (int f0 = 0; f0 < f; f0 += chunk) {
        const int len = std::min(chunk, f - f0);
        // Pool backward: each covered position gets grad_out/(pt·pf); floor-dropped ones get 0.
        std::fill(gexp, gexp + len, 0.0f);
        if (oi < to) {
          const float* g = grad_out + (int64_t(ci) * to + oi) * fo;
          const int j_end = std::min(fo, (f0 + len) / pf);
          for (int j = f0 / pf; j < j_end; ++j)
            for (int q = 0; q < pf; ++q) gexp[j * pf + q - f0] = g[j] * inv;
        }
        mask_row(keep_bits, row + f0, len, keep_scale, m);
        const float* l = lin + row + f0;
        const float* __restrict xr = x + row + f0;
        float* gl = grad_lin + row + f0;  // may alias l: each element is read before it is written
        float* __restrict gx = grad_x + row + f0;
        for (int i = 0; i < len; ++i) {
          const float gd = gexp[i] * m[i];
          const float s = sigmoid_approx(xr[i]);
          const float lv = l[i];
          gx[i] = gd * lv * s * (1.0f - s);
          gl[i] = gd * s;
        }
      }
    }
  }
}

void glu_dropout_avgpool_forward_direct(const float* y, const float* a, const float* d,
                                        const float* w, const float* b, const uint64_t* keep_bits,
                                        float keep_scale, int c, int t, int f, int pt, int pf,
                                        float* out) {
  constexpr int kTile = 32;
  constexpr int kMaxC = 256;
  const int to = t / pt, fo = f / pf;
  const int64_t tf = int64_t(t) * f;
  const float inv = 1.0f / float(pt * pf);
  // With pt = 1 and whole windows per row, the item is one long row of T·F positions, so narrow
  // late blocks (F = 4, 2) still fill whole tiles.
  const bool flat = pt == 1 && f % pf == 0;
  const int n_rows = flat ? 1 : to;
  const int64_t row_len = flat ? int64_t(t) * f : int64_t(fo) * pf;
  V16 xt[kMaxC][2];  // kTile = 32 floats = two 16-lane vectors per channel
  alignas(64) float acc[kMaxC][kTile];
  alignas(64) float lin[kTile], m[kTile];
  const int tile = (kTile / pf) * pf;  // tiles start on a pooling window (pf ≤ 32)
  for (int oi = 0; oi < n_rows; ++oi) {
    for (int64_t p0 = 0; p0 < row_len; p0 += tile) {
      const int len = int(std::min<int64_t>(tile, row_len - p0));
      for (int ci = 0; ci < c; ++ci) std::fill(acc[ci], acc[ci] + kTile, 0.0f);
      for (int k = 0; k < (flat ? 1 : pt); ++k) {
        const int64_t pos = flat ? p0 : int64_t(oi * pt + k) * f + p0;  // within a channel
        for (int ci = 0; ci < c; ++ci) {
          const float* yr = y + ci * tf + pos;
          const float ac = a[ci], dc = d[ci];
          float* xr = reinterpret_cast<float*>(&xt[ci][0]);
          for (int p = 0; p < len; ++p) xr[p] = ac * yr[p] + dc;
          for (int p = len; p < kTile; ++p) xr[p] = 0.0f;
        }
        // lin = W·x + b for 4 output channels at a time: 8 vector accumulators, each x load
        // reused 4 times.
        for (int co0 = 0; co0 < c; co0 += 4) {
          const int nco = std::min(4, c - co0);
          V16 l[4][2];
          for (int j = 0; j < 4; ++j) {
            const float bv = j < nco ? b[co0 + j] : 0.0f;
            l[j][0] = V16{} + bv;
            l[j][1] = V16{} + bv;
          }
          for (int ci = 0; ci < c; ++ci) {
            const V16 x0 = xt[ci][0], x1 = xt[ci][1];
            for (int j = 0; j < 4; ++j) {
              const float wv = j < nco ? w[(co0 + j) * c + ci] : 0.0f;
              l[j][0] += wv * x0;
              l[j][1] += wv * x1;
            }
          }
          for (int j = 0; j < nco; ++j) {
            const int co = co0 + j;
            std::memcpy(lin, &l[j][0], sizeof(lin));
            const float* xr = reinterpret_cast<const float*>(&xt[co][0]);
            mask_row(keep_bits, co * tf + pos, len, keep_scale, m);
            for (int p = len; p < kTile; ++p) m[p] = 0.0f;
            float* ac = acc[co];
            for (int p = 0; p < kTile; ++p) ac[p] += lin[p] * sigmoid_approx(xr[p]) * m[p];
          }
        }
      }
      // Pool horizontally: window j of this tile covers positions j·pf .. j·pf + pf − 1.
      const int64_t o0 = flat ? p0 / pf : int64_t(oi) * fo + p0 / pf;
      for (int co = 0; co < c; ++co) {
        float* o = out + int64_t(co) * to * fo + o0;
        for (int j = 0; j < len / pf; ++j) {
          float s = 0.0f;
          for (int q = 0; q < pf; ++q) s += acc[co][j * pf + q];
          o[j] = s * inv;
        }
      }
    }
  }
}

void glu_forward_reference(const float* x, const float* w, const float* b, int c, int64_t n,
                           float* out) {
  for (int co = 0; co < c; ++co) {
    for (int64_t i = 0; i < n; ++i) {
      double lin = b[co];
      for (int ci = 0; ci < c; ++ci) lin += double(w[co * c + ci]) * x[ci * n + i];
      const double xv = x[co * n + i];
      out[co * n + i] = float(lin / (1.0 + std::exp(-xv)));
    }
  }
}

void glu_backward_reference(const float* x, const float* w, const float* b, const float* grad_out,
                            int c, int64_t n, float* grad_x, float* grad_w, float* grad_b) {
  for (int co = 0; co < c; ++co) {
    for (int64_t i = 0; i < n; ++i) {
      double lin = b[co];
      for (int ci = 0; ci < c; ++ci) lin += double(w[co * c + ci]) * x[ci * n + i];
      const double s = 1.0 / (1.0 + std::exp(-double(x[co * n + i])));
      const double g = grad_out[co * n + i];
      const double glin = g * s;
      grad_x[co * n + i] += float(g * lin * s * (1.0 - s));
      for (int ci = 0; ci < c; ++ci) {
        grad_x[ci * n + i] += float(glin * w[co * c + ci]);
        grad_w[co * c + ci] += float(glin * x[ci * n + i]);
      }
      grad_b[co] += float(glin);
    }
  }
}

void avgpool_forward_reference(const float* x, int c, int t, int f, int pt, int pf, float* out) {
  const int to = t / pt, fo = f / pf;
  for (int ci = 0; ci < c; ++ci)
    for (int oi = 0; oi < to; ++oi)
      for (int oj = 0; oj < fo; ++oj) {
        double s = 0.0;
        for (int a = 0; a < pt; ++a)
          for (int q = 0; q < pf; ++q) s += x[(int64_t(ci) * t + oi * pt + a) * f + oj * pf + q];
        out[(int64_t(ci) * to + oi) * fo + oj] = float(s / (pt * pf));
      }
}

void avgpool_backward_reference(const float* grad_out, int c, int t, int f, int pt, int pf,
                                float* grad_x) {
  const int to = t / pt, fo = f / pf;
  for (int ci = 0; ci < c; ++ci)
    for (int oi = 0; oi < to; ++oi)
      for (int oj = 0; oj < fo; ++oj) {
        const float g = grad_out[(int64_t(ci) * to + oi) * fo + oj] / float(pt * pf);
        for (int a = 0; a < pt; ++a)
          for (int q = 0; q < pf; ++q)
            grad_x[(int64_t(ci) * t + oi * pt + a) * f + oj * pf + q] += g;
      }
}

}  // namespace greensed::kernels
