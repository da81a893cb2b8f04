#include "greensed/nn/conv_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "greensed/core/error.hpp"
#include "greensed/kernels/batchnorm.hpp"
#include "greensed/kernels/conv2d.hpp"
#include "greensed/kernels/dropout.hpp"
#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/glu.hpp"
#include "greensed/kernels/math.hpp"
#include "greensed/kernels/winograd.hpp"
#include "greensed/nn/parallel.hpp"

namespace greensed::nn {
namespace {
constexpr float kBnEps = 1e-3f;
constexpr float kBnMomentum = 0.99f;
}  // namespace

ConvBlock::ConvBlock(ParameterStore& store, const std::string& prefix, int index, int c_in,
                     int c_out, int pool_t, int pool_f, float dropout)
    : c_in_(c_in), c_out_(c_out), pool_t_(pool_t), pool_f_(pool_f), dropout_(dropout) {
  const std::string i = std::to_string(index);
  const float conv_bound = 1.0f / std::sqrt(float(c_in * 9));
  const float lin_bound = 1.0f / std::sqrt(float(c_out));
  conv_w_ = store.add_parameter(prefix + "conv" + i + ".weight", {c_out, c_in, 3, 3},
                                Init::uniform(conv_bound));
  conv_b_ = store.add_parameter(prefix + "conv" + i + ".bias", {c_out}, Init::uniform(conv_bound));
  bn_gamma_ = store.add_parameter(prefix + "batchnorm" + i + ".weight", {c_out}, Init::constant(1));
  bn_beta_ = store.add_parameter(prefix + "batchnorm" + i + ".bias", {c_out}, Init::constant(0));
  running_mean_ =
      store.add_buffer(prefix + "batchnorm" + i + ".running_mean", {c_out}, Init::constant(0));
  running_var_ =
      store.add_buffer(prefix + "batchnorm" + i + ".running_var", {c_out}, Init::constant(1));
  n_batches_ = store.add_counter(prefix + "batchnorm" + i + ".num_batches_tracked");
  glu_w_ = store.add_parameter(prefix + "glu" + i + ".linear.weight", {c_out, c_out},
                               Init::uniform(lin_bound));
  glu_b_ =
      store.add_parameter(prefix + "glu" + i + ".linear.bias", {c_out}, Init::uniform(lin_bound));
}

int64_t ConvBlock::scratch_floats(int t, int f) const {
  const int64_t tf = int64_t(t) * f;
  const int64_t item = int64_t(c_out_) * tf;
  const int64_t col = std::max(int64_t(c_in_) * 9 * tf, conv_scratch_floats(t, f));
  const int64_t bits = 2 * kernels::dropout_words(item);  // uint64 words as float pairs
  const int64_t xr = recomputes_xhat() ? item : 0;        // the recomputed conv output / xhat
  // Forward: im2col and (two passes) the conv output (conv pass); BN output, linear map (doubling
  // as the recompute's im2col: col ≤ item there), keep bits and (two passes) the conv output
  // (fused pass). Backward: BN output, linear map (again doubling as im2col) and xhat (phase 1);
  // im2col and xhat (phase 2).
  return std::max({col + xr, 2 * item + bits + xr});
}

int64_t ConvBlock::conv_scratch_floats(int t, int f) const {
  const int64_t col = int64_t(c_in_) * 9 * t * f;
  // Forward and weight gradient (Winograd where the forward is).
  const int m = kernels::conv3x3_winograd_tile(c_in_, c_out_, t, f);
  const int m_data = kernels::conv3x3_winograd_tile(c_out_, c_in_, t, f);
  const int64_t fwd =
      m > 0 ? kernels::winograd_backward_weights_scratch_floats(c_in_, c_out_, t, f, m) : col;
  const int64_t bwd =
      m_data > 0 ? kernels::winograd_scratch_floats(c_out_, c_in_, t, f, m_data) : col;
  return std::max(fwd, bwd);
}

void ConvBlock::convolve(const float* x, const float* w, const float* bias, int t, int f,
                         float* scratch, float* y) const {
  if (winograd_)
    kernels::conv3x3_winograd_forward(x, winograd_u_.data(), bias, c_in_, c_out_, t, f, winograd_,
                                      scratch, y);
  else
    kernels::conv3x3_forward(x, w, bias, c_in_, c_out_, t, f, scratch, y);
}

void ConvBlock::fold_eval_batchnorm(ParameterStore& store) {
  // Eval-mode BatchNorm is an affine map per channel, folded into the convolution: weights
  // w·γ/σ, bias (b − μ)·γ/σ + β. The convolution then writes the BN output itself (one pass per
  // item less; the same values up to float rounding).
  const float* w = store.value(conv_w_);
  const float* bias = store.value(conv_b_);
  const float* gamma = store.value(bn_gamma_);
  const float* beta = store.value(bn_beta_);
  kernels::batchnorm_eval_stats(store.value(running_mean_), store.value(running_var_), c_out_,
                                kBnEps, mean_.data(), inv_std_.data());
  const int64_t per_out = int64_t(c_in_) * 9;
  folded_w_.resize(size_t(c_out_) * per_out);
  folded_b_.resize(c_out_);
  for (int co = 0; co < c_out_; ++co) {
    const float scale = gamma[co] * inv_std_[co];
    for (int64_t k = 0; k < per_out; ++k) folded_w_[co * per_out + k] = w[co * per_out + k] * scale;
    folded_b_[co] = (bias[co] - mean_[co]) * scale + beta[co];
  }
}

const float* ConvBlock::forward(ParameterStore& store, const float* x, int b, int t, int f,
                                bool train, core::RngStream* rng, bool keep, float* conv_buf,
                                float* out_buf, ThreadScratch& scratch, float* lin_buf) {
  kernels::BlasSingleThreadScope blas;  // parallel over items: one BLAS thread each
  const int64_t tf = int64_t(t) * f;
  const int64_t item = c_out_ * tf;
  const int to = t / pool_t_, fo = f / pool_f_;
  GREENSED_CHECK(to > 0 && fo > 0, "conv block input {}x{} is smaller than its pooling {}x{}", t, f,
                 pool_t_, pool_f_);
  GREENSED_CHECK(!keep || (train && out_buf == nullptr),
                 "a kept conv block forward runs in train mode into its own output storage");
  x_ = x;
  b_ = b, t_ = t, f_ = f;
  train_ = train;
  kept_ = keep;
  dropped_ = train && dropout_ > 0.0f && rng != nullptr;
  const bool store_xhat = keep && !recomputes_xhat();
  const bool two_pass = conv_buf == nullptr;
  GREENSED_CHECK(!two_pass || recomputes_xhat() || !train,
                 "conv block forward without a buffer for its conv outputs");
  float* y = conv_buf;
  xhat_ = store_xhat ? conv_buf : nullptr;
  lin_ = keep ? lin_buf : nullptr;
  const int64_t n_col = conv_scratch_floats(t, f);
  const int64_t bits_floats = 2 * kernels::dropout_words(item);
  float* out = out_buf;
  if (out == nullptr) {
    out_.resize(int64_t(b) * c_out_ * to * fo);
    out = out_.data();
  }
  mean_.resize(c_out_);
  inv_std_.resize(c_out_);
  // Eval mode convolves inside the fused pass, one item at a time (no batch-sized round trip of
  // the conv outputs through memory): im2col, later the linear map | BN output.
  const int64_t eval_floats = std::max(n_col, item) + item;
  scratch.reserve(train ? scratch_floats(t, f) : std::max(scratch_floats(t, f), eval_floats));
  const int n_threads = scratch.n_threads();
  const float* w = store.value(conv_w_);
  const float* bias = store.value(conv_b_);
  if (!train) {
    fold_eval_batchnorm(store);
    w = folded_w_.data();
    bias = folded_b_.data();
  }
  // The convolution's algorithm for this shape (the same one for every pass over these inputs,
  // so a recomputed conv output is the forward's bit for bit); Winograd's weights once per call.
  winograd_ = kernels::conv3x3_winograd_tile(c_in_, c_out_, t, f);
  if (winograd_ > 0) {
    winograd_u_.resize(kernels::winograd_weight_floats(c_in_, c_out_, winograd_));
    kernels::winograd_transform_weights(w, c_in_, c_out_, winograd_, winograd_u_.data());
  }

  // 1. Convolution per item, items handed out dynamically (a thread preempted on a shared machine
  // does not hold the other up); channel moments per item, summed in item order below, so the
  // result does not depend on the schedule or the thread count.
  // Eval mode needs no moments: the fused pass convolves.
  item_sums_.assign(size_t(b) * 2 * c_out_, 0.0);
  if (train) {
    parallel_for(b, n_threads, [&](int64_t item_index, int th) {
      const int bi = int(item_index);
      float* col = scratch.get(th);
      double* sum = item_sums_.data() + size_t(bi) * 2 * c_out_;
      float* yb = two_pass ? col + n_col : y + bi * item;
      convolve(x + int64_t(bi) * c_in_ * tf, w, bias, t, f, col, yb);
      if (train) kernels::channel_moments_add(yb, c_out_, tf, sum, sum + c_out_);
    });
  }
  // 2. Statistics (eval mode's are folded into the convolution above).
  if (train) {
    float* rm = store.value(running_mean_);
    float* rv = store.value(running_var_);
    std::vector<double> moments(2 * c_out_, 0.0);
    for (int bi = 0; bi < b; ++bi)
      for (int k = 0; k < 2 * c_out_; ++k) moments[k] += item_sums_[size_t(bi) * 2 * c_out_ + k];
    kernels::batchnorm_finalize_stats(moments.data(), moments.data() + c_out_, c_out_,
                                      int64_t(b) * tf, kBnMomentum, kBnEps, mean_.data(),
                                      inv_std_.data(), rm, rv);
    *store.counter(n_batches_) += 1;
  }
  // 3. Dropout keep bits: one independent counter segment per item, kept for backward or drawn
  // into the thread's scratch.
  const float keep_scale = dropped_ ? 1.0f / (1.0f - dropout_) : 1.0f;
  words_per_item_ = kernels::dropout_words(item);
  int64_t blocks_per_item = 0;
  uint64_t base = 0;
  if (dropped_) {
    if (keep) keep_bits_.resize(size_t(b) * words_per_item_);
    blocks_per_item = kernels::dropout_blocks(item, dropout_);
    base = rng->reserve_blocks(uint64_t(b) * blocks_per_item);
  }
  // 4. Normalise → GLU → dropout → pool, fused per item.
  const float* gamma = store.value(bn_gamma_);
  const float* beta = store.value(bn_beta_);
  const float* gw = store.value(glu_w_);
  const float* gb = store.value(glu_b_);
  parallel_for(b, n_threads, [&](int64_t item_index, int th) {
    const int bi = int(item_index);
    float* xbn = scratch.get(th);
    float* area = xbn + item;  // the linear map's, unless it is kept
    float* lin = lin_ != nullptr ? lin_ + bi * item : area;
    float* yb = nullptr;
    if (!train) {
      // The folded convolution writes the BN output; its scratch then holds the linear map.
      float* col = xbn;
      lin = col;
      xbn = col + std::max(n_col, item);
      convolve(x + int64_t(bi) * c_in_ * tf, w, bias, t, f, col, xbn);
    } else if (two_pass) {
      // The conv output again (same kernel, input and weights: the moments' values), im2col in
      // the linear map's area before the map is formed.
      yb = xbn + 2 * item + bits_floats;
      convolve(x + int64_t(bi) * c_in_ * tf, w, bias, t, f, area, yb);
    } else {
      yb = y + bi * item;
    }
    uint64_t* bits = nullptr;
    if (dropped_) {
      // 2·item floats in: 8-byte aligned (the thread's area starts on a cache line).
      bits = keep ? keep_bits_.data() + bi * words_per_item_
                  : reinterpret_cast<uint64_t*>(xbn + 2 * item);
      kernels::dropout_keep_bits(*rng, base + bi * blocks_per_item, item, dropout_, bits);
    }
    if (train)
      kernels::batchnorm_normalize(yb, mean_.data(), inv_std_.data(), gamma, beta, c_out_, tf,
                                   store_xhat ? yb : nullptr, xbn);
    for (int c = 0; c < c_out_; ++c) std::fill(lin + c * tf, lin + (c + 1) * tf, gb[c]);
    kernels::gemm(false, false, c_out_, int(tf), c_out_, 1.0f, gw, c_out_, xbn, int(tf), 1.0f, lin,
                  int(tf));
    kernels::glu_dropout_avgpool_forward(lin, xbn, bits, keep_scale, c_out_, t, f, pool_t_, pool_f_,
                                         out + int64_t(bi) * c_out_ * to * fo);
  });
  return out;
}

void ConvBlock::backward(ParameterStore& store, const float* grad_out, float* grad_in,
                         float* grad_scratch, ThreadScratch& scratch) {
  kernels::BlasSingleThreadScope blas;  // parallel over items: one BLAS thread each
  GREENSED_CHECK(kept_ && train_,
                 "ConvBlock::backward needs a train-mode forward that kept its caches");
  const int b = b_, t = t_, f = f_;
  const int64_t tf = int64_t(t) * f;
  const int64_t item = c_out_ * tf;
  const int to = t / pool_t_, fo = f / pool_f_;
  const int n_threads = scratch.n_threads();
  const int64_t n_cw = int64_t(c_out_) * c_in_ * 9, n_gw = int64_t(c_out_) * c_out_;
  const int64_t n_col = int64_t(c_in_) * 9 * tf;
  const bool recompute = recomputes_xhat();
  // Per-item parameter gradients and BN sums, reduced in item order: the result does not depend
  // on the dynamic schedule or the thread count.
  const int64_t per_item = n_cw + c_out_ + n_gw + c_out_;
  float* item_grads = scratch.common(int64_t(b) * per_item);
  item_sums_.assign(size_t(b) * 2 * c_out_, 0.0);
  const float keep_scale = dropped_ ? 1.0f / (1.0f - dropout_) : 1.0f;
  const float* gamma = store.value(bn_gamma_);
  const float* beta = store.value(bn_beta_);
  const float* gw = store.value(glu_w_);
  const float* gb = store.value(glu_b_);
  const float* cw = store.value(conv_w_);
  const float* cb = store.value(conv_b_);

  // The data gradient's algorithm: Winograd on the flipped, transposed kernel where C_out allows.
  const int winograd_data =
      grad_in != nullptr ? kernels::conv3x3_winograd_tile(c_out_, c_in_, t, f) : 0;
  if (winograd_data > 0) {
    std::vector<float> flipped(static_cast<size_t>(n_cw));
    for (int co = 0; co < c_out_; ++co)
      for (int ci = 0; ci < c_in_; ++ci)
        for (int k = 0; k < 9; ++k)
          flipped[(int64_t(ci) * c_out_ + co) * 9 + k] = cw[(int64_t(co) * c_in_ + ci) * 9 + 8 - k];
    winograd_ut_.resize(kernels::winograd_weight_floats(c_out_, c_in_, winograd_data));
    kernels::winograd_transform_weights(flipped.data(), c_out_, c_in_, winograd_data,
                                        winograd_ut_.data());
  }

  // 1. Pool, dropout and GLU backward per item → grad of the BN output in grad_scratch.
  parallel_for(b, n_threads, [&](int64_t item_index, int th) {
    const int bi = int(item_index);
    float* xbn = scratch.get(th);
    float* area = xbn + item;
    float* lin = lin_ != nullptr ? lin_ + bi * item : area;  // kept, or recomputed below
    float* ig = item_grads + bi * per_item;
    float* t_gw = ig + n_cw + c_out_;
    float* t_gb = t_gw + n_gw;
    double* sg = item_sums_.data() + size_t(bi) * 2 * c_out_;
    float* gx = grad_scratch + bi * item;
    const float* xh = nullptr;
    if (recompute) {
      // The forward's conv output again (same kernel, input and weights), normalised with the
      // kept statistics: the forward's xhat and BN output, bit for bit.
      float* xr = area + item;
      convolve(x_ + int64_t(bi) * c_in_ * tf, cw, cb, t, f, area, xr);
      kernels::batchnorm_normalize(xr, mean_.data(), inv_std_.data(), gamma, beta, c_out_, tf, xr,
                                   xbn);
      xh = xr;
    } else {
      xh = xhat_ + bi * item;
      kernels::batchnorm_affine(xh, gamma, beta, c_out_, tf, xbn);
    }
    if (lin_ == nullptr) {
      for (int c = 0; c < c_out_; ++c) std::fill(lin + c * tf, lin + (c + 1) * tf, gb[c]);
      kernels::gemm(false, false, c_out_, int(tf), c_out_, 1.0f, gw, c_out_, xbn, int(tf), 1.0f,
                    lin, int(tf));
    }
    const uint64_t* bits = dropped_ ? keep_bits_.data() + bi * words_per_item_ : nullptr;
    kernels::glu_dropout_avgpool_backward(grad_out + int64_t(bi) * c_out_ * to * fo, lin, xbn, bits,
                                          keep_scale, c_out_, t, f, pool_t_, pool_f_, lin, gx);
    // lin now holds grad_lin.
    kernels::gemm(true, false, c_out_, int(tf), c_out_, 1.0f, gw, c_out_, lin, int(tf), 1.0f, gx,
                  int(tf));
    kernels::gemm(false, true, c_out_, c_out_, int(tf), 1.0f, lin, int(tf), xbn, int(tf), 0.0f,
                  t_gw, c_out_);
    for (int c = 0; c < c_out_; ++c) t_gb[c] = float(kernels::sum_lanes(lin + c * tf, tf));
    kernels::batchnorm_backward_reduce_add(gx, xh, c_out_, tf, sg, sg + c_out_);
  });
  std::vector<double> sums(2 * c_out_, 0.0);
  for (int bi = 0; bi < b; ++bi)
    for (int k = 0; k < 2 * c_out_; ++k) sums[k] += item_sums_[size_t(bi) * 2 * c_out_ + k];
  float* g_gamma = store.grad(bn_gamma_);
  float* g_beta = store.grad(bn_beta_);
  for (int c = 0; c < c_out_; ++c) {
    g_beta[c] += float(sums[c]);
    g_gamma[c] += float(sums[c_out_ + c]);
  }
  // 2. BatchNorm backward and the convolution's weight and data gradients per item.
  parallel_for(b, n_threads, [&](int64_t item_index, int th) {
    const int bi = int(item_index);
    float* col = scratch.get(th);
    float* gy = grad_scratch + bi * item;
    float* tg = item_grads + bi * per_item;
    std::fill(tg, tg + n_cw + c_out_, 0.0f);
    const float* xb = x_ + int64_t(bi) * c_in_ * tf;
    const float* xh = nullptr;
    bool col_ready = false;
    if (recompute) {
      float* xr = col + n_col;
      convolve(xb, cw, cb, t, f, col, xr);
      kernels::batchnorm_normalize(xr, mean_.data(), inv_std_.data(), gamma, beta, c_out_, tf, xr,
                                   nullptr);
      xh = xr;
      col_ready = !winograd_ && !kernels::conv3x3_use_direct(c_in_, c_out_, f);  // col = im2col(x)
    } else {
      xh = xhat_ + bi * item;
    }
    kernels::batchnorm_backward_apply(gy, xh, gamma, inv_std_.data(), sums.data(),
                                      sums.data() + c_out_, int64_t(b) * tf, c_out_, tf, gy);
    if (winograd_)  // the gradient of the forward's own arithmetic
      kernels::conv3x3_winograd_backward_weights(xb, gy, c_in_, c_out_, t, f, winograd_, col, tg,
                                                 tg + n_cw);
    else
      kernels::conv3x3_backward_weights(xb, gy, c_in_, c_out_, t, f, col, col_ready, tg, tg + n_cw);
    if (grad_in != nullptr) {
      // xb is not read again: its storage may be grad_in's.
      float* gi = grad_in + int64_t(bi) * c_in_ * tf;
      if (winograd_data > 0) {
        // convᵀ is the convolution of grad_y with the flipped, transposed kernel (C_out → C_in).
        kernels::conv3x3_winograd_forward(gy, winograd_ut_.data(), nullptr, c_out_, c_in_, t, f,
                                          winograd_data, col, gi);
      } else {
        std::fill(gi, gi + c_in_ * tf, 0.0f);
        kernels::conv3x3_backward_data(gy, cw, c_in_, c_out_, t, f, col, gi);
      }
    }
  });
  // 3. Per-item gradients into the store, in item order, parallel over parameter ranges.
  float* g_cw = store.grad(conv_w_);
  float* g_cb = store.grad(conv_b_);
  float* g_gw = store.grad(glu_w_);
  float* g_gb = store.grad(glu_b_);
  const float* ig = item_grads;
  parallel_for(n_threads, n_threads, [&](int64_t chunk, int) {
    const int64_t k0 = per_item * chunk / n_threads, k1 = per_item * (chunk + 1) / n_threads;
    for (int64_t k = k0; k < k1; ++k) {
      float sum = 0.0f;
      for (int bi = 0; bi < b; ++bi) sum += ig[bi * per_item + k];
      float* dst = k < n_cw                   ? g_cw + k
                   : k < n_cw + c_out_        ? g_cb + (k - n_cw)
                   : k < n_cw + c_out_ + n_gw ? g_gw + (k - n_cw - c_out_)
                                              : g_gb + (k - n_cw - c_out_ - n_gw);
      *dst += sum;
    }
  });
}

int64_t ConvBlock::cache_bytes() const {
  return int64_t(out_.capacity()) * 4 + int64_t(keep_bits_.capacity()) * 8;
}

}  // namespace greensed::nn
