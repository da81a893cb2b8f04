#include "greensed/kernels/gru.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/math.hpp"

namespace greensed::kernels {

void gru_sequence_forward(const float* xproj, const float* w_hh, const float* b_hh, int b, int t,
                          int h, bool reverse, float* h_prev, float* gates, float* hn,
                          float* scratch, float* out, int64_t out_stride_b, int64_t out_stride_t) {
  const int h3 = 3 * h;
  // Without caches the state lives in scratch after the recurrent product, each row replaced by
  // the step's output once that row is done.
  const bool cached = h_prev != nullptr;
  float* state = cached ? h_prev : scratch + int64_t(b) * h3;
  std::memset(state, 0, sizeof(float) * b * h);
  for (int s = 0; s < t; ++s) {
    const int ti = reverse ? t - 1 - s : s;
    const float* hp = cached ? h_prev + int64_t(s) * b * h : state;
    // scratch[B, 3H] = h·W_hhᵀ (the recurrent product for all three gates at once).
    gemm(false, true, b, h3, h, 1.0f, hp, h, w_hh, h, 0.0f, scratch, h3);
    float* g = cached ? gates + int64_t(s) * b * h3 : nullptr;
    float* hns = cached ? hn + int64_t(s) * b * h : nullptr;
    float* hnext = !cached ? state : s + 1 < t ? h_prev + int64_t(s + 1) * b * h : nullptr;
    for (int bi = 0; bi < b; ++bi) {
      const float* xp = xproj + (int64_t(bi) * t + ti) * h3;
      const float* hh = scratch + int64_t(bi) * h3;
      const float* hpb = hp + int64_t(bi) * h;
      float* o = out + bi * out_stride_b + ti * out_stride_t;
      if (cached) {
        float* gb = g + int64_t(bi) * h3;
        float* hnb = hns + int64_t(bi) * h;
        for (int j = 0; j < h; ++j) {
          const float r = sigmoid_approx(xp[j] + hh[j] + b_hh[j]);
          const float z = sigmoid_approx(xp[h + j] + hh[h + j] + b_hh[h + j]);
          const float hnv = hh[2 * h + j] + b_hh[2 * h + j];
          const float n = tanh_approx(xp[2 * h + j] + r * hnv);
          gb[j] = r;
          gb[h + j] = z;
          gb[2 * h + j] = n;
          hnb[j] = hnv;
          o[j] = (1.0f - z) * n + z * hpb[j];
        }
      } else {
        for (int j = 0; j < h; ++j) {
          const float r = sigmoid_approx(xp[j] + hh[j] + b_hh[j]);
          const float z = sigmoid_approx(xp[h + j] + hh[h + j] + b_hh[h + j]);
          const float hnv = hh[2 * h + j] + b_hh[2 * h + j];
          const float n = tanh_approx(xp[2 * h + j] + r * hnv);
          o[j] = (1.0f - z) * n + z * hpb[j];
        }
      }
      if (hnext != nullptr) std::memcpy(hnext + int64_t(bi) * h, o, sizeof(float) * h);
    }
  }
}

void gru_sequence_backward(const float* grad_out, int64_t out_stride_b, int64_t out_stride_t,
                           const float* w_hh, const float* h_prev, const float* gates,
                           const float* hn, int b, int t, int h, bool reverse, float* grad_xproj,
                           float* grad_w_hh, float* grad_b_hh, float* scratch_ghh,
                           float* scratch_gh) {
  const int h3 = 3 * h;
  float* grec = scratch_gh;                 // gradient reaching h from later steps [B, H]
  float* gh = scratch_gh + int64_t(b) * h;  // total gradient of the step's output [B, H]
  std::memset(grec, 0, sizeof(float) * b * h);
  for (int s = t - 1; s >= 0; --s) {
    const int ti = reverse ? t - 1 - s : s;
    const float* g = gates + int64_t(s) * b * h3;
    const float* hns = hn + int64_t(s) * b * h;
    const float* hp = h_prev + int64_t(s) * b * h;
    float* ghh = scratch_ghh + int64_t(s) * b * h3;
    for (int bi = 0; bi < b; ++bi) {
      const float* go = grad_out + bi * out_stride_b + ti * out_stride_t;
      const float* gb = g + int64_t(bi) * h3;
      const float* hnb = hns + int64_t(bi) * h;
      const float* hpb = hp + int64_t(bi) * h;
      float* gx = grad_xproj + (int64_t(bi) * t + ti) * h3;
      float* gq = ghh + int64_t(bi) * h3;
      float* ghb = gh + int64_t(bi) * h;
      float* grb = grec + int64_t(bi) * h;
      for (int j = 0; j < h; ++j) {
        const float r = gb[j], z = gb[h + j], n = gb[2 * h + j];
        const float gtot = go[j] + grb[j];
        const float g_an = gtot * (1.0f - z) * (1.0f - n * n);
        const float g_az = gtot * (hpb[j] - n) * z * (1.0f - z);
        const float g_ar = g_an * hnb[j] * r * (1.0f - r);
        gx[j] = g_ar;
        gx[h + j] = g_az;
        gx[2 * h + j] = g_an;
        gq[j] = g_ar;
        gq[h + j] = g_az;
        gq[2 * h + j] = g_an * r;
        ghb[j] = gtot * z;
      }
    }
    // Gradient into the previous state: the direct z-path plus the recurrent product.
    gemm(false, false, b, h, h3, 1.0f, ghh, h3, w_hh, h, 1.0f, gh, h);
    std::memcpy(grec, gh, sizeof(float) * b * h);
  }
  gemm(true, false, h3, h, t * b, 1.0f, scratch_ghh, h3, h_prev, h, 1.0f, grad_w_hh, h);
  for (int64_t i = 0; i < int64_t(t) * b; ++i) {
    const float* gq = scratch_ghh + i * h3;
    for (int j = 0; j < h3; ++j) grad_b_hh[j] += gq[j];
  }
}

namespace {
double sig(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
}  // namespace

void gru_sequence_forward_reference(const float* xproj, const float* w_hh, const float* b_hh, int b,
                                    int t, int h, bool reverse, float* out, int64_t out_stride_b,
                                    int64_t out_stride_t) {
  const int h3 = 3 * h;
  for (int bi = 0; bi < b; ++bi) {
    std::vector<double> hs(h, 0.0), next(h);
    for (int s = 0; s < t; ++s) {
      const int ti = reverse ? t - 1 - s : s;
      const float* xp = xproj + (int64_t(bi) * t + ti) * h3;
      for (int j = 0; j < h; ++j) {
        double ar = b_hh[j], az = b_hh[h + j], an = b_hh[2 * h + j];
        for (int k = 0; k < h; ++k) {
          ar += double(w_hh[j * h + k]) * hs[k];
          az += double(w_hh[(h + j) * h + k]) * hs[k];
          an += double(w_hh[(2 * h + j) * h + k]) * hs[k];
        }
        const double r = sig(xp[j] + ar), z = sig(xp[h + j] + az);
        const double n = std::tanh(xp[2 * h + j] + r * an);
        next[j] = (1.0 - z) * n + z * hs[j];
      }
      hs = next;
      for (int j = 0; j < h; ++j) out[bi * out_stride_b + ti * out_stride_t + j] = float(hs[j]);
    }
  }
}

void gru_sequence_backward_reference(const float* xproj, const float* w_hh, const float* b_hh,
                                     const float* grad_out, int64_t out_stride_b,
                                     int64_t out_stride_t, int b, int t, int h, bool reverse,
                                     float* grad_xproj, float* grad_w_hh, float* grad_b_hh) {
  const int h3 = 3 * h;
  for (int bi = 0; bi < b; ++bi) {
    // Forward with every intermediate kept, in double.
    std::vector<std::vector<double>> hp(t + 1, std::vector<double>(h, 0.0));
    std::vector<std::vector<double>> r(t, std::vector<double>(h)), z = r, n = r, hn = r;
    for (int s = 0; s < t; ++s) {
      const int ti = reverse ? t - 1 - s : s;
      const float* xp = xproj + (int64_t(bi) * t + ti) * h3;
      for (int j = 0; j < h; ++j) {
        double ar = b_hh[j], az = b_hh[h + j], an = b_hh[2 * h + j];
        for (int k = 0; k < h; ++k) {
          ar += double(w_hh[j * h + k]) * hp[s][k];
          az += double(w_hh[(h + j) * h + k]) * hp[s][k];
          an += double(w_hh[(2 * h + j) * h + k]) * hp[s][k];
        }
        r[s][j] = sig(xp[j] + ar);
        z[s][j] = sig(xp[h + j] + az);
        hn[s][j] = an;
        n[s][j] = std::tanh(xp[2 * h + j] + r[s][j] * an);
        hp[s + 1][j] = (1.0 - z[s][j]) * n[s][j] + z[s][j] * hp[s][j];
      }
    }
    std::vector<double> grec(h, 0.0), gnext(h);
    for (int s = t - 1; s >= 0; --s) {
      const int ti = reverse ? t - 1 - s : s;
      std::vector<double> gar(h), gaz(h), ghn(h);
      for (int j = 0; j < h; ++j) {
        const double g = grad_out[bi * out_stride_b + ti * out_stride_t + j] + grec[j];
        const double gan = g * (1.0 - z[s][j]) * (1.0 - n[s][j] * n[s][j]);
        gaz[j] = g * (hp[s][j] - n[s][j]) * z[s][j] * (1.0 - z[s][j]);
        gar[j] = gan * hn[s][j] * r[s][j] * (1.0 - r[s][j]);
        ghn[j] = gan * r[s][j];
        float* gx = grad_xproj + (int64_t(bi) * t + ti) * h3;
        gx[j] = float(gar[j]);
        gx[h + j] = float(gaz[j]);
        gx[2 * h + j] = float(gan);
        gnext[j] = g * z[s][j];
      }
      for (int j = 0; j < h; ++j) {
        grad_b_hh[j] += float(gar[j]);
        grad_b_hh[h + j] += float(gaz[j]);
        grad_b_hh[2 * h + j] += float(ghn[j]);
        for (int k = 0; k < h; ++k) {
          grad_w_hh[j * h + k] += float(gar[j] * hp[s][k]);
          grad_w_hh[(h + j) * h + k] += float(gaz[j] * hp[s][k]);
          grad_w_hh[(2 * h + j) * h + k] += float(ghn[j] * hp[s][k]);
        }
      }
      for (int k = 0; k < h; ++k) {
        double sum = gnext[k];
        for (int j = 0; j < h; ++j) {
          sum += gar[j] * w_hh[j * h + k] + gaz[j] * w_hh[(h + j) * h + k] +
                 ghn[j] * w_hh[(2 * h + j) * h + k];
        }
        grec[k] = sum;
      }
    }
  }
}

}  // namespace greensed::kernels
