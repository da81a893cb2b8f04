#include <gtest/gtest.h>

#include "greensed/kernels/gru.hpp"
#include "greensed/kernels/heads.hpp"
#include "random.hpp"

namespace greensed::kernels {
namespace {
using testing::max_rel_error;
using testing::random_vector;

TEST(Gru, SequenceForwardBackwardMatchReferenceBothDirections) {
  const int b = 3, t = 5, h = 4, h3 = 3 * h;
  for (const bool reverse : {false, true}) {
    const auto xproj = random_vector(b * t * h3, 50, -2.0f, 2.0f);
    const auto w_hh = random_vector(h3 * h, 51), b_hh = random_vector(h3, 52);
    // Output inside a wider [B, T, 2H] tensor, as the bidirectional layer writes it.
    const int64_t sb = int64_t(t) * 2 * h, st = 2 * h;
    std::vector<float> out(b * sb, 0.0f), out_ref(b * sb, 0.0f);
    std::vector<float> h_prev(t * b * h), gates(t * b * h3), hn(t * b * h), scratch(b * h3);
    gru_sequence_forward(xproj.data(), w_hh.data(), b_hh.data(), b, t, h, reverse, h_prev.data(),
                         gates.data(), hn.data(), scratch.data(), out.data() + h, sb, st);
    gru_sequence_forward_reference(xproj.data(), w_hh.data(), b_hh.data(), b, t, h, reverse,
                                   out_ref.data() + h, sb, st);
    EXPECT_LT(max_rel_error(out, out_ref), 1e-6);
    // Without caches (inference): the same outputs bit for bit.
    std::vector<float> out_lean(b * sb, 0.0f), scratch_lean(b * (h3 + h));
    gru_sequence_forward(xproj.data(), w_hh.data(), b_hh.data(), b, t, h, reverse, nullptr, nullptr,
                         nullptr, scratch_lean.data(), out_lean.data() + h, sb, st);
    EXPECT_EQ(out_lean, out);

    const auto gout = random_vector(b * sb, 53);
    std::vector<float> gxp(xproj.size()), gxp_ref(xproj.size());
    auto gw = random_vector(w_hh.size(), 54), gw_ref = gw;
    auto gb = random_vector(b_hh.size(), 55), gb_ref = gb;
    std::vector<float> s_ghh(t * b * h3), s_gh(2 * b * h);
    gru_sequence_backward(gout.data() + h, sb, st, w_hh.data(), h_prev.data(), gates.data(),
                          hn.data(), b, t, h, reverse, gxp.data(), gw.data(), gb.data(),
                          s_ghh.data(), s_gh.data());
    gru_sequence_backward_reference(xproj.data(), w_hh.data(), b_hh.data(), gout.data() + h, sb, st,
                                    b, t, h, reverse, gxp_ref.data(), gw_ref.data(), gb_ref.data());
    EXPECT_LT(max_rel_error(gxp, gxp_ref), 1e-5);
    EXPECT_LT(max_rel_error(gw, gw_ref), 1e-5);
    EXPECT_LT(max_rel_error(gb, gb_ref), 1e-5);
  }
}

TEST(Heads, SoftmaxClampMatchesReferenceIncludingClampedEntries) {
  const int rows = 6, k = 10;
  auto logits = random_vector(rows * k, 60, -3.0f, 3.0f);
  logits[3] = -30.0f;  // softmax below 1e-7: clamped, no gradient
  logits[k + 1] = 25.0f;
  std::vector<float> a(rows * k), a_ref(rows * k);
  softmax_clamp_forward(logits.data(), rows, k, a.data());
  softmax_clamp_forward_reference(logits.data(), rows, k, a_ref.data());
  EXPECT_LT(max_rel_error(a, a_ref), 1e-6);
  EXPECT_FLOAT_EQ(a[3], kAttentionMin);
  const auto ga = random_vector(rows * k, 61);
  auto gl = random_vector(rows * k, 62), gl_ref = gl;
  softmax_clamp_backward(logits.data(), ga.data(), rows, k, gl.data());
  softmax_clamp_backward_reference(logits.data(), ga.data(), rows, k, gl_ref.data());
  EXPECT_LT(max_rel_error(gl, gl_ref), 1e-6);
}

TEST(Heads, AttentionPoolMatchesReference) {
  const int b = 2, t = 7, k = 3;
  const auto s = random_vector(b * t * k, 70, 0.0f, 1.0f),
             a = random_vector(b * t * k, 71, 1e-3f, 1.0f);
  std::vector<float> w(b * k), w_ref(b * k);
  attention_pool_forward(s.data(), a.data(), b, t, k, w.data());
  attention_pool_forward_reference(s.data(), a.data(), b, t, k, w_ref.data());
  EXPECT_LT(max_rel_error(w, w_ref), 1e-6);
}

}  // namespace
}  // namespace greensed::kernels
