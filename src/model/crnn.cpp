#include "greensed/model/crnn.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "greensed/core/error.hpp"
#include "greensed/core/net_config.hpp"
#include "greensed/kernels/gemm.hpp"
#include "greensed/nn/bigru.hpp"
#include "greensed/nn/conv_block.hpp"
#include "greensed/nn/parallel.hpp"
#include "greensed/nn/parameters.hpp"
#include "greensed/nn/sed_heads.hpp"
#include "greensed/nn/workspace.hpp"

namespace greensed::model {
namespace {

// Memory for the GLU linear maps a kept forward keeps, so that backward need not recompute them:
// all seven blocks' at batch 4 (45 MB), blocks 3–7 at batch 16, 5–7 at batch 48 (54 MB).
constexpr int64_t kKeptLinearBytes = int64_t(64) << 20;

}  // namespace

int64_t NamedTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

class CrnnImpl {
 public:
  explicit CrnnImpl(const core::NetConfig& net) : net_(net) {
    core::validate_net(net);
    const int n_blocks = int(net.nb_filters.size());
    int c_in = net.n_in_channel;
    for (int i = 0; i < n_blocks; ++i) {
      blocks_.emplace_back(store_, "cnn.cnn.", i, c_in, net.nb_filters[i], net.pooling[i][0],
                           net.pooling[i][1], float(net.dropout));
      c_in = net.nb_filters[i];
    }
    // The recipe's GRU takes nb_filters[-1] inputs and always has 2 layers (net.rnn_layers is
    // ignored, spec §3.4).
    gru_ = std::make_unique<nn::BiGru>(store_, "rnn.rnn.", c_in, net.n_RNN_cell, 2);
    heads_ =
        std::make_unique<nn::SedHeads>(store_, 2 * net.n_RNN_cell, net.nclass, float(net.dropout));
    store_.allocate();
  }

  int freq_product() const {
    int p = 1;
    for (const auto& pool : net_.pooling) p *= pool[1];
    return p;
  }
  int frames_out(int t) const {
    for (const auto& pool : net_.pooling) t /= pool[0];
    return t;
  }

