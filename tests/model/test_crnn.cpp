#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "greensed/core/cpu.hpp"
#include "greensed/core/error.hpp"
#include "greensed/model/crnn.hpp"

namespace greensed::model {
namespace {

std::vector<float> random_input(size_t n, uint64_t seed) {
  core::RngStream rng(seed, uint64_t(core::RngStreamId::kTest));
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.uniform());  // min-max scaled features lie in [0, 1]
  return v;
}

TEST(Crnn, DefaultConfigHasTheRecipesParameterCount) {
  Crnn model{core::NetConfig{}};
  EXPECT_EQ(model.n_params(), 1112420);
  EXPECT_EQ(model.params().size(), 1112420u);
  EXPECT_EQ(model.grads().size(), 1112420u);
  EXPECT_EQ(model.bn_stats().size(), 2u * (16 + 32 + 64 + 4 * 128));
  EXPECT_EQ(model.bn_batches_tracked().size(), 7u);
  EXPECT_EQ(model.frames_out(626), 156);
  EXPECT_EQ(model.n_mels(), 128);
}

TEST(Crnn, NamedTensorsAreTheRecipesStateDict) {
  Crnn model{core::NetConfig{}};
  std::ifstream in(std::string(GREENSED_TEST_DATA_DIR) + "/model/crnn_tensor_names.txt");
  ASSERT_TRUE(in) << "missing tests/data/model/crnn_tensor_names.txt";
  std::vector<std::string> expected;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') expected.push_back(line);
  }
  std::vector<std::string> actual;
  int64_t n_param_values = 0;
  for (const auto& t : model.named_tensors()) {
    std::string shape;
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (i > 0) shape += 'x';
      shape += std::to_string(t.shape[i]);
    }
    if (t.shape.empty()) shape = "scalar";
    const bool is_param = t.kind == TensorKind::kParameter;
    std::string line = t.name;
    line += is_param ? " param " : " buffer ";
    line += t.data_i64 ? "int64 " : "float32 ";
    line += shape;
    actual.push_back(line);
    if (is_param) {
      // Parameters tile the flat buffer in state_dict order.
      EXPECT_EQ(t.data, model.params().data() + n_param_values) << t.name;
      n_param_values += t.numel();
    }
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(n_param_values, 1112420);
}

TEST(Crnn, ForwardShapesAndModes) {
  Crnn model{core::NetConfig{}};
  core::RngStream init(42, uint64_t(core::RngStreamId::kInit));
  model.init_parameters(init);
  const int b = 2, f = 128, t = 626, k = 10, to = 156;
  const auto x = random_input(size_t(b) * f * t, 1);
  model.forward(x.data(), b, f, t, Mode::kEval, nullptr, false);
  const std::vector<float> strong(model.strong(), model.strong() + b * k * to);
  const std::vector<float> weak(model.weak(), model.weak() + b * k);
  for (float v : strong) ASSERT_TRUE(v > 0.0f && v < 1.0f);
  for (float v : weak) ASSERT_TRUE(v > 0.0f && v < 1.0f);
  // Eval is deterministic and leaves the running statistics alone.
  const std::vector<float> stats(model.bn_stats().begin(), model.bn_stats().end());
  model.forward(x.data(), b, f, t, Mode::kEval, nullptr, false);
  EXPECT_EQ(std::vector<float>(model.strong(), model.strong() + b * k * to), strong);
  EXPECT_EQ(std::vector<float>(model.bn_stats().begin(), model.bn_stats().end()), stats);
  EXPECT_EQ(model.bn_batches_tracked()[0], 0);
  // Train mode: dropout changes the output, the running statistics move, counters count.
  core::RngStream dropout(42, uint64_t(core::RngStreamId::kDropoutStudent));
  model.forward(x.data(), b, f, t, Mode::kTrain, &dropout, true);
  EXPECT_NE(std::vector<float>(model.strong(), model.strong() + b * k * to), strong);
  EXPECT_NE(std::vector<float>(model.bn_stats().begin(), model.bn_stats().end()), stats);
  for (int64_t n : model.bn_batches_tracked()) EXPECT_EQ(n, 1);
  EXPECT_GT(dropout.state().counter, 0u);
}

TEST(Crnn, InputThatDoesNotPoolToOneBinIsRejected) {
  Crnn model{core::NetConfig{}};
  const std::vector<float> x(64 * 626, 0.5f);
  try {
    model.forward(x.data(), 1, 64, 626, Mode::kEval, nullptr, false);
    FAIL() << "expected InputError";
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "CRNN input of 64 mel bins x 626 frames pools to 0 x 156; the recipe's CRNN "
                 "needs exactly one frequency bin and at least one frame at the GRU (mel bins in "
                 "[128, 255] with net.pooling)");
  }
}

TEST(Crnn, UnsupportedConfigNamesTheKey) {
  core::NetConfig net;
  net.kernel_size[2] = 5;
  try {
    Crnn model(net);
    FAIL() << "expected InputError";
  } catch (const core::InputError& e) {
    EXPECT_STREQ(e.what(),
                 "net.kernel_size: greensed's convolutions are 3x3 (every entry must be 3); found "
                 "5 at index 2");
  }
}

}  // namespace
}  // namespace greensed::model

