#include "greensed/kernels/heads.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "greensed/kernels/math.hpp"

namespace greensed::kernels {

void sigmoid_forward(const float* x, int64_t n, float* y) {
  // Exact libm exp: the strong scores are the model's output and are compared at 1e-4 with PyTorch.
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

void sigmoid_backward(const float* y, const float* grad_y, int64_t n, float* grad_x) {
  for (int64_t i = 0; i < n; ++i) grad_x[i] += grad_y[i] * y[i] * (1.0f - y[i]);
}

void softmax_clamp_forward(const float* logits, int64_t rows, int k, float* a) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * k;
    float* o = a + r * k;
    const float mx = *std::max_element(l, l + k);
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      o[j] = std::exp(l[j] - mx);
      sum += o[j];
    }
    const float inv = 1.0f / sum;
    for (int j = 0; j < k; ++j) o[j] = std::clamp(o[j] * inv, kAttentionMin, 1.0f);
  }
}

void softmax_clamp_backward(const float* logits, const float* grad_a, int64_t rows, int k,
                            float* grad_logits) {
  float p[64], g[64];
  for (int64_t r = 0; r < rows; ++r) {
    const float* l = logits + r * k;
    const float mx = *std::max_element(l, l + k);
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) {
      p[j] = std::exp(l[j] - mx);
      sum += p[j];
    }
    float dot = 0.0f;
    for (int j = 0; j < k; ++j) {
      p[j] /= sum;
      g[j] = (p[j] >= kAttentionMin && p[j] <= 1.0f) ? grad_a[r * k + j] : 0.0f;
      dot += g[j] * p[j];
    }
    for (int j = 0; j < k; ++j) grad_logits[r * k + j] += p[j] * (g[j] - dot);
  }
}

void attention_pool_forward(const float* s, const float* a, int b, int t, int k, float* weak) {
  std::vector<double> num(k), den(k);
  for (int bi = 0; bi < b; ++bi) {
    std::fill(num.begin(), num.end(), 0.0);
    std::fill(den.begin(), den.end(), 0.0);
    for (int ti = 0; ti < t; ++ti) {
      const int64_t row = (int64_t(bi) * t + ti) * k;
      for (int j = 0; j < k; ++j) {
        num[j] += double(s[row + j]) * a[row + j];
        den[j] += a[row + j];
      }
    }
    for (int j = 0; j < k; ++j) weak[bi * k + j] = float(num[j] / den[j]);
  }
}

void attention_pool_backward(const float* s, const float* a, const float* grad_weak, int b, int t,
                             int k, float* grad_s, float* grad_a) {
  std::vector<double> num(k), den(k);
  for (int bi = 0; bi < b; ++bi) {
    std::fill(num.begin(), num.end(), 0.0);
    std::fill(den.begin(), den.end(), 0.0);
    for (int ti = 0; ti < t; ++ti) {
      const int64_t row = (int64_t(bi) * t + ti) * k;
      for (int j = 0; j < k; ++j) {
        num[j] += double(s[row + j]) * a[row + j];
        den[j] += a[row + j];
      }
    }
    for (int ti = 0; ti < t; ++ti) {
      const int64_t row = (int64_t(bi) * t + ti) * k;
      for (int j = 0; j < k; ++j) {
        const double gw = grad_weak[bi * k + j] / den[j];
        const double w = num[j] / den[j];
        grad_s[row + j] += float(gw * a[row + j]);
        grad_a[row + j] += float(gw * (s[row + j] - w));
      }
    }
  }
}

void softmax_clamp_forward_reference(const float* logits, int64_t rows, int k, float* a) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int j = 0; j < k; ++j) sum += std::exp(double(logits[r * k + j]));
    for (int j = 0; j < k; ++j) {
      const double p = std::exp(double(logits[r * k + j])) / sum;
      a[r * k + j] = float(std::clamp(p, double(kAttentionMin), 1.0));
    }
  }
}

void softmax_clamp_backward_reference(const float* logits, const float* grad_a, int64_t rows, int k,
                                      float* grad_logits) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0.0;
    for (int j = 0; j < k; ++j) sum += std::exp(double(logits[r * k + j]));
    for (int i = 0; i < k; ++i) {
      double gi = 0.0;
      const double pi = std::exp(double(logits[r * k + i])) / sum;
      for (int j = 0; j < k; ++j) {
        const double pj = std::exp(double(logits[r * k + j])) / sum;
        if (pj < kAttentionMin) continue;
        gi += grad_a[r * k + j] * pj * ((i == j ? 1.0 : 0.0) - pi);
      }
      grad_logits[r * k + i] += float(gi);
    }
  }
}

void attention_pool_forward_reference(const float* s, const float* a, int b, int t, int k,
                                      float* weak) {
  for (int bi = 0; bi < b; ++bi)
    for (int j = 0; j < k; ++j) {
      double num = 0.0, den = 0.0;
      for (int ti = 0; ti < t; ++ti) {
        num += double(s[(int64_t(bi) * t + ti) * k + j]) * a[(int64_t(bi) * t + ti) * k + j];
        den += a[(int64_t(bi) * t + ti) * k + j];
      }
      weak[bi * k + j] = float(num / den);
    }
}

}  // namespace greensed::kernels