  void forward(const float* x, int b, int n_frames, Mode mode, core::RngStream* rng, bool keep) {
    GREENSED_CHECK(b > 0 && n_frames > 0, "CRNN forward on batch {} x {} frames", b, n_frames);
    const int f = n_mels_;
    int f_out = f, t_out = n_frames;
    for (const auto& pool : net_.pooling) f_out /= pool[1], t_out /= pool[0];
    if (f_out != 1 || t_out < 1) {
      throw core::InputError(fmt::format(
          "CRNN input of {} mel bins x {} frames pools to {} x {}; the recipe's CRNN needs exactly "
          "one frequency bin and at least one frame at the GRU (mel bins in [{}, {}] with "
          "net.pooling)",
          f, n_frames, f_out, t_out, freq_product(), 2 * freq_product() - 1));
    }
    const bool train = mode == Mode::kTrain;
    GREENSED_CHECK(!(keep && !train), "keep_for_backward needs train mode");
    kernels::BlasSingleThreadScope blas;
    b_ = b, t_ = n_frames, kept_ = keep;
    // Batch-sized buffers. A kept forward keeps the xhat of every block that does not recompute
    // it in the model's arena, block after block (a recomputing block's conv outputs go to the
    // arena's part after the blocks before it, free until the later blocks run, else it convolves
    // twice). A forward that keeps nothing writes conv outputs to the shared big buffer (a
    // recomputing block whose outputs would make it larger convolves twice) and alternates its
    // activations between two shared slots: slot 0 holds the input and the outputs of blocks
    // 1, 3, …, slot 1 those of blocks 0, 2, ….
    plan_layout(b, n_frames, f);
    int64_t most_slot[2] = {int64_t(b) * f * n_frames, 0};
    for (size_t i = 0; i < blocks_.size(); ++i) {
      int64_t& slot = most_slot[(i + 1) % 2];
      slot = std::max(slot, out_floats_[i]);
    }
    if (keep) {
      if (arena_.size() < size_t(arena_floats_)) arena_.resize(arena_floats_);
      if (kept_lin_.size() < size_t(kept_lin_floats_)) kept_lin_.resize(kept_lin_floats_);
    } else {
      if (shared_->big.size() < size_t(big_floats_)) shared_->big.resize(big_floats_);
      for (int s = 0; s < 2; ++s)
        if (shared_->slot[s].size() < size_t(most_slot[s])) shared_->slot[s].resize(most_slot[s]);
    }
    float* x0 = nullptr;
    if (keep) {
      x0_.resize(int64_t(b) * f * n_frames);  // block 0's input, kept for backward
      x0 = x0_.data();
    } else {
      for (int s = 0; s < 2; ++s)
        if (shared_->slot[s].size() < size_t(most_slot[s])) shared_->slot[s].resize(most_slot[s]);
      x0 = shared_->slot[0].data();
    }
    // [B, F, T] → [B, 1, T, F] (the recipe's x.transpose(1, 2).unsqueeze(1)), item by item on
    // the pool (serially it was 0.4 % of a batch-48 step with the other core idle).
    nn::parallel_for(b, shared_->scratch.n_threads(), [&](int64_t bi, int) {
      const float* src = x + bi * f * n_frames;
      float* dst = x0 + bi * f * n_frames;
      for (int fi = 0; fi < f; ++fi)
        for (int ti = 0; ti < n_frames; ++ti)
          dst[int64_t(ti) * f + fi] = src[int64_t(fi) * n_frames + ti];
    });
    // CNN: 7 blocks, [B, C_in, T, F] → [B, C_out, T/pt, F/pf]; default 626×128 → 156×1.
    const float* h = x0;
    int t = n_frames, ff = f;
    for (size_t i = 0; i < blocks_.size(); ++i) {
      float* out = keep ? nullptr : shared_->slot[(i + 1) % 2].data();
      float* conv = nullptr;  // two passes
      if (keep) {
        const int64_t at = arena_start_[i];
        if (!blocks_[i].recomputes_xhat() || arena_floats_ - at >= conv_floats_[i])
          conv = arena_.data() + at;
      } else if (conv_floats_[i] <= big_floats_) {
        conv = shared_->big.data();
      }
      float* lin = keep && lin_start_[i] >= 0 ? kept_lin_.data() + lin_start_[i] : nullptr;
      h = blocks_[i].forward(store_, h, b, t, ff, train, rng, keep, conv, out, shared_->scratch,
                             lin);
      t /= blocks_[i].pool_t(), ff /= blocks_[i].pool_f();
    }
    t_cnn_ = t;
    // [B, C, T', 1] → [B, T', C] (squeeze frequency, permute).
    const int c = blocks_.back().c_out();
    seq_.resize(int64_t(b) * t * c);
    for (int bi = 0; bi < b; ++bi)
      for (int ci = 0; ci < c; ++ci)
        for (int ti = 0; ti < t; ++ti)
          seq_[(int64_t(bi) * t + ti) * c + ci] = h[(int64_t(bi) * c + ci) * t + ti];
    // BiGRU: [B, T', C] → [B, T', 2H].
    const float* r = gru_->forward(store_, seq_.data(), b, t, shared_->scratch.n_threads(), keep);
    // Heads: dropout → strong [B, K, T'], weak [B, K].
    heads_->forward(store_, r, b, t, train, rng);
  }

