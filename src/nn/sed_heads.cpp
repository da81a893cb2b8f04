#include "greensed/nn/sed_heads.hpp"

#include <cmath>
#include <cstring>

#include "greensed/core/error.hpp"
#include "greensed/kernels/dropout.hpp"
#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/heads.hpp"

namespace greensed::nn {

SedHeads::SedHeads(ParameterStore& store, int n_in, int n_classes, float dropout)
    : d_(n_in), k_(n_classes), dropout_(dropout) {
  GREENSED_CHECK(n_classes <= 64, "at most 64 classes, got {}", n_classes);
  const float bound = 1.0f / std::sqrt(float(n_in));
  w_s_ = store.add_parameter("dense.weight", {n_classes, n_in}, Init::uniform(bound));
  b_s_ = store.add_parameter("dense.bias", {n_classes}, Init::uniform(bound));
  w_a_ = store.add_parameter("dense_softmax.weight", {n_classes, n_in}, Init::uniform(bound));
  b_a_ = store.add_parameter("dense_softmax.bias", {n_classes}, Init::uniform(bound));
}

void SedHeads::forward(ParameterStore& store, const float* h, int b, int t, bool train,
                       core::RngStream* rng) {
  b_ = b, t_ = t;
  const int64_t rows = int64_t(b) * t, n = rows * d_;
  dropped_ = train && dropout_ > 0.0f && rng != nullptr;
  hd_.resize(n);
  if (dropped_) {
    keep_bits_.resize(kernels::dropout_words(n));
    const uint64_t base = rng->reserve_blocks(kernels::dropout_blocks(n, dropout_));
    kernels::dropout_keep_bits(*rng, base, n, dropout_, keep_bits_.data());
    kernels::dropout_apply(h, keep_bits_.data(), 1.0f / (1.0f - dropout_), n, hd_.data());
  } else {
    std::memcpy(hd_.data(), h, sizeof(float) * n);
  }
  logits_s_.resize(rows * k_);
  logits_a_.resize(rows * k_);
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(logits_s_.data() + r * k_, store.value(b_s_), sizeof(float) * k_);
    std::memcpy(logits_a_.data() + r * k_, store.value(b_a_), sizeof(float) * k_);
  }
  kernels::gemm(false, true, int(rows), k_, d_, 1.0f, hd_.data(), d_, store.value(w_s_), d_, 1.0f,
                logits_s_.data(), k_);
  kernels::gemm(false, true, int(rows), k_, d_, 1.0f, hd_.data(), d_, store.value(w_a_), d_, 1.0f,
                logits_a_.data(), k_);
  s_.resize(rows * k_);
  a_.resize(rows * k_);
  kernels::sigmoid_forward(logits_s_.data(), rows * k_, s_.data());
  kernels::softmax_clamp_forward(logits_a_.data(), rows, k_, a_.data());
  weak_.resize(int64_t(b) * k_);
  kernels::attention_pool_forward(s_.data(), a_.data(), b, t, k_, weak_.data());
  strong_.resize(rows * k_);
  for (int bi = 0; bi < b; ++bi)
    for (int ti = 0; ti < t; ++ti)
      for (int k = 0; k < k_; ++k)
        strong_[(int64_t(bi) * k_ + k) * t + ti] = s_[(int64_t(bi) * t + ti) * k_ + k];
}

void SedHeads::backward(ParameterStore& store, const float* grad_strong, const float* grad_weak,
                        float* grad_h) {
  const int b = b_, t = t_;
  const int64_t rows = int64_t(b) * t;
  auto& g_s = g_s_;
  auto& g_a = g_a_;
  auto& g_ls = g_ls_;
  auto& g_la = g_la_;
  auto& g_hd = g_hd_;
  g_s.assign(rows * k_, 0.0f);
  g_a.assign(rows * k_, 0.0f);
  if (grad_strong != nullptr) {
    for (int bi = 0; bi < b; ++bi)
      for (int ti = 0; ti < t; ++ti)
        for (int k = 0; k < k_; ++k)
          g_s[(int64_t(bi) * t + ti) * k_ + k] = grad_strong[(int64_t(bi) * k_ + k) * t + ti];
  }
  if (grad_weak != nullptr) {
    kernels::attention_pool_backward(s_.data(), a_.data(), grad_weak, b, t, k_, g_s.data(),
                                     g_a.data());
  }
  g_ls.assign(rows * k_, 0.0f);
  g_la.assign(rows * k_, 0.0f);
  kernels::sigmoid_backward(s_.data(), g_s.data(), rows * k_, g_ls.data());
  kernels::softmax_clamp_backward(logits_a_.data(), g_a.data(), rows, k_, g_la.data());
  // Parameter gradients.
  kernels::gemm(true, false, k_, d_, int(rows), 1.0f, g_ls.data(), k_, hd_.data(), d_, 1.0f,
                store.grad(w_s_), d_);
  kernels::gemm(true, false, k_, d_, int(rows), 1.0f, g_la.data(), k_, hd_.data(), d_, 1.0f,
                store.grad(w_a_), d_);
  float* gbs = store.grad(b_s_);
  float* gba = store.grad(b_a_);
  for (int64_t r = 0; r < rows; ++r)
    for (int k = 0; k < k_; ++k) {
      gbs[k] += g_ls[r * k_ + k];
      gba[k] += g_la[r * k_ + k];
    }
  // Input gradient through both heads, then through the dropout.
  g_hd.assign(rows * d_, 0.0f);
  kernels::gemm(false, false, int(rows), d_, k_, 1.0f, g_ls.data(), k_, store.value(w_s_), d_, 0.0f,
                g_hd.data(), d_);
  kernels::gemm(false, false, int(rows), d_, k_, 1.0f, g_la.data(), k_, store.value(w_a_), d_, 1.0f,
                g_hd.data(), d_);
  if (dropped_)
    kernels::dropout_apply(g_hd.data(), keep_bits_.data(), 1.0f / (1.0f - dropout_), rows * d_,
                           g_hd.data());
  for (int64_t i = 0; i < rows * d_; ++i) grad_h[i] += g_hd[i];
}

}  // namespace greensed::nn
