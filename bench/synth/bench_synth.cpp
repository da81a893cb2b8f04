// Generator cost per 10 s clip (render only, no disk), per set kind, and per-class event cost.
// Clips per second on T cores is about T / (time per clip), since clips render independently.
#include <benchmark/benchmark.h>

#include "greensed/synth/generate.hpp"

namespace {

using namespace greensed::synth;

void BM_RenderClip(benchmark::State& state) {
  SynthOptions o;
  o.n_synth_train = o.n_weak = o.n_unlabeled = 0;
  o.n_synth_val = 0;
  o.n_test = 0;
  const auto set = SetId(state.range(0));
  if (set == SetId::kSynthTrain) o.n_synth_train = 64;
  if (set == SetId::kWeak) o.n_weak = 64;
  if (set == SetId::kTest) o.n_test = 64;
  auto plan = plan_dataset(o);
  std::erase_if(plan, [&](const PlannedClip& c) { return c.set != set; });
  const SourceLibrary none;
  size_t i = 0;
  for (auto _ : state) {
    auto x = render_clip(plan[i++ % plan.size()], o, none);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["clips/s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RenderClip)
    ->Arg(int(SetId::kSynthTrain))
    ->Arg(int(SetId::kWeak))
    ->Arg(int(SetId::kTest))
    ->Unit(benchmark::kMillisecond);

void BM_ProceduralEvent(benchmark::State& state) {
  const int label = int(state.range(0));
  std::vector<float> x(3 * kSampleRate);
  Noise noise(uint64_t(label) + 1);
  for (auto _ : state) {
    render_procedural_event(label, noise, EventStyle{}, x);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetLabel(std::string(greensed::data::kClassNames[label]) + ", 3 s");
}
BENCHMARK(BM_ProceduralEvent)->DenseRange(0, 9)->Unit(benchmark::kMillisecond);

void BM_Loudness(benchmark::State& state) {
  std::vector<float> x(10 * kSampleRate);
  Noise noise(1);
  for (float& v : x) v = noise.white();
  for (auto _ : state) benchmark::DoNotOptimize(integrated_loudness(x));
}
BENCHMARK(BM_Loudness)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
