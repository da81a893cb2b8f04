#include <gtest/gtest.h>

#include "greensed/kernels/batchnorm.hpp"
#include "greensed/kernels/dropout.hpp"
#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/glu.hpp"
#include "greensed/kernels/math.hpp"
#include "random.hpp"

namespace greensed::kernels {
namespace {
using testing::max_rel_error;
using testing::random_vector;

TEST(Math, ExpSigmoidTanhApproximationsAreAccurate) {
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double e = std::exp(double(x));
    ASSERT_NEAR(exp_approx(x), e, 4e-7 * e) << x;
  }
  for (float x = -20.0f; x <= 20.0f; x += 0.0031f) {
    ASSERT_NEAR(sigmoid_approx(x), 1.0 / (1.0 + std::exp(-double(x))), 2e-7) << x;
    ASSERT_NEAR(tanh_approx(x), std::tanh(double(x)), 4e-7) << x;
  }
}

TEST(BatchNorm, TrainForwardBackwardMatchReference) {
  const int b = 3, c = 4;
  const int64_t n = 37;
  const auto y = random_vector(b * c * n, 30, -2.0f, 3.0f);
  const auto gamma = random_vector(c, 31, 0.5f, 1.5f), beta = random_vector(c, 32);
  const auto gout = random_vector(y.size(), 33);
  const float momentum = 0.99f, eps = 1e-3f;

  // Optimised path, as the layer runs it: moments per item, finalise, normalise per item.
  std::vector<double> sum(c, 0.0), sumsq(c, 0.0);
  for (int bi = 0; bi < b; ++bi)
    channel_moments_add(y.data() + bi * c * n, c, n, sum.data(), sumsq.data());
  std::vector<float> mean(c), inv_std(c), rm(c, 0.2f), rv(c, 1.3f);
  batchnorm_finalize_stats(sum.data(), sumsq.data(), c, b * n, momentum, eps, mean.data(),
                           inv_std.data(), rm.data(), rv.data());
  std::vector<float> xhat(y.size()), out(y.size());
  for (int bi = 0; bi < b; ++bi) {
    batchnorm_normalize(y.data() + bi * c * n, mean.data(), inv_std.data(), gamma.data(),
                        beta.data(), c, n, xhat.data() + bi * c * n, out.data() + bi * c * n);
  }
  std::vector<float> out_ref(y.size()), rm_ref(c, 0.2f), rv_ref(c, 1.3f);
  batchnorm_train_forward_reference(y.data(), gamma.data(), beta.data(), b, c, n, momentum, eps,
                                    out_ref.data(), rm_ref.data(), rv_ref.data());
  EXPECT_LT(max_rel_error(out, out_ref), 1e-5);
  EXPECT_LT(max_rel_error(rm, rm_ref), 1e-6);
  EXPECT_LT(max_rel_error(rv, rv_ref), 1e-6);

  std::vector<double> sg(c, 0.0), sgx(c, 0.0);
  for (int bi = 0; bi < b; ++bi)
    batchnorm_backward_reduce_add(gout.data() + bi * c * n, xhat.data() + bi * c * n, c, n,
                                  sg.data(), sgx.data());
  std::vector<float> gy(y.size());
  for (int bi = 0; bi < b; ++bi)
    batchnorm_backward_apply(gout.data() + bi * c * n, xhat.data() + bi * c * n, gamma.data(),
                             inv_std.data(), sg.data(), sgx.data(), b * n, c, n,
                             gy.data() + bi * c * n);
  std::vector<float> gy_ref(y.size()), gg_ref(c, 0.0f), gb_ref(c, 0.0f);
  batchnorm_train_backward_reference(y.data(), gamma.data(), gout.data(), b, c, n, eps,
                                     gy_ref.data(), gg_ref.data(), gb_ref.data());
  EXPECT_LT(max_rel_error(gy, gy_ref), 1e-5);
  for (int ci = 0; ci < c; ++ci) {
    EXPECT_NEAR(sgx[ci], gg_ref[ci], 1e-4);
    EXPECT_NEAR(sg[ci], gb_ref[ci], 1e-4);
  }
}

struct GluShape {
  int c, t, f, pt, pf;
  bool dropout;
};
class GluDropoutPool : public ::testing::TestWithParam<GluShape> {};

TEST_P(GluDropoutPool, FusedMatchesComposedReferences) {
  const auto [c, t, f, pt, pf, with_dropout] = GetParam();
  const int64_t n = int64_t(t) * f;
  const int to = t / pt, fo = f / pf;
  const auto x = random_vector(c * n, 40, -3.0f, 3.0f), w = random_vector(c * c, 41);
  const auto bias = random_vector(c, 42), gout = random_vector(c * to * fo, 43);
  std::vector<uint64_t> bits(dropout_words(c * n));
  const core::RngStream rng(7, 2);
  dropout_keep_bits(rng, 0, c * n, 0.5f, bits.data());
  const uint64_t* keep = with_dropout ? bits.data() : nullptr;

  // Fused path: lin by GEMM, then the fused kernel.
  std::vector<float> lin(c * n);
  for (int ci = 0; ci < c; ++ci)
    std::fill(lin.begin() + ci * n, lin.begin() + (ci + 1) * n, bias[ci]);
  gemm(false, false, c, n, c, 1.0f, w.data(), c, x.data(), n, 1.0f, lin.data(), n);
  std::vector<float> out(c * to * fo);
  glu_dropout_avgpool_forward(lin.data(), x.data(), keep, 2.0f, c, t, f, pt, pf, out.data());

  // Composed references.
  std::vector<float> g(c * n), out_ref(out.size());
  glu_forward_reference(x.data(), w.data(), bias.data(), c, n, g.data());
  if (keep) dropout_apply(g.data(), keep, 2.0f, c * n, g.data());
  avgpool_forward_reference(g.data(), c, t, f, pt, pf, out_ref.data());
  EXPECT_LT(max_rel_error(out, out_ref), 1e-5);

  // Backward: fused elementwise part + the two GEMMs the layer adds.
  std::vector<float> glin(c * n), gx(c * n);
  glu_dropout_avgpool_backward(gout.data(), lin.data(), x.data(), keep, 2.0f, c, t, f, pt, pf,
                               glin.data(), gx.data());
  gemm(true, false, c, n, c, 1.0f, w.data(), c, glin.data(), n, 1.0f, gx.data(), n);
  std::vector<float> gw(c * c, 0.0f), gb(c, 0.0f);
  gemm(false, true, c, c, n, 1.0f, glin.data(), n, x.data(), n, 1.0f, gw.data(), c);
  for (int ci = 0; ci < c; ++ci)
    for (int64_t i = 0; i < n; ++i) gb[ci] += glin[ci * n + i];

  std::vector<float> gd(c * n, 0.0f), gx_ref(c * n, 0.0f), gw_ref(c * c, 0.0f), gb_ref(c, 0.0f);
  avgpool_backward_reference(gout.data(), c, t, f, pt, pf, gd.data());
  if (keep) dropout_apply(gd.data(), keep, 2.0f, c * n, gd.data());
  glu_backward_reference(x.data(), w.data(), bias.data(), gd.data(), c, n, gx_ref.data(),
                         gw_ref.data(), gb_ref.data());
  EXPECT_LT(max_rel_error(gx, gx_ref), 1e-5);
  EXPECT_LT(max_rel_error(gw, gw_ref), 1e-4);
  EXPECT_LT(max_rel_error(gb, gb_ref), 1e-4);
}

// The fused kernels (vector path where the build has one, scalar otherwise) against their
// plain-loop twins on random shapes: odd T and F (floor), pooling 1..3, rows shorter and longer
// than a vector, keep bits crossing word boundaries at every offset.
TEST(GluDropoutPoolRandom, FusedMatchesPlainLoopTwinOnRandomShapes) {
  core::RngStream shapes(2026, uint64_t(core::RngStreamId::kTest));
  for (int trial = 0; trial < 60; ++trial) {
    const int pt = 1 + int(shapes.uniform(0.0, 3.0)), pf = 1 + int(shapes.uniform(0.0, 3.0));
    const int c = 1 + int(shapes.uniform(0.0, 6.0));
    const int t = pt + int(shapes.uniform(0.0, 40.0)), f = pf + int(shapes.uniform(0.0, 70.0));
    const bool with_dropout = shapes.uniform(0.0, 1.0) < 0.7;
    SCOPED_TRACE(::testing::Message() << "c=" << c << " t=" << t << " f=" << f << " pt=" << pt
                                      << " pf=" << pf << " dropout=" << with_dropout);
    const int64_t n = int64_t(c) * t * f;
    const int64_t n_out = int64_t(c) * (t / pt) * (f / pf);
    const auto lin = random_vector(n, 100 + trial), x = random_vector(n, 200 + trial, -6.0f, 6.0f);
    const auto gout = random_vector(n_out, 300 + trial);
    std::vector<uint64_t> bits(dropout_words(n));
    dropout_keep_bits(core::RngStream(9, 3), 0, n, 0.5f, bits.data());
    const uint64_t* keep = with_dropout ? bits.data() : nullptr;
    const float scale = 2.0f;  // ignored without keep bits

    std::vector<float> out(n_out), out_ref(n_out);
    glu_dropout_avgpool_forward(lin.data(), x.data(), keep, scale, c, t, f, pt, pf, out.data());
    glu_dropout_avgpool_forward_reference(lin.data(), x.data(), keep, scale, c, t, f, pt, pf,
                                          out_ref.data());
    EXPECT_LT(max_rel_error(out, out_ref), 2e-6);

    // Poisoned outputs: every element must be written (zeros where the floor drops it).
    std::vector<float> gl(n, std::nanf("")), gx(n, std::nanf("")), gl_ref(n), gx_ref(n);
    glu_dropout_avgpool_backward(gout.data(), lin.data(), x.data(), keep, scale, c, t, f, pt, pf,
                                 gl.data(), gx.data());
    glu_dropout_avgpool_backward_reference(gout.data(), lin.data(), x.data(), keep, scale, c, t, f,
                                           pt, pf, gl_ref.data(), gx_ref.data());
    EXPECT_LT(max_rel_error(gl, gl_ref), 2e-6);
    EXPECT_LT(max_rel_error(gx, gx_ref), 2e-6);

    // grad_lin may alias lin.
    std::vector<float> in_place = lin, gx2(n);
    glu_dropout_avgpool_backward(gout.data(), in_place.data(), x.data(), keep, scale, c, t, f, pt,
                                 pf, in_place.data(), gx2.data());
    EXPECT_EQ(in_place, gl);
    EXPECT_EQ(gx2, gx);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GluDropoutPool,
    ::testing::Values(GluShape{4, 6, 8, 2, 2, true},
                      GluShape{3, 7, 6, 2, 2, false},  // T odd: floor drops a row
                      GluShape{5, 4, 4, 1, 2, true}, GluShape{2, 3, 2, 1, 2, true},
                      GluShape{3, 2, 1030, 1, 2, true},  // > one chunk
                      GluShape{6, 5, 6, 1, 3, true},     // pf 3
                      GluShape{4, 9, 5, 1, 2, true}));   // F odd: floor drops a column

}  // namespace
}  // namespace greensed::kernels
