// The CRNN's output heads (spec desed_baseline §3.5), on row-major [rows, K] tensors:
// sigmoid (strong scores), softmax over the class axis K clamped to [1e-7, 1] (attention — the
// recipe normalises across classes, not time), and attention pooling over time
// weak[b, k] = Σ_t s[b, t, k]·a[b, t, k] / Σ_t a[b, t, k].
#pragma once

#include <cstdint>

namespace greensed::kernels {

inline constexpr float kAttentionMin = 1e-7f;

void sigmoid_forward(const float* x, int64_t n, float* y);
// grad_x += grad_y·y·(1 − y).
void sigmoid_backward(const float* y, const float* grad_y, int64_t n, float* grad_x);

// a = clamp(softmax(logits row), 1e-7, 1) per row of K (K ≤ 64).
void softmax_clamp_forward(const float* logits, int64_t rows, int k, float* a);
// grad_logits += softmax Jacobianᵀ·(grad_a masked where the clamp was active, as PyTorch's clamp
// passes gradient only for min ≤ p ≤ max). Recomputes the softmax from the logits.
void softmax_clamp_backward(const float* logits, const float* grad_a, int64_t rows, int k,
                            float* grad_logits);

// s, a [B, T, K] → weak [B, K] (=).
void attention_pool_forward(const float* s, const float* a, int b, int t, int k, float* weak);
// grad_s += ..., grad_a += ... from grad_weak [B, K].
void attention_pool_backward(const float* s, const float* a, const float* grad_weak, int b, int t,
                             int k, float* grad_s, float* grad_a);

// Plain-loop twins (double precision).
void softmax_clamp_forward_reference(const float* logits, int64_t rows, int k, float* a);
void softmax_clamp_backward_reference(const float* logits, const float* grad_a, int64_t rows, int k,
                                      float* grad_logits);
void attention_pool_forward_reference(const float* s, const float* a, int b, int t, int k,
                                      float* weak);

}  // namespace greensed::kernels
