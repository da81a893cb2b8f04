#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "gradcheck.hpp"
#include "greensed/nn/bigru.hpp"
#include "greensed/nn/conv_block.hpp"
#include "greensed/nn/loss.hpp"
#include "greensed/nn/parameters.hpp"
#include "greensed/nn/sed_heads.hpp"

namespace greensed::nn {
namespace {
using testing::expect_gradient;
using testing::kSentinel;
using testing::random_vector;
using testing::weighted_sum;

void fill_params(ParameterStore& store, uint64_t seed) {
  core::RngStream rng(seed, 1);
  store.init(rng);
  // Move γ, β and every constant-initialised tensor off their defaults too.
  auto v = store.values();
  const auto noise = random_vector(v.size(), seed + 1, -0.3f, 0.3f);
  for (size_t i = 0; i < v.size(); ++i) v[i] += noise[i];
}

struct BlockCase {
  int c_in, c_out, t, f, pt, pf;
  float dropout;
};
class ConvBlockGrad : public ::testing::TestWithParam<BlockCase> {};

TEST_P(ConvBlockGrad, ParametersAndInputMatchCentralDifferences) {
  const auto [c_in, c_out, t, f, pt, pf, p] = GetParam();
  const int b = 2;
  ParameterStore store;
  ConvBlock block(store, "cnn.cnn.", 0, c_in, c_out, pt, pf, p);
  store.allocate();
  fill_params(store, 3);
  ThreadScratch scratch;
  auto x = random_vector(size_t(b) * c_in * t * f, 4, -2.0f, 2.0f);
  const size_t n_out = size_t(b) * c_out * (t / pt) * (f / pf);
  const auto r = random_vector(n_out, 5);
  const core::RngStream rng0(9, uint64_t(core::RngStreamId::kDropoutStudent));
  std::vector<float> conv_buf(size_t(b) * c_out * t * f);
  auto forward = [&](const float* input) {
    core::RngStream rng = rng0;  // the same mask every time
    return block.forward(store, input, b, t, f, true, &rng, true, conv_buf.data(), nullptr,
                         scratch);
  };
  auto loss = [&] { return weighted_sum(forward(x.data()), r); };
  loss();
  std::fill(store.grads().begin(), store.grads().end(), kSentinel);
  std::vector<float> gx(x.size(), -1e30f), grad_scratch(size_t(b) * c_out * t * f);
  block.backward(store, r.data(), gx.data(), grad_scratch.data(), scratch);
  for (auto& v : gx) v += kSentinel;  // grad_in is overwritten, not accumulated
  const std::vector<float> grads(store.grads().begin(), store.grads().end());
  expect_gradient(loss, store.values().data(), grads.data(), int64_t(grads.size()), "params");
  expect_gradient(loss, x.data(), gx.data(), int64_t(x.size()), "input");
  // grad_in over the forward's input itself (as the CRNN runs it): the same values.
  std::vector<float> xa = x;
  forward(xa.data());
  block.backward(store, r.data(), xa.data(), grad_scratch.data(), scratch);
  for (size_t i = 0; i < xa.size(); ++i) ASSERT_EQ(xa[i] + kSentinel, gx[i]) << i;
  // With the GLU's linear map kept by the forward instead of recomputed by backward: the same
  // gradients, bit for bit (the same products of the same BN output).
  std::vector<float> lin_buf(conv_buf.size(), std::nanf(""));
  core::RngStream rng = rng0;
  block.forward(store, x.data(), b, t, f, true, &rng, true, conv_buf.data(), nullptr, scratch,
                lin_buf.data());
  std::fill(store.grads().begin(), store.grads().end(), kSentinel);
  std::vector<float> gk(x.size());
  block.backward(store, r.data(), gk.data(), grad_scratch.data(), scratch);
  for (size_t i = 0; i < grads.size(); ++i) ASSERT_EQ(store.grads()[i], grads[i]) << i;
  for (size_t i = 0; i < gk.size(); ++i) ASSERT_EQ(gk[i] + kSentinel, gx[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvBlockGrad,
    ::testing::Values(BlockCase{1, 3, 6, 4, 2, 2, 0.5f},
                      BlockCase{2, 3, 5, 4, 2, 2, 0.5f},  // floor drops a row
                      BlockCase{3, 2, 4, 4, 1, 2, 0.2f}, BlockCase{2, 2, 3, 2, 1, 2, 0.0f},
                      // 9·C_in ≤ C_out: backward recomputes xhat
                      BlockCase{1, 9, 6, 4, 2, 2, 0.5f}, BlockCase{1, 10, 5, 4, 1, 2, 0.0f},
                      // C_in, C_out ≥ kWinogradMinCin: Winograd forward and
                      // data gradient, partial tiles (odd T, odd F)
                      BlockCase{32, 33, 5, 3, 1, 2, 0.2f}, BlockCase{33, 32, 4, 4, 2, 2, 0.0f},
                      // F ≥ kWinograd4MinF: F(4×4) forward and data gradient, partial tiles
                      BlockCase{16, 17, 6, 9, 2, 2, 0.2f}));

TEST(BiGruGrad, TwoLayersParametersAndInputMatchCentralDifferences) {
  const int b = 2, t = 4, n_in = 3, h = 3;
  ParameterStore store;
  BiGru gru(store, "rnn.rnn.", n_in, h, 2);
  store.allocate();
  fill_params(store, 11);
  auto x = random_vector(size_t(b) * t * n_in, 12, -1.5f, 1.5f);
  const auto r = random_vector(size_t(b) * t * 2 * h, 13);
  auto loss = [&] { return weighted_sum(gru.forward(store, x.data(), b, t, 2), r); };
  loss();
  std::fill(store.grads().begin(), store.grads().end(), kSentinel);
  std::vector<float> gx(x.size(), kSentinel);
  gru.backward(store, r.data(), gx.data(), 2);
  const std::vector<float> grads(store.grads().begin(), store.grads().end());
  expect_gradient(loss, store.values().data(), grads.data(), int64_t(grads.size()), "params");
  expect_gradient(loss, x.data(), gx.data(), int64_t(x.size()), "input");
}

TEST(SedHeadsGrad, StrongAndWeakMatchCentralDifferences) {
  const int b = 2, t = 5, d = 4, k = 3;
  ParameterStore store;
  SedHeads heads(store, d, k, 0.5f);
  store.allocate();
  fill_params(store, 21);
  auto h = random_vector(size_t(b) * t * d, 22, -1.5f, 1.5f);
  const auto rs = random_vector(size_t(b) * k * t, 23), rw = random_vector(size_t(b) * k, 24);
  const core::RngStream rng0(5, uint64_t(core::RngStreamId::kDropoutStudent));
  auto loss = [&] {
    core::RngStream rng = rng0;
    heads.forward(store, h.data(), b, t, true, &rng);
    return weighted_sum(heads.strong(), rs) + weighted_sum(heads.weak(), rw);
  };
  loss();
  std::fill(store.grads().begin(), store.grads().end(), kSentinel);
  std::vector<float> gh(h.size(), kSentinel);
  heads.backward(store, rs.data(), rw.data(), gh.data());
  const std::vector<float> grads(store.grads().begin(), store.grads().end());
  expect_gradient(loss, store.values().data(), grads.data(), int64_t(grads.size()), "params");
  expect_gradient(loss, h.data(), gh.data(), int64_t(h.size()), "input");
}

TEST(LossGrad, BceAndMseMatchCentralDifferences) {
  const int n = 12;
  auto p = random_vector(n, 31, 0.05f, 0.95f);
  auto y = random_vector(n, 32, 0.0f, 1.0f);
  y[0] = 0.0f, y[1] = 1.0f;
  const auto target = random_vector(n, 33, 0.0f, 1.0f);
  const float scale = 1.7f;
  std::vector<float> g(n, kSentinel);
  bce_mean(p.data(), y.data(), n, scale, g.data());
  expect_gradient([&] { return scale * bce_mean(p.data(), y.data(), n, 1.0f, nullptr); }, p.data(),
                  g.data(), n, "bce", 1e-3f, 1e-3, 1e-2);
  std::fill(g.begin(), g.end(), kSentinel);
  mse_mean(p.data(), target.data(), n, scale, g.data());
  expect_gradient([&] { return scale * mse_mean(p.data(), target.data(), n, 1.0f, nullptr); },
                  p.data(), g.data(), n, "mse", 1e-3f, 1e-4, 1e-3);
}

TEST(Loss, BceClampsTheLogAtMinus100LikePyTorch) {
  const float p[2] = {0.0f, 1.0f}, y[2] = {1.0f, 0.0f};
  EXPECT_DOUBLE_EQ(bce_mean(p, y, 2, 1.0f, nullptr), 100.0);
  const float p2[1] = {0.25f}, y2[1] = {1.0f};
  EXPECT_NEAR(bce_mean(p2, y2, 1, 1.0f, nullptr), -std::log(0.25), 1e-7);
}

}  // namespace
}  // namespace greensed::nn
