#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "greensed/nn/parallel.hpp"

namespace greensed::nn {
namespace {

TEST(ParallelFor, RunsEveryIndexExactlyOnceWithValidWorkerIds) {
  for (const int threads : {1, 2, 3}) {
    for (const int64_t n : {0, 1, 2, 7, 100}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<bool> bad_worker{false};
      parallel_for(n, threads, [&](int64_t i, int worker) {
        hits[i].fetch_add(1);
        if (worker < 0 || worker >= threads) bad_worker = true;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << i;
      EXPECT_FALSE(bad_worker);
    }
  }
}

TEST(ParallelFor, RethrowsTheBodysExceptionAndStaysUsable) {
  EXPECT_THROW(parallel_for(50, 2,
                            [](int64_t i, int) {
                              if (i == 17) throw std::runtime_error("boom");
                            }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  parallel_for(10, 2, [&](int64_t i, int) { sum += i; });
  EXPECT_EQ(sum.load(), 45);
}

TEST(ParallelFor, NestedCallsRunSeriallyInsteadOfDeadlocking) {
  std::atomic<int> count{0};
  parallel_for(4, 2, [&](int64_t, int) { parallel_for(3, 2, [&](int64_t, int) { ++count; }); });
  EXPECT_EQ(count.load(), 12);
}

}  // namespace
}  // namespace greensed::nn
