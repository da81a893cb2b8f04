// The mean-teacher loss terms (spec desed_baseline §4.2), as torch.nn.BCELoss and MSELoss with
// mean reduction. Each returns the loss and ACCUMULATES scale·∂loss/∂p into grad_p (null = loss
// only); `scale` carries the loss weight (e.g. the consistency weight w_k).
#pragma once

#include <cstdint>

namespace greensed::nn {

// −mean(y·max(log p, −100) + (1 − y)·max(log(1 − p), −100)); the gradient is PyTorch's
// (p − y) / max(p·(1 − p), 1e-12) / n.
double bce_mean(const float* p, const float* y, int64_t n, float scale, float* grad_p);
// mean((p − target)²); the target is a constant (the teacher's output): no gradient flows to it.
double mse_mean(const float* p, const float* target, int64_t n, float scale, float* grad_p);

}  // namespace greensed::nn
