// The whole CRNN (a tiny config) against central differences: every parameter, train mode with
// dropout on (a fixed mask) and BatchNorm on batch statistics.
#include <gtest/gtest.h>

#include "../nn/gradcheck.hpp"
#include "greensed/model/crnn.hpp"

namespace greensed::model {
namespace {
using nn::testing::expect_gradient;
using nn::testing::kSentinel;
using nn::testing::random_vector;
using nn::testing::weighted_sum;

void check_every_parameter(const core::NetConfig& net) {
  Crnn model(net);
  core::RngStream init(7, uint64_t(core::RngStreamId::kInit));
  model.init_parameters(init);
  auto params = model.params();
  const auto noise = random_vector(params.size(), 8, -0.2f, 0.2f);
  for (size_t i = 0; i < params.size(); ++i) params[i] += noise[i];  // γ, β off 1, 0
  const int b = 3, f = 4, t = 8, to = model.frames_out(t), k = 2;
  const auto x = random_vector(size_t(b) * f * t, 9, 0.0f, 1.0f);
  const auto rs = random_vector(size_t(b) * k * to, 10), rw = random_vector(size_t(b) * k, 11);
  const core::RngStream rng0(3, uint64_t(core::RngStreamId::kDropoutStudent));
  auto loss = [&] {
    core::RngStream rng = rng0;
    model.forward(x.data(), b, f, t, Mode::kTrain, &rng, true);
    return weighted_sum(model.strong(), rs) + weighted_sum(model.weak(), rw);
  };
  loss();
  std::fill(model.grads().begin(), model.grads().end(), kSentinel);
  model.backward(rs.data(), rw.data());
  const std::vector<float> grads(model.grads().begin(), model.grads().end());
  expect_gradient(loss, params.data(), grads.data(), int64_t(grads.size()), "crnn params");
}

core::NetConfig tiny_net(std::vector<int> filters, std::vector<std::vector<int>> pooling) {
  core::NetConfig net;
  const size_t n = filters.size();
  net.nb_filters = std::move(filters);
  net.kernel_size.assign(n, 3);
  net.padding.assign(n, 1);
  net.stride.assign(n, 1);
  net.pooling = std::move(pooling);
  net.n_RNN_cell = 3;
  net.nclass = 2;
  return net;
}

TEST(CrnnGrad, EveryParameterMatchesCentralDifferences) {
  check_every_parameter(tiny_net({2, 3}, {{2, 2}, {1, 2}}));
}

// A first block with 9·C_in ≤ C_out recomputes its conv output in backward instead of keeping
// it, and three blocks pass input gradients over the previous block's output twice.
TEST(CrnnGrad, RecomputedFirstBlockAndThreeBlocksMatchCentralDifferences) {
  check_every_parameter(tiny_net({9, 3, 2}, {{2, 2}, {1, 2}, {1, 1}}));
}

}  // namespace
}  // namespace greensed::model
