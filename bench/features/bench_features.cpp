// Feature extraction throughput: 10 s, 16 kHz clips per second (decode → mel → dB → scaler), at 1
// and 2 threads, plus the pieces (STFT+mel from memory, dB+scaler per clip).
//   build/bench/features/bench_features [--benchmark_filter=...]
// Input: synthetic 10 s clips written to a temporary folder (or GREENSED_BENCH_AUDIO_DIR, *.wav).
// scripts/bench_features_numpy.py times the numpy reference on the same kind of files.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "greensed/audio/audio.hpp"
#include "greensed/features/cache.hpp"
#include "greensed/features/db_scaler.hpp"
#include "greensed/features/mel.hpp"

namespace {

using namespace greensed;
namespace fs = std::filesystem;

constexpr int kNumClips = 32;

std::vector<float> synthetic_clip(uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, 0.05f);
  std::vector<float> x(160000);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] =
        0.3f * std::sin(2.0f * 3.14159265f * (200.0f + 30.0f * seed) * i / 16000.0f) + noise(gen);
  }
  return x;
}

const std::vector<std::string>& clip_files() {
  static const std::vector<std::string> files = [] {
    std::vector<std::string> out;
    if (const char* dir = std::getenv("GREENSED_BENCH_AUDIO_DIR")) {
      for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() == ".wav") out.push_back(e.path().string());
      }
      std::sort(out.begin(), out.end());
      return out;
    }
    const fs::path dir = fs::temp_directory_path() / "greensed_bench_features";
    fs::create_directories(dir);
    for (int i = 0; i < kNumClips; ++i) {
      const auto path = (dir / ("clip" + std::to_string(i) + ".wav")).string();
      if (!fs::exists(path)) audio::write_wav(path, synthetic_clip(i), 1, 16000);
      out.push_back(path);
    }
    return out;
  }();
  return files;
}

// The whole per-clip path of `greensed features` + dump: decode, mel, dB, scaler.
double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// clips/s is wall time (what a user waits); cpu_ms/clip is the process's CPU time over all
// threads, which stays meaningful on a machine shared with other work.
void BM_ClipsPerSecond(benchmark::State& state) {
  const int n_threads = int(state.range(0));
  const features::CacheSettings settings;
  const features::MelExtractor extractor(settings.mel);
  const auto& files = clip_files();
  int64_t n_done = 0;
  const double cpu0 = process_cpu_seconds();
  for (auto _ : state) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < n_threads; ++t) {
      pool.emplace_back([&] {
        for (size_t i; (i = next++) < files.size();) {
          auto mel = features::compute_clip_mel(files[i], settings, extractor);
          std::vector<float> x(mel.values().begin(), mel.values().end());
          features::amplitude_to_db(x);
          features::scale_instance(x, 1, features::NormType::kMinMax);
          benchmark::DoNotOptimize(x.data());
        }
      });
    }
    for (auto& th : pool) th.join();
    n_done += int64_t(files.size());
  }
  state.counters["clips/s"] = benchmark::Counter(double(n_done), benchmark::Counter::kIsRate);
  state.counters["cpu_ms/clip"] = 1000.0 * (process_cpu_seconds() - cpu0) / double(n_done);
}
BENCHMARK(BM_ClipsPerSecond)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_MelFromMemory(benchmark::State& state) {
  const features::MelExtractor extractor;
  const auto x = synthetic_clip(1);
  std::vector<float> mel(128 * 626);
  for (auto _ : state) {
    extractor.compute(x, mel);
    benchmark::DoNotOptimize(mel.data());
  }
  state.counters["clips/s"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MelFromMemory)->Unit(benchmark::kMillisecond);

void BM_DbScalerBatch48(benchmark::State& state) {
  const features::MelExtractor extractor;
  const auto mel = extractor.compute(synthetic_clip(2));
  std::vector<float> batch(48 * mel.size());
  for (auto _ : state) {
    for (int b = 0; b < 48; ++b) std::copy(mel.begin(), mel.end(), batch.begin() + b * mel.size());
    features::amplitude_to_db(batch);
    features::scale_instance(batch, 48, features::NormType::kMinMax);
    benchmark::DoNotOptimize(batch.data());
  }
  state.counters["clips/s"] =
      benchmark::Counter(48.0 * double(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DbScalerBatch48)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