namespace greensed::model {
namespace {

// Per-item reductions in item order: outputs, running statistics and gradients are bitwise the
// same whatever the thread count and the dynamic schedule.
TEST(Crnn, TrainStepIsBitwiseIndependentOfThreadCount) {
  core::NetConfig net;
  net.nb_filters = {4, 8, 8};
  net.kernel_size = {3, 3, 3};
  net.padding = {1, 1, 1};
  net.stride = {1, 1, 1};
  net.pooling = {{2, 2}, {2, 2}, {1, 2}};
  net.n_RNN_cell = 8;
  const int b = 5, f = 8, t = 40;
  const auto x = random_input(size_t(b) * f * t, 3);
  std::vector<std::vector<float>> results;
  const int saved = core::num_threads();
  for (const int threads : {1, 2, 3}) {
    core::set_num_threads(threads);
    Crnn model(net);
    core::RngStream init(1, uint64_t(core::RngStreamId::kInit));
    model.init_parameters(init);
    core::RngStream dropout(1, uint64_t(core::RngStreamId::kDropoutStudent));
    model.forward(x.data(), b, f, t, Mode::kTrain, &dropout, true);
    const int to = model.frames_out(t), k = model.n_classes();
    std::vector<float> r(model.strong(), model.strong() + b * k * to);
    const std::vector<float> gs(r.begin(), r.end());
    model.zero_grad();
    model.backward(gs.data(), model.weak());
    r.insert(r.end(), model.grads().begin(), model.grads().end());
    r.insert(r.end(), model.bn_stats().begin(), model.bn_stats().end());
    results.push_back(std::move(r));
  }
  core::set_num_threads(saved);
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

// The teacher's forward (keeps nothing: conv outputs and activations in the shared workspace,
// no GRU step caches, keep bits per item) gives the student's kept forward's outputs and running
// statistics bit for bit, in train mode with dropout and in eval mode. The first block (9·C_in ≤
// C_out) recomputes its conv output in backward; its conv outputs fit in the arena's tail in the
// kept forward; in the first net they are the largest, so the other forward convolves twice; in
// the second they fit in the big buffer.
class CrnnLean : public ::testing::TestWithParam<int> {};

TEST_P(CrnnLean, ForwardThatKeepsNothingMatchesTheKeptForwardBitwise) {
  core::NetConfig net;
  if (GetParam() == 0) {
    net.nb_filters = {9, 8, 8, 12};
    net.pooling = {{1, 1}, {2, 2}, {1, 2}, {1, 2}};
  } else {
    net.nb_filters = {9, 16, 8, 12};
    net.pooling = {{1, 1}, {2, 2}, {1, 2}, {1, 2}};
  }
  net.kernel_size = {3, 3, 3, 3};
  net.padding = {1, 1, 1, 1};
  net.stride = {1, 1, 1, 1};
  net.n_RNN_cell = 8;
  const int b = 3, f = 8, t = 40;
  const auto x = random_input(size_t(b) * f * t, 5);
  Crnn kept(net), lean(net);
  kept.share_workspace(lean);
  core::RngStream init(2, uint64_t(core::RngStreamId::kInit));
  kept.init_parameters(init);
  std::copy(kept.params().begin(), kept.params().end(), lean.params().begin());
  std::copy(kept.bn_stats().begin(), kept.bn_stats().end(), lean.bn_stats().begin());
  const int to = kept.frames_out(t), k = kept.n_classes();
  auto outputs = [&](const Crnn& m) {
    std::vector<float> r(m.strong(), m.strong() + b * k * to);
    r.insert(r.end(), m.weak(), m.weak() + b * k);
    return r;
  };
  for (const Mode mode : {Mode::kTrain, Mode::kEval}) {
    core::RngStream d1(4, uint64_t(core::RngStreamId::kDropoutStudent)), d2 = d1;
    kept.forward(x.data(), b, f, t, mode, &d1, mode == Mode::kTrain);
    lean.forward(x.data(), b, f, t, mode, &d2, false);
    EXPECT_EQ(outputs(kept), outputs(lean));
    EXPECT_EQ(std::vector<float>(kept.bn_stats().begin(), kept.bn_stats().end()),
              std::vector<float>(lean.bn_stats().begin(), lean.bn_stats().end()));
    EXPECT_EQ(d1.state().counter, d2.state().counter);
  }
  // The other model's forward between a kept forward and its backward (as the teacher's runs)
  // reuses the shared workspace without changing the gradients.
  auto gradients = [&](bool teacher_between) {
    kept.forward(x.data(), b, f, t, Mode::kTrain, nullptr, true);
    if (teacher_between) lean.forward(x.data(), b, f, t, Mode::kTrain, nullptr, false);
    const std::vector<float> gs(kept.strong(), kept.strong() + b * k * to);
    kept.zero_grad();
    kept.backward(gs.data(), kept.weak());
    return std::vector<float>(kept.grads().begin(), kept.grads().end());
  };
  const auto alone = gradients(false);
  EXPECT_EQ(alone, gradients(true));
  EXPECT_NE(alone, std::vector<float>(alone.size(), 0.0f));
}

INSTANTIATE_TEST_SUITE_P(TwoLayouts, CrnnLean, ::testing::Values(0, 1));

}  // namespace
}  // namespace greensed::model
