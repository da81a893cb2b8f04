#include <gtest/gtest.h>

#include <cstdio>

#include "greensed/kernels/conv2d.hpp"
#include "greensed/kernels/gemm.hpp"
#include "random.hpp"

namespace greensed::kernels {
namespace {
using testing::max_rel_error;
using testing::random_vector;

TEST(Gemm, MatchesReferenceForEveryTransposeAndBeta) {
  const int m = 7, n = 13, k = 29;
  for (int ta = 0; ta < 2; ++ta) {
    for (int tb = 0; tb < 2; ++tb) {
      const auto a = random_vector(m * k, 1), b = random_vector(k * n, 2);
      auto c = random_vector(m * n, 3), c_ref = c;
      const int lda = ta ? m : k, ldb = tb ? k : n;
      gemm(ta, tb, m, n, k, 0.7f, a.data(), lda, b.data(), ldb, 0.5f, c.data(), n);
      gemm_reference(ta, tb, m, n, k, 0.7f, a.data(), lda, b.data(), ldb, 0.5f, c_ref.data(), n);
      EXPECT_LT(max_rel_error(c, c_ref), 1e-5) << "ta=" << ta << " tb=" << tb;
    }
  }
}

struct ConvShape {
  int c_in, c_out, t, f;
};

class Conv3x3 : public ::testing::TestWithParam<ConvShape> {};

TEST_P(Conv3x3, ForwardBackwardMatchReference) {
  const auto [c_in, c_out, t, f] = GetParam();
  const int64_t tf = int64_t(t) * f;
  const auto x = random_vector(c_in * tf, 10), w = random_vector(c_out * c_in * 9, 11);
  const auto bias = random_vector(c_out, 12), gy = random_vector(c_out * tf, 13);
  std::vector<float> col(c_in * 9 * tf);

  std::vector<float> y(c_out * tf), y_ref(c_out * tf);
  conv3x3_forward(x.data(), w.data(), bias.data(), c_in, c_out, t, f, col.data(), y.data());
  conv3x3_forward_reference(x.data(), w.data(), bias.data(), c_in, c_out, t, f, y_ref.data());
  EXPECT_LT(max_rel_error(y, y_ref), 1e-5);

  // Backward starts from non-zero buffers: the kernels must add, not overwrite.
  auto gx = random_vector(c_in * tf, 14), gx_ref = gx;
  conv3x3_backward_data(gy.data(), w.data(), c_in, c_out, t, f, col.data(), gx.data());
  conv3x3_backward_data_reference(gy.data(), w.data(), c_in, c_out, t, f, gx_ref.data());
  EXPECT_LT(max_rel_error(gx, gx_ref), 1e-5);

  auto gw = random_vector(w.size(), 15), gw_ref = gw;
  auto gb = random_vector(c_out, 16), gb_ref = gb;
  conv3x3_backward_weights(x.data(), gy.data(), c_in, c_out, t, f, col.data(), false, gw.data(),
                           gb.data());
  conv3x3_backward_weights_reference(x.data(), gy.data(), c_in, c_out, t, f, gw_ref.data(),
                                     gb_ref.data());
  EXPECT_LT(max_rel_error(gw, gw_ref), 1e-4);
  EXPECT_LT(max_rel_error(gb, gb_ref), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv3x3,
                         ::testing::Values(ConvShape{1, 4, 9, 8}, ConvShape{3, 5, 7, 6},
                                           ConvShape{8, 16, 5, 2}, ConvShape{4, 4, 3, 1},
                                           ConvShape{2, 3, 1, 5}));

// The direct convolution reassociates the sums (bias, then the C_in·9 terms in (ci, ky, kx) order,
// in float). Against the double-precision plain-loop twin on random shapes (row lengths around
// the 16- and 32-bin tiles, channel counts not multiples of the 8-channel tile, inputs in
// [-1, 1], C_in up to 40 → up to 360 terms) the error stays below 2e-5 relative (measured
// 5.2e-6, max |a − b| / (1 + |b|)); one lost term or mask lane would be > 1e-3.
TEST(Conv3x3Direct, MatchesDoubleReferenceOnRandomShapes) {
  if (!conv3x3_direct_available()) GTEST_SKIP() << "no AVX-512 in this build";
  core::RngStream shapes(79, uint64_t(core::RngStreamId::kTest));
  double worst = 0.0;
  for (int trial = 0; trial < 40; ++trial) {
    const int c_in = 1 + int(shapes.uniform(0.0, 40.0)), c_out = 1 + int(shapes.uniform(0.0, 20.0));
    const int t = 1 + int(shapes.uniform(0.0, 9.0)), f = 1 + int(shapes.uniform(0.0, 80.0));
    const bool with_bias = shapes.uniform(0.0, 1.0) < 0.8;
    SCOPED_TRACE(::testing::Message() << "c_in=" << c_in << " c_out=" << c_out << " t=" << t
                                      << " f=" << f << " bias=" << with_bias);
    const auto x = random_vector(int64_t(c_in) * t * f, 800 + trial);
    const auto w = random_vector(int64_t(c_out) * c_in * 9, 900 + trial);
    const auto bias = random_vector(c_out, 1000 + trial);
    const std::vector<float> zero(c_out, 0.0f);
    std::vector<float> y(int64_t(c_out) * t * f, std::nanf("")), ref(y.size());
    conv3x3_direct_forward(x.data(), w.data(), with_bias ? bias.data() : nullptr, c_in, c_out, t, f,
                           y.data());
    conv3x3_forward_reference(x.data(), w.data(), with_bias ? bias.data() : zero.data(), c_in,
                              c_out, t, f, ref.data());
    const double err = max_rel_error(y, ref);
    worst = std::max(worst, err);
    EXPECT_LT(err, 2e-5);
  }
  RecordProperty("max_rel_error_vs_double", std::to_string(worst));
  std::printf("direct conv: max relative error vs double reference %.3g\n", worst);
}

// A pure copy: equal to the plain-loop twin bit for bit, on random shapes down to 1×1 planes
// (every border case of the contiguous-run copy) and with poisoned output.
TEST(Im2col, MatchesPlainLoopTwinOnRandomShapes) {
  core::RngStream shapes(77, uint64_t(core::RngStreamId::kTest));
  for (int trial = 0; trial < 80; ++trial) {
    const int c_in = 1 + int(shapes.uniform(0.0, 4.0));
    const int t = 1 + int(shapes.uniform(0.0, 12.0)), f = 1 + int(shapes.uniform(0.0, 40.0));
    SCOPED_TRACE(::testing::Message() << "c_in=" << c_in << " t=" << t << " f=" << f);
    const auto x = random_vector(int64_t(c_in) * t * f, 500 + trial);
    std::vector<float> col(int64_t(c_in) * 9 * t * f, std::nanf("")), ref(col.size());
    im2col_3x3(x.data(), c_in, t, f, col.data());
    im2col_3x3_reference(x.data(), c_in, t, f, ref.data());
    EXPECT_EQ(col, ref);
  }
}

// Same terms in the same order per element: equal to the plain-loop twin bit for bit.
TEST(Im2col, Col2imMatchesPlainLoopTwinOnRandomShapes) {
  core::RngStream shapes(78, uint64_t(core::RngStreamId::kTest));
  for (int trial = 0; trial < 80; ++trial) {
    const int c_in = 1 + int(shapes.uniform(0.0, 4.0));
    const int t = 1 + int(shapes.uniform(0.0, 12.0)), f = 1 + int(shapes.uniform(0.0, 40.0));
    SCOPED_TRACE(::testing::Message() << "c_in=" << c_in << " t=" << t << " f=" << f);
    const auto col = random_vector(int64_t(c_in) * 9 * t * f, 600 + trial);
    const auto x0 = random_vector(int64_t(c_in) * t * f, 700 + trial);
    std::vector<float> x = x0, x_ref = x0, scratch = col;
    col2im_3x3_add(scratch.data(), c_in, t, f, x.data());
    col2im_3x3_add_reference(col.data(), c_in, t, f, x_ref.data());
    EXPECT_EQ(x, x_ref);
  }
}

TEST(Im2col, Col2imIsItsAdjoint) {
  // <im2col(x), c> == <x, col2im(c)> for random x, c.
  const int c_in = 3, t = 6, f = 5;
  const auto x = random_vector(c_in * t * f, 20), c = random_vector(c_in * 9 * t * f, 21);
  std::vector<float> col(c.size()), back(x.size(), 0.0f), c_scratch = c;
  im2col_3x3(x.data(), c_in, t, f, col.data());
  col2im_3x3_add(c_scratch.data(), c_in, t, f, back.data());
  double lhs = 0.0, rhs = 0.0;
  for (size_t i = 0; i < c.size(); ++i) lhs += double(col[i]) * c[i];
  for (size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * back[i];
  EXPECT_NEAR(lhs, rhs, 1e-4 * (1.0 + std::abs(lhs)));
}

}  // namespace
}  // namespace greensed::kernels
