#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "greensed/nn/optim.hpp"

namespace greensed::nn {
namespace {

TEST(Adam, FirstStepMovesEachParameterByLrTimesSignOfGradient) {
  std::vector<float> p = {1.0f, -2.0f, 0.5f};
  const std::vector<float> g = {0.3f, -4.0f, 1e-3f};
  Adam adam(3);
  adam.step(p, g, 1e-3);
  // Step 1: m̂ = g, v̂ = g², update = lr·g/(|g| + eps).
  EXPECT_NEAR(p[0], 1.0f - 1e-3f, 1e-7);
  EXPECT_NEAR(p[1], -2.0f + 1e-3f, 1e-7);
  EXPECT_NEAR(p[2], 0.5f - 1e-3f * (1e-3f / (1e-3f + 1e-8f)), 1e-7);
  EXPECT_EQ(adam.state().step, 1);
}

TEST(Adam, MatchesTorchFormulaOverManySteps) {
  const int n = 4, steps = 25;
  std::vector<float> p = {0.1f, -0.2f, 0.3f, 0.0f};
  std::vector<double> pd(p.begin(), p.end()), m(n, 0.0), v(n, 0.0);
  Adam adam(n);
  for (int k = 1; k <= steps; ++k) {
    std::vector<float> g(n);
    for (int i = 0; i < n; ++i) g[i] = float(std::sin(0.7 * k + i) * (i + 1));
    const double lr = 1e-3 * std::exp(-5.0 * std::pow(1.0 - k / 30.0, 2.0));
    adam.step(p, g, lr);
    for (int i = 0; i < n; ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * double(g[i]) * g[i];
      const double bc1 = 1.0 - std::pow(0.9, k), bc2 = 1.0 - std::pow(0.999, k);
      pd[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + 1e-8);
    }
  }
  for (int i = 0; i < n; ++i) EXPECT_NEAR(p[i], pd[i], 1e-6) << i;
}

TEST(Ema, UpdateIsConvexCombination) {
  std::vector<float> teacher = {1.0f, 2.0f, -1.0f};
  const std::vector<float> student = {3.0f, 2.0f, 1.0f};
  ema_update(teacher, student, 0.75);
  EXPECT_FLOAT_EQ(teacher[0], 1.5f);
  EXPECT_FLOAT_EQ(teacher[1], 2.0f);
  EXPECT_FLOAT_EQ(teacher[2], -0.5f);
}

}  // namespace
}  // namespace greensed::nn
