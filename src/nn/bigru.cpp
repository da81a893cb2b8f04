#include "greensed/nn/bigru.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "greensed/core/error.hpp"
#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/gru.hpp"
#include "greensed/nn/parallel.hpp"

namespace greensed::nn {

BiGru::BiGru(ParameterStore& store, const std::string& prefix, int n_in, int n_hidden, int n_layers)
    : h_(n_hidden) {
  const float bound = 1.0f / std::sqrt(float(n_hidden));  // PyTorch: every GRU tensor ~ U(±1/√H)
  layers_.resize(n_layers);
  for (int l = 0; l < n_layers; ++l) {
    Layer& layer = layers_[l];
    layer.n_in = l == 0 ? n_in : 2 * n_hidden;
    for (int d = 0; d < 2; ++d) {
      const std::string s = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      Direction& dir = layer.dir[d];
      dir.w_ih = store.add_parameter(prefix + "weight_ih" + s, {3 * n_hidden, layer.n_in},
                                     Init::uniform(bound));
      dir.w_hh = store.add_parameter(prefix + "weight_hh" + s, {3 * n_hidden, n_hidden},
                                     Init::uniform(bound));
      dir.b_ih = store.add_parameter(prefix + "bias_ih" + s, {3 * n_hidden}, Init::uniform(bound));
      dir.b_hh = store.add_parameter(prefix + "bias_hh" + s, {3 * n_hidden}, Init::uniform(bound));
    }
  }
}

const float* BiGru::forward(ParameterStore& store, const float* x, int b, int t, int n_threads,
                            bool keep) {
  kernels::BlasSingleThreadScope blas;  // parallel over items: one BLAS thread each
  x_ = x;
  b_ = b, t_ = t;
  kept_ = keep;
  const int h = h_, h3 = 3 * h;
  const int64_t bt = int64_t(b) * t;
  // Per direction: the recurrent product [B, 3H] (and the state [B, H] without caches).
  const int64_t per_dir = int64_t(b) * (h3 + h);
  scratch_.resize(size_t(2) * per_dir);
  xproj_.resize(size_t(2) * bt * h3);
  const float* in = x;
  for (Layer& layer : layers_) {
    layer.out.resize(bt * 2 * h);
    parallel_for(2, std::min(2, n_threads), [&](int64_t index, int) {
      const int d = int(index);
      Direction& dir = layer.dir[d];
      float* xproj = xproj_.data() + size_t(d) * bt * h3;
      if (keep) {
        dir.h_prev.resize(bt * h);
        dir.gates.resize(bt * h3);
        dir.hn.resize(bt * h);
      }
      const float* b_ih = store.value(dir.b_ih);
      for (int64_t r = 0; r < bt; ++r) std::memcpy(xproj + r * h3, b_ih, sizeof(float) * h3);
      kernels::gemm(false, true, int(bt), h3, layer.n_in, 1.0f, in, layer.n_in,
                    store.value(dir.w_ih), layer.n_in, 1.0f, xproj, h3);
      kernels::gru_sequence_forward(
          xproj, store.value(dir.w_hh), store.value(dir.b_hh), b, t, h, d == 1,
          keep ? dir.h_prev.data() : nullptr, keep ? dir.gates.data() : nullptr,
          keep ? dir.hn.data() : nullptr, scratch_.data() + size_t(d) * per_dir,
          layer.out.data() + d * h, int64_t(t) * 2 * h, 2 * h);
    });
    in = layer.out.data();
  }
  return layers_.back().out.data();
}

void BiGru::backward(ParameterStore& store, const float* grad_out, float* grad_x, int n_threads) {
  kernels::BlasSingleThreadScope blas;  // parallel over items: one BLAS thread each
  GREENSED_CHECK(kept_, "BiGru::backward needs a forward that kept its caches");
  const int b = b_, t = t_, h = h_, h3 = 3 * h;
  const int64_t bt = int64_t(b) * t;
  // Per direction: grad of its projections [B, T, 3H], and the BPTT scratch.
  // Kept across calls: fresh 20 MB buffers every step would page-fault on every step.
  gxp_.resize(size_t(2) * bt * h3);
  ghh_.resize(size_t(2) * bt * h3);
  gh_.resize(size_t(2) * 2 * b * h);
  std::vector<float>& gxp = gxp_;
  std::vector<float>& ghh = ghh_;
  std::vector<float>& gh = gh_;
  grad_a_.assign(bt * 2 * h, 0.0f);  // grad of the current layer's input (when it is a layer)
  const float* g_out = grad_out;
  for (int l = int(layers_.size()) - 1; l >= 0; --l) {
    Layer& layer = layers_[l];
    const float* in = l == 0 ? x_ : layers_[l - 1].out.data();
    parallel_for(2, std::min(2, n_threads), [&](int64_t index, int) {
      const int d = int(index);
      Direction& dir = layer.dir[d];
      float* gx = gxp.data() + size_t(d) * bt * h3;
      kernels::gru_sequence_backward(g_out + d * h, int64_t(t) * 2 * h, 2 * h,
                                     store.value(dir.w_hh), dir.h_prev.data(), dir.gates.data(),
                                     dir.hn.data(), b, t, h, d == 1, gx, store.grad(dir.w_hh),
                                     store.grad(dir.b_hh), ghh.data() + size_t(d) * bt * h3,
                                     gh.data() + size_t(d) * 2 * b * h);
      kernels::gemm(true, false, h3, layer.n_in, int(bt), 1.0f, gx, h3, in, layer.n_in, 1.0f,
                    store.grad(dir.w_ih), layer.n_in);
      float* gb = store.grad(dir.b_ih);
      for (int64_t r = 0; r < bt; ++r)
        for (int j = 0; j < h3; ++j) gb[j] += gx[r * h3 + j];
    });
    // Input gradient of this layer: both directions' projections, split by rows across threads.
    float* g_in = l == 0 ? grad_x : nullptr;
    if (l > 0) {
      grad_b_.assign(bt * layer.n_in, 0.0f);
      g_in = grad_b_.data();
    }
    if (g_in != nullptr) {
      const int n_chunks = std::min<int>(n_threads, int(bt));
      parallel_for(n_chunks, n_chunks, [&](int64_t index, int) {
        const int c = int(index);
        const int64_t r0 = bt * c / n_chunks, r1 = bt * (c + 1) / n_chunks;
        for (int d = 0; d < 2; ++d) {
          kernels::gemm(false, false, int(r1 - r0), layer.n_in, h3, 1.0f,
                        gxp.data() + size_t(d) * bt * h3 + r0 * h3, h3,
                        store.value(layer.dir[d].w_ih), layer.n_in, 1.0f, g_in + r0 * layer.n_in,
                        layer.n_in);
        }
      });
    }
    if (l > 0) {
      std::swap(grad_a_, grad_b_);
      g_out = grad_a_.data();
    }
  }
}

int64_t BiGru::cache_bytes() const {
  int64_t n = 0;
  for (const auto& layer : layers_) {
    n += layer.out.capacity();
    for (const auto& d : layer.dir) n += d.h_prev.capacity() + d.gates.capacity() + d.hn.capacity();
  }
  n += xproj_.capacity() + scratch_.capacity() + gxp_.capacity() + ghh_.capacity() +
       grad_a_.capacity() + grad_b_.capacity();
  return n * 4;
}

}  // namespace greensed::nn