  void backward(const float* grad_strong, const float* grad_weak) {
    GREENSED_CHECK(kept_, "Crnn::backward needs a forward with keep_for_backward");
    kernels::BlasSingleThreadScope blas;
    const int b = b_, t = t_cnn_, c = blocks_.back().c_out();
    g_rnn_.assign(int64_t(b) * t * 2 * net_.n_RNN_cell, 0.0f);
    heads_->backward(store_, grad_strong, grad_weak, g_rnn_.data());
    g_seq_.assign(int64_t(b) * t * c, 0.0f);
    gru_->backward(store_, g_rnn_.data(), g_seq_.data(), shared_->scratch.n_threads());
    // [B, T', C] → [B, C, T', 1], into the last block's output storage (read by nothing now).
    float* g_last = blocks_.back().output_storage();
    for (int bi = 0; bi < b; ++bi)
      for (int ci = 0; ci < c; ++ci)
        for (int ti = 0; ti < t; ++ti)
          g_last[(int64_t(bi) * c + ci) * t + ti] = g_seq_[(int64_t(bi) * t + ti) * c + ci];
    // CNN blocks in reverse: block i reads its grad_out from its own output storage and writes
    // its grad_in over its input, block i − 1's output. Its BN-output gradients go to the arena
    // after its own xhat (the later blocks' part, free now) where they fit, else to big.
    for (int i = int(blocks_.size()) - 1; i >= 0; --i) {
      float* grad_in = i > 0 ? blocks_[i - 1].output_storage() : nullptr;
      const int64_t at = arena_start_[i] + (blocks_[i].recomputes_xhat() ? 0 : conv_floats_[i]);
      float* grad_scratch = nullptr;
      if (arena_floats_ - at >= conv_floats_[i]) {
        grad_scratch = arena_.data() + at;
      } else {
        if (shared_->big.size() < size_t(conv_floats_[i])) shared_->big.resize(conv_floats_[i]);
        grad_scratch = shared_->big.data();
      }
      blocks_[i].backward(store_, blocks_[i].output_storage(), grad_in, grad_scratch,
                          shared_->scratch);
    }
  }

  // Per block at batch b, T × F input: conv output and output floats, where its xhat starts in
  // the arena (the blocks before it that keep theirs), the arena's and big's sizes.
  void plan_layout(int b, int n_frames, int f) {
    const size_t n = blocks_.size();
    conv_floats_.assign(n, 0), out_floats_.assign(n, 0), arena_start_.assign(n, 0);
    arena_floats_ = big_floats_ = 0;
    int t = n_frames, ff = f;
    for (size_t i = 0; i < n; ++i) {
      const auto& blk = blocks_[i];
      conv_floats_[i] = int64_t(b) * blk.c_out() * t * ff;
      t /= blk.pool_t(), ff /= blk.pool_f();
      out_floats_[i] = int64_t(b) * blk.c_out() * t * ff;
      arena_start_[i] = arena_floats_;
      if (!blk.recomputes_xhat()) {
        arena_floats_ += conv_floats_[i];
        big_floats_ = std::max(big_floats_, conv_floats_[i]);
      }
    }
    // The GLU linear maps a kept forward keeps for backward: the deepest blocks' (the most
    // products per float) that fit in kKeptLinearBytes together; the others' are recomputed.
    lin_start_.assign(n, -1);
    kept_lin_floats_ = 0;
    for (size_t i = n; i-- > 0;) {
      if ((kept_lin_floats_ + conv_floats_[i]) * int64_t(sizeof(float)) > kKeptLinearBytes) break;
      lin_start_[i] = kept_lin_floats_;
      kept_lin_floats_ += conv_floats_[i];
    }
  }

  int64_t workspace_bytes() const {
    int64_t n = 0;
    for (const auto& blk : blocks_) n += blk.cache_bytes();
    n += gru_->cache_bytes() + shared_->scratch.bytes() + int64_t(shared_->big.capacity()) * 4;
    n += int64_t(shared_->slot[0].capacity() + shared_->slot[1].capacity()) * 4;
    n += int64_t(arena_.capacity() + kept_lin_.capacity() + x0_.capacity() + seq_.capacity() +
                 g_rnn_.capacity() + g_seq_.capacity()) *
         4;
    return n;
  }

