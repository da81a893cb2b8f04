#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "greensed/kernels/conv2d.hpp"
#include "greensed/kernels/winograd.hpp"
#include "random.hpp"

namespace greensed::kernels {
namespace {
using testing::max_rel_error;
using testing::random_vector;

// Winograd reassociates each output's C_in·9 products through the input and output transforms:
// F(2×2, 3×3) sums and differences of up to 9 inputs before the products and of up to 9 products
// after; F(4×4, 3×3) up to 36 with coefficients up to 5 before (Bᵀ) and up to 64 after (Aᵀ's
// 8 · 8), and weights carrying sixths and twenty-fourths. Against the double-precision plain-loop
// twin on random shapes (odd and even T and F down to 1, so partial tiles on both edges; channel
// counts up to 160, so up to 1,440 terms; inputs in [-1, 1]; several tile-row chunks) the error
// stays below 5e-5 relative for F(2×2) and 2e-4 for F(4×4) (measured: printed below;
// max |a − b| / (1 + |b|)); a wrong transform coefficient, a lost tile or a misplaced border would
// be > 1e-2.
class Conv3x3Winograd : public ::testing::TestWithParam<int> {};

TEST_P(Conv3x3Winograd, MatchesDoubleReferenceOnRandomShapes) {
  const int m = GetParam();
  const double bound = m == 4 ? 2e-4 : 5e-5;
  core::RngStream shapes(81, uint64_t(core::RngStreamId::kTest));
  double worst = 0.0;
  for (int trial = 0; trial < 60; ++trial) {
    const int c_in = 1 + int(shapes.uniform(0.0, 160.0)),
              c_out = 1 + int(shapes.uniform(0.0, 40.0));
    const int t = 1 + int(shapes.uniform(0.0, 40.0)), f = 1 + int(shapes.uniform(0.0, 70.0));
    const bool with_bias = shapes.uniform(0.0, 1.0) < 0.8;
    SCOPED_TRACE(::testing::Message() << "c_in=" << c_in << " c_out=" << c_out << " t=" << t
                                      << " f=" << f << " bias=" << with_bias);
    const auto x = random_vector(int64_t(c_in) * t * f, 1100 + trial);
    const auto w = random_vector(int64_t(c_out) * c_in * 9, 1200 + trial);
    const auto bias = random_vector(c_out, 1300 + trial);
    const std::vector<float> zero(c_out, 0.0f);
    std::vector<float> u(winograd_weight_floats(c_in, c_out, m));
    std::vector<float> scratch(winograd_scratch_floats(c_in, c_out, t, f, m), std::nanf(""));
    std::vector<float> y(int64_t(c_out) * t * f, std::nanf("")), ref(y.size());
    winograd_transform_weights(w.data(), c_in, c_out, m, u.data());
    conv3x3_winograd_forward(x.data(), u.data(), with_bias ? bias.data() : nullptr, c_in, c_out, t,
                             f, m, scratch.data(), y.data());
    conv3x3_forward_reference(x.data(), w.data(), with_bias ? bias.data() : zero.data(), c_in,
                              c_out, t, f, ref.data());
    const double err = max_rel_error(y, ref);
    worst = std::max(worst, err);
    EXPECT_LT(err, bound);
  }
  RecordProperty("max_rel_error_vs_double", std::to_string(worst));
  std::printf("winograd F(%dx%d) conv: max relative error vs double reference %.3g\n", m, m, worst);
}

// The weight gradient through the same transforms (dU = Vᵀ · A dY Aᵀ over the tiles, then
// Gᵀ dU G), added to what grad_w and grad_bias held, against the double-precision plain-loop twin
// on random shapes (partial tiles on both edges, up to 40·70 positions summed per weight). The
// error is relative to the largest reference value of the shape (a sum over T·F products has no
// natural per-element scale): below 2e-6 for F(2×2) and 2e-5 for F(4×4) (measured: printed); a
// wrong adjoint coefficient or a lost tile would be > 1e-2.
TEST_P(Conv3x3Winograd, WeightGradientMatchesDoubleReferenceOnRandomShapes) {
  const int m = GetParam();
  const double bound = m == 4 ? 1e-5 : 2e-6;
  core::RngStream shapes(82, uint64_t(core::RngStreamId::kTest));
  double worst = 0.0;
  for (int trial = 0; trial < 40; ++trial) {
    const int c_in = 1 + int(shapes.uniform(0.0, 48.0)), c_out = 1 + int(shapes.uniform(0.0, 40.0));
    const int t = 1 + int(shapes.uniform(0.0, 40.0)), f = 1 + int(shapes.uniform(0.0, 70.0));
    SCOPED_TRACE(::testing::Message()
                 << "c_in=" << c_in << " c_out=" << c_out << " t=" << t << " f=" << f);
    const auto x = random_vector(int64_t(c_in) * t * f, 1700 + trial);
    const auto gy = random_vector(int64_t(c_out) * t * f, 1800 + trial);
    const auto w0 = random_vector(int64_t(c_out) * c_in * 9, 1900 + trial);
    const auto b0 = random_vector(c_out, 2000 + trial);
    std::vector<float> gw = w0, gw_ref = w0, gb = b0, gb_ref = b0;
    std::vector<float> scratch(winograd_backward_weights_scratch_floats(c_in, c_out, t, f, m),
                               std::nanf(""));
    conv3x3_winograd_backward_weights(x.data(), gy.data(), c_in, c_out, t, f, m, scratch.data(),
                                      gw.data(), gb.data());
    conv3x3_backward_weights_reference(x.data(), gy.data(), c_in, c_out, t, f, gw_ref.data(),
                                       gb_ref.data());
    double scale = 0.0, diff = 0.0;
    for (size_t i = 0; i < gw.size(); ++i) {
      scale = std::max(scale, std::abs(double(gw_ref[i])));
      diff = std::max(diff, std::abs(double(gw[i]) - gw_ref[i]));
    }
    const double err = diff / scale;
    worst = std::max(worst, err);
    EXPECT_LT(err, bound);
    EXPECT_LT(max_rel_error(gb, gb_ref), 1e-5);  // the same float-lane sum as im2col + GEMM's
  }
  RecordProperty("max_rel_error_vs_double", std::to_string(worst));
  std::printf(
      "winograd F(%dx%d) weight gradient: max error vs double reference %.3g (of the "
      "largest)\n",
      m, m, worst);
}

INSTANTIATE_TEST_SUITE_P(TileSizes, Conv3x3Winograd, ::testing::Values(2, 4),
                         [](const auto& info) { return "F" + std::to_string(info.param); });

// The recipe's blocks 2–7 (C_in ≥ 16) at their real sizes and the tile size the product uses for
// each (F(4×4) for blocks 2–6, F(2×2) for block 7), with weights at PyTorch's init scale (uniform
// ±1/√(9·C_in)) and inputs in [-2, 2], as the network sees them after BatchNorm: the error the
// training and validation forward passes carry, against the same double reference.
TEST(Conv3x3WinogradRecipe, BlocksAgainstDoubleReference) {
  constexpr int kBlocks[6][4] = {{16, 32, 313, 64},  {32, 64, 156, 32},  {64, 128, 156, 16},
                                 {128, 128, 156, 8}, {128, 128, 156, 4}, {128, 128, 156, 2}};
  for (const auto& s : kBlocks) {
    const int c_in = s[0], c_out = s[1], t = s[2], f = s[3];
    const int m = conv3x3_winograd_tile(c_in, c_out, t, f);
    SCOPED_TRACE(::testing::Message() << "c_in=" << c_in << " c_out=" << c_out << " t=" << t
                                      << " f=" << f << " m=" << m);
    ASSERT_EQ(m, f >= kWinograd4MinF ? 4 : 2);
    const float bound = 1.0f / std::sqrt(9.0f * c_in);
    const auto x = random_vector(int64_t(c_in) * t * f, 1400 + c_in + f, -2.0f, 2.0f);
    const auto w = random_vector(int64_t(c_out) * c_in * 9, 1500 + c_in + f, -bound, bound);
    const auto bias = random_vector(c_out, 1600 + f, -bound, bound);
    std::vector<float> u(winograd_weight_floats(c_in, c_out, m));
    std::vector<float> scratch(winograd_scratch_floats(c_in, c_out, t, f, m));
    std::vector<float> y(int64_t(c_out) * t * f), ref(y.size());
    winograd_transform_weights(w.data(), c_in, c_out, m, u.data());
    conv3x3_winograd_forward(x.data(), u.data(), bias.data(), c_in, c_out, t, f, m, scratch.data(),
                             y.data());
    conv3x3_forward_reference(x.data(), w.data(), bias.data(), c_in, c_out, t, f, ref.data());
    const double err = max_rel_error(y, ref);
    EXPECT_LT(err, m == 4 ? 2e-5 : 2e-6);
    std::printf("winograd F(%dx%d) conv %3d→%3d %3dx%3d: max relative error vs double %.3g\n", m, m,
                c_in, c_out, t, f, err);
  }
}

}  // namespace
}  // namespace greensed::kernels
