#include "greensed/kernels/glu.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "greensed/kernels/dropout.hpp"
#include "greensed/kernels/math.hpp"
#include "greensed/kernels/simd.hpp"

namespace greensed::kernels {
namespace {
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

void glu_dropout_avgpool_forward_scalar(const float* lin, const float* x, const uint64_t* keep_bits,
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

void glu_dropout_avgpool_backward_scalar(const float* grad_out, const float* lin, const float* x,
                                         const uint64_t* keep_bits, float keep_scale, int c, int t,
                                         int f, int pt, int pf, float* grad_lin, float* grad_x) {
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

#if GREENSED_SIMD_WIDTH > 0
// One pooled output segment: rows lin/x + k·stride for k < pt, `len` covered elements (a multiple
// of pf ∈ {1, 2}); element index of row 0's first element = e0 (for the keep bits).
void forward_segment(const float* lin, const float* x, int64_t stride, int pt, int64_t len, int pf,
                     const uint64_t* bits, int64_t e0, float keep_scale, float inv, float* out) {
  using namespace simd;
  constexpr int W = kWidth;
  if (bits == nullptr) keep_scale = 1.0f;  // no dropout: the scale is not applied either
  const Vec vinv = set1(inv);
  const int step = pf * W;  // inputs per vector of outputs
  for (int64_t i = 0; i < len; i += step) {
    const int n = int(std::min<int64_t>(step, len - i));
    Vec acc[2] = {set1(0.0f), set1(0.0f)};
    for (int k = 0; k < pt; ++k) {
      const int64_t o = k * stride + i;
      const uint64_t kb = bits ? keep_window(bits, e0 + o, n) : ~uint64_t(0);
      for (int h = 0; h < pf; ++h) {
        const int nh = std::max(0, std::min(W, n - h * W));
        const Vec l = load(lin + o + h * W, nh), xv = load(x + o + h * W, nh);
        acc[h] = add(acc[h], keep_scaled(mul(l, sigmoid(xv)), kb >> (h * W), keep_scale));
      }
    }
    const Vec s = pf == 2 ? pair_sums(acc[0], acc[1]) : acc[0];
    store(out + i / pf, mul(s, vinv), n / pf);
  }
}

// Backward over `len` covered elements whose pooled gradient is g[i / pf] (pf ∈ {1, 2}), then
// zeros up to `len_all` (elements the floor dropped).
void backward_segment(const float* g, const float* lin, const float* x, int64_t len,
                      int64_t len_all, int pf, const uint64_t* bits, int64_t e0, float keep_scale,
                      float inv, float* gl, float* gx) {
  using namespace simd;
  constexpr int W = kWidth;
  if (bits == nullptr) keep_scale = 1.0f;  // no dropout: the scale is not applied either
  const Vec vinv = set1(inv), one = set1(1.0f);
  for (int64_t i = 0; i < len; i += W) {
    const int n = int(std::min<int64_t>(W, len - i));
    const Vec ge = mul(pf == 2 ? each_twice(g + i / 2, n) : load(g + i, n), vinv);
    const uint64_t kb = bits ? keep_window(bits, e0 + i, n) : ~uint64_t(0);
    const Vec gd = keep_scaled(ge, kb, keep_scale);
    const Vec s = sigmoid(load(x + i, n));
    const Vec lv = load(lin + i, n);  // read before gl (which may alias lin) is written
    store(gx + i, mul(mul(mul(gd, lv), s), sub(one, s)), n);
    store(gl + i, mul(gd, s), n);
  }
  if (len_all > len) {
    std::fill(gx + len, gx + len_all, 0.0f);
    std::fill(gl + len, gl + len_all, 0.0f);
  }
}
#endif
}  // namespace

void glu_dropout_avgpool_forward(const float* lin, const float* x, const uint64_t* keep_bits,
                                 float keep_scale, int c, int t, int f, int pt, int pf,
                                 float* out) {
#if GREENSED_SIMD_WIDTH > 0
  if (pf == 1 || pf == 2) {
    const int to = t / pt, fo = f / pf;
    const int64_t tf = int64_t(t) * f;
    const float inv = 1.0f / float(pt * pf);
    for (int ci = 0; ci < c; ++ci) {
      const int64_t plane = int64_t(ci) * tf;
      float* o = out + int64_t(ci) * to * fo;
      if (pt == 1 && f % pf == 0) {  // the pooled plane is one contiguous run of the input's
        forward_segment(lin + plane, x + plane, 0, 1, tf, pf, keep_bits, plane, keep_scale, inv, o);
        continue;
      }
      for (int oi = 0; oi < to; ++oi) {
        const int64_t row = plane + int64_t(oi) * pt * f;
        forward_segment(lin + row, x + row, f, pt, int64_t(fo) * pf, pf, keep_bits, row, keep_scale,
                        inv, o + int64_t(oi) * fo);
      }
    }
    return;
  }
#endif
  glu_dropout_avgpool_forward_scalar(lin, x, keep_bits, keep_scale, c, t, f, pt, pf, out);
}

void glu_dropout_avgpool_backward(const float* grad_out, const float* lin, const float* x,
                                  const uint64_t* keep_bits, float keep_scale, int c, int t, int f,
                                  int pt, int pf, float* grad_lin, float* grad_x) {
#if GREENSED_SIMD_WIDTH > 0
  if (pf == 1 || pf == 2) {
    const int to = t / pt, fo = f / pf;
    const int64_t tf = int64_t(t) * f;
    const float inv = 1.0f / float(pt * pf);
    for (int ci = 0; ci < c; ++ci) {
      const int64_t plane = int64_t(ci) * tf;
      const float* g = grad_out + int64_t(ci) * to * fo;
      if (pt == 1 && f % pf == 0) {
        backward_segment(g, lin + plane, x + plane, tf, tf, pf, keep_bits, plane, keep_scale, inv,
                         grad_lin + plane, grad_x + plane);
        continue;
      }
      for (int ti = 0; ti < t; ++ti) {
        const int64_t row = plane + int64_t(ti) * f;
        const int64_t covered = ti / pt < to ? int64_t(fo) * pf : 0;
        backward_segment(g + int64_t(ti / pt) * fo, lin + row, x + row, covered, f, pf, keep_bits,
                         row, keep_scale, inv, grad_lin + row, grad_x + row);
      }
    }
    return;
  }
#endif
  glu_dropout_avgpool_backward_scalar(grad_out, lin, x, keep_bits, keep_scale, c, t, f, pt, pf,
                                      grad_lin, grad_x);
}

void glu_dropout_avgpool_forward_reference(const float* lin, const float* x,
                                           const uint64_t* keep_bits, float keep_scale, int c,
                                           int t, int f, int pt, int pf, float* out) {
  const int to = t / pt, fo = f / pf;
  for (int ci = 0; ci < c; ++ci)
    for (int oi = 0; oi < to; ++oi)
      for (int oj = 0; oj < fo; ++oj) {
        double s = 0.0;
        for (int a = 0; a < pt; ++a)
          for (int q = 0; q < pf; ++q) {
            const int64_t e = (int64_t(ci) * t + oi * pt + a) * f + oj * pf + q;
            const bool keep = keep_bits == nullptr || ((keep_bits[e >> 6] >> (e & 63)) & 1u);
            const double scale = keep_bits == nullptr ? 1.0 : keep_scale;
            const double sig = 1.0 / (1.0 + std::exp(-double(x[e])));
            s += keep ? double(lin[e]) * sig * scale : 0.0;
          }
        out[(int64_t(ci) * to + oi) * fo + oj] = float(s / (pt * pf));
      }
}

void glu_dropout_avgpool_backward_reference(const float* grad_out, const float* lin, const float* x,
                                            const uint64_t* keep_bits, float keep_scale, int c,
                                            int t, int f, int pt, int pf, float* grad_lin,
                                            float* grad_x) {
  const int to = t / pt, fo = f / pf;
  for (int ci = 0; ci < c; ++ci)
    for (int ti = 0; ti < t; ++ti)
      for (int fi = 0; fi < f; ++fi) {
        const int64_t e = (int64_t(ci) * t + ti) * f + fi;
        const bool covered = ti / pt < to && fi / pf < fo;
        const bool keep = keep_bits == nullptr || ((keep_bits[e >> 6] >> (e & 63)) & 1u);
        const double g = covered && keep
                             ? double(grad_out[(int64_t(ci) * to + ti / pt) * fo + fi / pf]) /
                                   (pt * pf) * (keep_bits == nullptr ? 1.0 : keep_scale)
                             : 0.0;
        const double sig = 1.0 / (1.0 + std::exp(-double(x[e])));
        const double lv = lin[e];
        grad_x[e] = float(g * lv * sig * (1.0 - sig));
        grad_lin[e] = float(g * sig);
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