  core::NetConfig net_;
  nn::ParameterStore store_;
  std::vector<nn::ConvBlock> blocks_;
  std::unique_ptr<nn::BiGru> gru_;
  std::unique_ptr<nn::SedHeads> heads_;
  // Per-thread scratch, the one big buffer (conv outputs of a forward, a backward's BN-output
  // gradients) and the two activation slots of a forward that keeps nothing; models of a
  // mean-teacher pair share one (Crnn::share_workspace).
  struct Shared {
    nn::ThreadScratch scratch;
    std::vector<float> big, slot[2];
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  int n_mels_ = 0;  // set by forward's caller
  int b_ = 0, t_ = 0, t_cnn_ = 0;
  bool kept_ = false;
  std::vector<float> x0_, seq_, g_rnn_, g_seq_;
  std::vector<float> arena_;  // a kept forward's xhat of the blocks that keep it, then free
  std::vector<int64_t> conv_floats_, out_floats_, arena_start_;  // plan_layout
  int64_t arena_floats_ = 0, big_floats_ = 0;
  // The kept GLU linear maps: block i's at lin_start_[i] (−1: recomputed in backward).
  std::vector<float> kept_lin_;
  std::vector<int64_t> lin_start_;
  int64_t kept_lin_floats_ = 0;
};

Crnn::Crnn(const core::NetConfig& net) : impl_(std::make_unique<CrnnImpl>(net)) {}
Crnn::~Crnn() = default;
Crnn::Crnn(Crnn&&) noexcept = default;
Crnn& Crnn::operator=(Crnn&&) noexcept = default;

const core::NetConfig& Crnn::net() const {
  return impl_->net_;
}
int Crnn::n_classes() const {
  return impl_->net_.nclass;
}
int Crnn::n_mels() const {
  return impl_->freq_product();
}
int Crnn::frames_out(int n_frames) const {
  return impl_->frames_out(n_frames);
}
std::span<float> Crnn::params() {
  return impl_->store_.values();
}
std::span<const float> Crnn::params() const {
  return impl_->store_.values();
}
std::span<float> Crnn::grads() {
  return impl_->store_.grads();
}
std::span<float> Crnn::bn_stats() {
  return impl_->store_.buffers();
}
std::span<int64_t> Crnn::bn_batches_tracked() {
  return impl_->store_.counters();
}
int64_t Crnn::n_params() const {
  return impl_->store_.n_parameters();
}

std::vector<NamedTensor> Crnn::named_tensors() {
  std::vector<NamedTensor> out;
  auto& store = impl_->store_;
  for (const auto& e : store.entries()) {
    NamedTensor nt;
    nt.name = e.name;
    nt.shape = e.shape;
    if (e.handle.storage == nn::Storage::kCounter) {
      nt.kind = TensorKind::kBuffer;
      nt.data_i64 = store.counter(e.handle);
    } else {
      nt.kind = e.handle.storage == nn::Storage::kParameter ? TensorKind::kParameter
                                                            : TensorKind::kBuffer;
      nt.data = store.value(e.handle);
    }
    out.push_back(std::move(nt));
  }
  return out;
}

void Crnn::init_parameters(core::RngStream& rng) {
  impl_->store_.init(rng);
}

void Crnn::forward(const float* x, int batch, int n_mels, int n_frames, Mode mode,
                   core::RngStream* dropout_rng, bool keep_for_backward) {
  impl_->n_mels_ = n_mels;
  impl_->forward(x, batch, n_frames, mode, dropout_rng, keep_for_backward);
}
const float* Crnn::strong() const {
  return impl_->heads_->strong();
}
const float* Crnn::weak() const {
  return impl_->heads_->weak();
}
void Crnn::backward(const float* grad_strong, const float* grad_weak) {
  impl_->backward(grad_strong, grad_weak);
}
void Crnn::zero_grad() {
  auto g = impl_->store_.grads();
  std::fill(g.begin(), g.end(), 0.0f);
}
void Crnn::share_workspace(Crnn& other) {
  other.impl_->shared_ = impl_->shared_;
}
int64_t Crnn::workspace_bytes() const {
  return impl_->workspace_bytes();
}

}  // namespace greensed::model
