#include "greensed/kernels/batchnorm.hpp"

#include "greensed/kernels/math.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace greensed::kernels {

void channel_moments_add(const float* x, int c, int64_t n, double* sum, double* sumsq) {
  // Runs of 4096 in float lanes, accumulated in double: accurate for millions of values per
  // channel and vectorised.
  for (int ci = 0; ci < c; ++ci) {
    const float* xc = x + ci * n;
    for (int64_t start = 0; start < n; start += 4096) {
      const int64_t len = std::min<int64_t>(4096, n - start);
      sum[ci] += sum_lanes(xc + start, len);
      sumsq[ci] += dot_lanes(xc + start, xc + start, len);
    }
  }
}

void batchnorm_finalize_stats(const double* sum, const double* sumsq, int c, int64_t count,
                              float momentum, float eps, float* mean, float* inv_std,
                              float* running_mean, float* running_var) {
  for (int ci = 0; ci < c; ++ci) {
    const double mu = sum[ci] / double(count);
    const double var = std::max(0.0, sumsq[ci] / double(count) - mu * mu);
    mean[ci] = float(mu);
    inv_std[ci] = float(1.0 / std::sqrt(var + double(eps)));
    if (running_mean != nullptr) {
      const double unbiased = count > 1 ? var * double(count) / double(count - 1) : var;
      running_mean[ci] = float((1.0 - momentum) * running_mean[ci] + momentum * mu);
      running_var[ci] = float((1.0 - momentum) * running_var[ci] + momentum * unbiased);
    }
  }
}

void batchnorm_eval_stats(const float* running_mean, const float* running_var, int c, float eps,
                          float* mean, float* inv_std) {
  for (int ci = 0; ci < c; ++ci) {
    mean[ci] = running_mean[ci];
    inv_std[ci] = float(1.0 / std::sqrt(double(running_var[ci]) + double(eps)));
  }
}

void batchnorm_normalize(const float* y, const float* mean, const float* inv_std,
                         const float* gamma, const float* beta, int c, int64_t n, float* xhat,
                         float* out) {
  for (int ci = 0; ci < c; ++ci) {
    const float mu = mean[ci], is = inv_std[ci], g = gamma[ci], bt = beta[ci];
    const float* yc = y + ci * n;
    if (out == nullptr) {
      float* hc = xhat + ci * n;
      for (int64_t i = 0; i < n; ++i) hc[i] = (yc[i] - mu) * is;
      continue;
    }
    float* oc = out + ci * n;
    if (xhat != nullptr) {
      float* hc = xhat + ci * n;
      for (int64_t i = 0; i < n; ++i) {
        const float h = (yc[i] - mu) * is;
        hc[i] = h;
        oc[i] = g * h + bt;
      }
    } else {
      for (int64_t i = 0; i < n; ++i) oc[i] = g * ((yc[i] - mu) * is) + bt;
    }
  }
}

void batchnorm_affine(const float* xhat, const float* gamma, const float* beta, int c, int64_t n,
                      float* out) {
  for (int ci = 0; ci < c; ++ci) {
    const float g = gamma[ci], bt = beta[ci];
    const float* hc = xhat + ci * n;
    float* oc = out + ci * n;
    for (int64_t i = 0; i < n; ++i) oc[i] = g * hc[i] + bt;
  }
}

void batchnorm_backward_reduce_add(const float* grad_out, const float* xhat, int c, int64_t n,
                                   double* sum_g, double* sum_gx) {
  for (int ci = 0; ci < c; ++ci) {
    const float* gc = grad_out + ci * n;
    const float* hc = xhat + ci * n;
    for (int64_t start = 0; start < n; start += 4096) {
      const int64_t len = std::min<int64_t>(4096, n - start);
      sum_g[ci] += sum_lanes(gc + start, len);
      sum_gx[ci] += dot_lanes(gc + start, hc + start, len);
    }
  }
}

void batchnorm_backward_apply(const float* grad_out, const float* xhat, const float* gamma,
                              const float* inv_std, const double* sum_g, const double* sum_gx,
                              int64_t count, int c, int64_t n, float* grad_y) {
  for (int ci = 0; ci < c; ++ci) {
    const float k = gamma[ci] * inv_std[ci];
    const float mg = float(sum_g[ci] / double(count));
    const float mgx = float(sum_gx[ci] / double(count));
    const float* gc = grad_out + ci * n;
    const float* hc = xhat + ci * n;
    float* dc = grad_y + ci * n;
    for (int64_t i = 0; i < n; ++i) dc[i] = k * (gc[i] - mg - hc[i] * mgx);
  }
}

void batchnorm_train_forward_reference(const float* y, const float* gamma, const float* beta, int b,
                                       int c, int64_t n, float momentum, float eps, float* out,
                                       float* running_mean, float* running_var) {
  const int64_t count = int64_t(b) * n;
  for (int ci = 0; ci < c; ++ci) {
    double mu = 0.0;
    for (int bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i) mu += y[(int64_t(bi) * c + ci) * n + i];
    mu /= double(count);
    double var = 0.0;
    for (int bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i) {
        const double d = y[(int64_t(bi) * c + ci) * n + i] - mu;
        var += d * d;
      }
    const double biased = var / double(count);
    const double unbiased = var / double(count - 1);
    for (int bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = (int64_t(bi) * c + ci) * n + i;
        out[k] = float(gamma[ci] * (y[k] - mu) / std::sqrt(biased + eps) + beta[ci]);
      }
    running_mean[ci] = float((1.0 - momentum) * running_mean[ci] + momentum * mu);
    running_var[ci] = float((1.0 - momentum) * running_var[ci] + momentum * unbiased);
  }
}

void batchnorm_train_backward_reference(const float* y, const float* gamma, const float* grad_out,
                                        int b, int c, int64_t n, float eps, float* grad_y,
                                        float* grad_gamma, float* grad_beta) {
  const int64_t count = int64_t(b) * n;
  for (int ci = 0; ci < c; ++ci) {
    double mu = 0.0, var = 0.0;
    for (int bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i) mu += y[(int64_t(bi) * c + ci) * n + i];
    mu /= double(count);
    for (int bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i) {
        const double d = y[(int64_t(bi) * c + ci) * n + i] - mu;
        var += d * d;
      }
    const double is = 1.0 / std::sqrt(var / double(count) + eps);
    double sg = 0.0, sgx = 0.0;
    for (int bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = (int64_t(bi) * c + ci) * n + i;
        sg += grad_out[k];
        sgx += grad_out[k] * (y[k] - mu) * is;
      }
    grad_gamma[ci] += float(sgx);
    grad_beta[ci] += float(sg);
    for (int bi = 0; bi < b; ++bi)
      for (int64_t i = 0; i < n; ++i) {
        const int64_t k = (int64_t(bi) * c + ci) * n + i;
        const double xh = (y[k] - mu) * is;
        grad_y[k] = float(gamma[ci] * is * (grad_out[k] - sg / count - xh * sgx / count));
      }
  }
}

}  // namespace greensed::kernels
