// BatchNorm2d in PyTorch's convention (spec desed_baseline §3.2, §4.6): per channel c over
// (B, T, F): train mode normalises with the batch mean and the BIASED variance; the running
// statistics take the UNBIASED variance with PyTorch momentum m: running = (1 − m)·running +
// m·batch (the recipe's m = 0.99 makes running ≈ last batch). Eval normalises with running stats.
// Tensors are per batch item [C, N] (N = T·F); the batch loop belongs to the caller, which
// accumulates the per-item moments and then finalises once.
#pragma once

#include <cstdint>

namespace greensed::kernels {

// sum[c] += Σ_n x[c, n], sumsq[c] += Σ_n x[c, n]² (double accumulators).
void channel_moments_add(const float* x, int c, int64_t n, double* sum, double* sumsq);

// From moments over `count` values per channel: mean, inv_std = 1/√(var_biased + eps) (=), and
// (when running_mean is not null) the running update with the unbiased variance.
void batchnorm_finalize_stats(const double* sum, const double* sumsq, int c, int64_t count,
                              float momentum, float eps, float* mean, float* inv_std,
                              float* running_mean, float* running_var);
// Eval mode: mean = running_mean, inv_std = 1/√(running_var + eps).
void batchnorm_eval_stats(const float* running_mean, const float* running_var, int c, float eps,
                          float* mean, float* inv_std);

// xhat = (y − mean)·inv_std (=, may alias y; null to skip), out = gamma·xhat + beta (=; null to
// skip, not both).
void batchnorm_normalize(const float* y, const float* mean, const float* inv_std,
                         const float* gamma, const float* beta, int c, int64_t n, float* xhat,
                         float* out);
// out = gamma·xhat + beta (=), to rebuild the BN output from the cached xhat.
void batchnorm_affine(const float* xhat, const float* gamma, const float* beta, int c, int64_t n,
                      float* out);

// Backward, train mode. First per item: sum_g[c] += Σ grad_out, sum_gx[c] += Σ grad_out·xhat.
void batchnorm_backward_reduce_add(const float* grad_out, const float* xhat, int c, int64_t n,
                                   double* sum_g, double* sum_gx);
// Then per item: grad_y = gamma·inv_std·(grad_out − sum_g/count − xhat·sum_gx/count) (=, may
// alias grad_out). grad_gamma += sum_gx and grad_beta += sum_g are the caller's (once).
void batchnorm_backward_apply(const float* grad_out, const float* xhat, const float* gamma,
                              const float* inv_std, const double* sum_g, const double* sum_gx,
                              int64_t count, int c, int64_t n, float* grad_y);

// Plain-loop twins over a whole batch y [B, C, N].
void batchnorm_train_forward_reference(const float* y, const float* gamma, const float* beta, int b,
                                       int c, int64_t n, float momentum, float eps, float* out,
                                       float* running_mean, float* running_var);
void batchnorm_train_backward_reference(const float* y, const float* gamma, const float* grad_out,
                                        int b, int c, int64_t n, float eps, float* grad_y,
                                        float* grad_gamma, float* grad_beta);

}  // namespace greensed::kernels
