// The heaviest CRNN kernels on the real shapes of one 10 s clip (626 frames × 128 mel bins), one
// thread, with FLOP/s counters (items = output elements where there is no FLOP count). The
// `_reference` twins are timed alongside where they are fast enough to matter.
// Run: build/bench/crnn/bench_crnn_kernels [--benchmark_filter=Conv]
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>
#include <vector>

#include "greensed/core/cpu.hpp"
#include "greensed/core/rng.hpp"
#include "greensed/kernels/conv2d.hpp"
#include "greensed/kernels/dropout.hpp"
#include "greensed/kernels/gemm.hpp"
#include "greensed/kernels/glu.hpp"
#include "greensed/kernels/gru.hpp"
#include "greensed/kernels/winograd.hpp"

namespace greensed::kernels {
namespace {

std::vector<float> random_vector(size_t n, uint64_t seed) {
  core::RngStream rng(seed, uint64_t(core::RngStreamId::kTest));
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.uniform(-1.0, 1.0));
  return v;
}

// CNN block shapes of the default config: C_in, C_out, T, F.
constexpr int kBlocks[7][4] = {{1, 16, 626, 128},  {16, 32, 313, 64},  {32, 64, 156, 32},
                               {64, 128, 156, 16}, {128, 128, 156, 8}, {128, 128, 156, 4},
                               {128, 128, 156, 2}};

void BM_ConvForward(benchmark::State& state) {
  const auto* s = kBlocks[state.range(0)];
  const int c_in = s[0], c_out = s[1], t = s[2], f = s[3];
  const auto x = random_vector(size_t(c_in) * t * f, 1),
             w = random_vector(size_t(c_out) * c_in * 9, 2);
  const auto b = random_vector(c_out, 3);
  std::vector<float> col(size_t(c_in) * 9 * t * f), y(size_t(c_out) * t * f);
  BlasSingleThreadScope blas;
  for (auto _ : state) {
    conv3x3_forward(x.data(), w.data(), b.data(), c_in, c_out, t, f, col.data(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * c_out * c_in * 9.0 * t * f,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ConvForward)->DenseRange(0, 6)->Unit(benchmark::kMillisecond);

// Winograd on the blocks with C_in ≥ 16 at the tile size of arg 1 (2 or 4; the shipped choice is
// conv3x3_winograd_tile's), per item: the weight transform runs once per forward call of a block
// (BM_WinogradWeights). FLOP/s counts the direct convolution's FLOPs, so it compares with
// BM_ConvForward as a speed.
void BM_ConvForwardWinograd(benchmark::State& state) {
  const auto* s = kBlocks[state.range(0)];
  const int c_in = s[0], c_out = s[1], t = s[2], f = s[3], m = int(state.range(1));
  const auto x = random_vector(size_t(c_in) * t * f, 1),
             w = random_vector(size_t(c_out) * c_in * 9, 2);
  const auto b = random_vector(c_out, 3);
  std::vector<float> u(winograd_weight_floats(c_in, c_out, m)),
      scratch(winograd_scratch_floats(c_in, c_out, t, f, m)), y(size_t(c_out) * t * f);
  BlasSingleThreadScope blas;
  winograd_transform_weights(w.data(), c_in, c_out, m, u.data());
  for (auto _ : state) {
    conv3x3_winograd_forward(x.data(), u.data(), b.data(), c_in, c_out, t, f, m, scratch.data(),
                             y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * c_out * c_in * 9.0 * t * f,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ConvForwardWinograd)
    ->ArgsProduct({benchmark::CreateDenseRange(1, 6, 1), {2, 4}})
    ->Unit(benchmark::kMillisecond);

void BM_WinogradWeights(benchmark::State& state) {
  const auto* s = kBlocks[state.range(0)];
  const int c_in = s[0], c_out = s[1], m = int(state.range(1));
  const auto w = random_vector(size_t(c_out) * c_in * 9, 2);
  std::vector<float> u(winograd_weight_floats(c_in, c_out, m));
  for (auto _ : state) {
    winograd_transform_weights(w.data(), c_in, c_out, m, u.data());
    benchmark::DoNotOptimize(u.data());
  }
}
BENCHMARK(BM_WinogradWeights)
    ->ArgsProduct({benchmark::CreateDenseRange(1, 6, 1), {2, 4}})
    ->Unit(benchmark::kMillisecond);

// The Winograd weight gradient of one item (the shipped backward for C_in ≥ 16), arg 1 the tile
// size; FLOP/s counts the direct weight gradient's FLOPs.
void BM_WinogradWeightGradient(benchmark::State& state) {
  const auto* s = kBlocks[state.range(0)];
  const int c_in = s[0], c_out = s[1], t = s[2], f = s[3], m = int(state.range(1));
  const auto x = random_vector(size_t(c_in) * t * f, 1);
  const auto gy = random_vector(size_t(c_out) * t * f, 3);
  std::vector<float> scratch(winograd_backward_weights_scratch_floats(c_in, c_out, t, f, m)),
      gw(size_t(c_out) * c_in * 9), gb(c_out);
  BlasSingleThreadScope blas;
  for (auto _ : state) {
    conv3x3_winograd_backward_weights(x.data(), gy.data(), c_in, c_out, t, f, m, scratch.data(),
                                      gw.data(), gb.data());
    benchmark::DoNotOptimize(gw.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * c_out * c_in * 9.0 * t * f,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WinogradWeightGradient)
    ->ArgsProduct({benchmark::CreateDenseRange(1, 6, 1), {2, 4}})
    ->Unit(benchmark::kMillisecond);

void BM_ConvBackward(benchmark::State& state) {
  const auto* s = kBlocks[state.range(0)];
  const int c_in = s[0], c_out = s[1], t = s[2], f = s[3];
  const auto x = random_vector(size_t(c_in) * t * f, 1),
             w = random_vector(size_t(c_out) * c_in * 9, 2);
  const auto gy = random_vector(size_t(c_out) * t * f, 3);
  std::vector<float> col(size_t(c_in) * 9 * t * f), gx(x.size()), gw(w.size()), gb(c_out);
  BlasSingleThreadScope blas;
  for (auto _ : state) {
    conv3x3_backward_weights(x.data(), gy.data(), c_in, c_out, t, f, col.data(), false, gw.data(),
                             gb.data());
    if (c_in > 1)
      conv3x3_backward_data(gy.data(), w.data(), c_in, c_out, t, f, col.data(), gx.data());
    benchmark::DoNotOptimize(gx.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter((c_in > 1 ? 4.0 : 2.0) * c_out * c_in * 9.0 * t * f,
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ConvBackward)->DenseRange(0, 6)->Unit(benchmark::kMillisecond);

// The GLU's channel GEMM plus the fused gate/dropout/pool pass.
void BM_GluDropoutPoolForward(benchmark::State& state) {
  const auto* s = kBlocks[state.range(0)];
  const int c = s[1], t = s[2], f = s[3];
  const int64_t n = int64_t(c) * t * f;
  const auto x = random_vector(n, 1), w = random_vector(size_t(c) * c, 2);
  std::vector<float> lin(n), out(n / 2 + 1);
  std::vector<uint64_t> bits(dropout_words(n));
  dropout_keep_bits(core::RngStream(1, 2), 0, n, 0.5f, bits.data());
  const int pt = state.range(0) < 2 ? 2 : 1;
  BlasSingleThreadScope blas;
  for (auto _ : state) {
    gemm(false, false, c, t * f, c, 1.0f, w.data(), c, x.data(), t * f, 0.0f, lin.data(), t * f);
    glu_dropout_avgpool_forward(lin.data(), x.data(), bits.data(), 2.0f, c, t, f, pt, 2,
                                out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * c * c * t * f, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["elem/s"] =
      benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GluDropoutPoolForward)->DenseRange(0, 6)->Unit(benchmark::kMillisecond);

void BM_DropoutMask(benchmark::State& state) {
  const int64_t n = 16 * 626 * 128;  // block 0 of one clip
  std::vector<uint64_t> bits(dropout_words(n));
  const core::RngStream rng(1, 2);
  for (auto _ : state) {
    dropout_keep_bits(rng, 0, n, 0.5f, bits.data());
    benchmark::DoNotOptimize(bits.data());
  }
  state.counters["elem/s"] =
      benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DropoutMask)->Unit(benchmark::kMillisecond);

// One GRU direction of layer 1 (input 256) for a batch of range(0) clips: projection GEMM +
// recurrence.
void BM_GruDirectionForward(benchmark::State& state) {
  const int b = int(state.range(0)), t = 156, h = 128, in = 256;
  const auto x = random_vector(size_t(b) * t * in, 1), w_ih = random_vector(3 * h * in, 2);
  const auto w_hh = random_vector(3 * h * h, 3), b_hh = random_vector(3 * h, 4);
  std::vector<float> xproj(size_t(b) * t * 3 * h), h_prev(size_t(t) * b * h),
      gates(size_t(t) * b * 3 * h), hn(size_t(t) * b * h), scratch(size_t(b) * 3 * h),
      out(size_t(b) * t * 2 * h);
  BlasSingleThreadScope blas;
  for (auto _ : state) {
    gemm(false, true, b * t, 3 * h, in, 1.0f, x.data(), in, w_ih.data(), in, 0.0f, xproj.data(),
         3 * h);
    gru_sequence_forward(xproj.data(), w_hh.data(), b_hh.data(), b, t, h, false, h_prev.data(),
                         gates.data(), hn.data(), scratch.data(), out.data(), int64_t(t) * 2 * h,
                         2 * h);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * b * t * 3.0 * h * (in + h),
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_GruDirectionForward)->Arg(4)->Arg(48)->Unit(benchmark::kMillisecond);

// The machine's sgemm peak: OpenBLAS on a square 2048³ product with the thread count as the
// argument (the yardstick the step's GFLOP/s is compared against; scripts/compare_step_speed.sh).
void BM_SgemmPeak(benchmark::State& state) {
  constexpr int n = 2048;
  const auto a = random_vector(size_t(n) * n, 4), b = random_vector(size_t(n) * n, 5);
  std::vector<float> c(size_t(n) * n);
  const int previous = openblas_get_num_threads();
  openblas_set_num_threads(int(state.range(0)));
  for (auto _ : state) {
    gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  openblas_set_num_threads(previous);
  state.counters["FLOP/s"] =
      benchmark::Counter(2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgemmPeak)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace greensed::kernels

int main(int argc, char** argv) {
  greensed::core::ensure_openblas_coretype(argc, argv);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
