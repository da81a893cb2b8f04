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

TEST(CrnnGrad, EveryParameterMatchesCentralDifferences) {
  core::NetConfig net;
  net.nb_filters = {2, 3};
  net.kernel_size = {3, 3};
  net.padding = {1, 1};
  net.stride = {1, 1};
  net.pooling = {{2, 2}, {1, 2}};
  net.n_RNN_cell = 3;
  net.nclass = 2;
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

}  // namespace
}  // namespace greensed::model
