// Counter arithmetic (spec energy.md §7.5, §7.13 "Counter arithmetic", "Power integration"):
// scripted raw values fed to the tracker with explicit times, no thread, no files.
#include <gtest/gtest.h>

#include <cmath>

#include "greensed/energy/counter.hpp"

namespace greensed::energy {
namespace {

constexpr int64_t kIntelRange = 262143328850;  // µJ, a real Intel package max_energy_range_uj
constexpr int64_t kAmdRange = 65535999984;
constexpr int64_t kS = 1000000000;  // ns per s

TEST(Counter, Steady50WattsIsExact) {
  CounterTracker t(CounterTracker::Kind::kWrapping, kIntelRange, 150.0);
  int64_t raw = 123456789, sum = 0;
  t.update(raw, 0);
  for (int i = 1; i <= 100; ++i) {
    raw += 50000000;  // 50 W × 1 s
    const Delta d = t.update(raw, i * kS);
    EXPECT_EQ(d.flags, 0u);
    sum += d.uj;
  }
  EXPECT_EQ(sum, 100 * 50000000LL);
}

TEST(Counter, WrapAtArbitraryOffsetsIsCorrectedExactly) {
  for (int64_t offset : {int64_t(1), int64_t(12345), int64_t(49999999), int64_t(50000000),
                         kIntelRange / 3, kIntelRange - 1}) {
    CounterTracker t(CounterTracker::Kind::kWrapping, kIntelRange, 150.0);
    // Start `offset` µJ below the top; 50 W for 20 s crosses the top once.
    int64_t true_energy = kIntelRange - offset, sum = 0;
    t.update(true_energy % kIntelRange, 0);
    int wraps = 0;
    for (int i = 1; i <= 20; ++i) {
      true_energy += 50000000;
      const Delta d = t.update(true_energy % kIntelRange, i * kS);
      EXPECT_GE(d.uj, 0);
      sum += d.uj;
      wraps += d.wraps;
    }
    EXPECT_EQ(sum, 20 * 50000000LL) << "offset " << offset;
    EXPECT_EQ(wraps, offset <= 20 * 50000000LL ? 1 : 0) << "offset " << offset;
  }
}

TEST(Counter, TwoWrapsInOneLongIntervalAreFlagged) {
  // AMD range (65.5 kJ) at a 280 W limit wraps in 234 s; a 600 s gap at 250 W is 150 kJ.
  CounterTracker t(CounterTracker::Kind::kWrapping, kAmdRange, 280.0);
  EXPECT_NEAR(t.wrap_period_s(), 234.06, 0.01);
  const int64_t start = 1000;
  t.update(start, 0);
  const int64_t after = (start + 150000000000LL) % kAmdRange;
  const Delta d = t.update(after, 600 * kS);
  EXPECT_TRUE(d.flags & kFlagPossibleMissedWrap) << flags_text(d.flags);
  EXPECT_GE(d.uj, 0);
}

TEST(Counter, ResetToNearZeroIsNotAWrap) {
  CounterTracker t(CounterTracker::Kind::kWrapping, kIntelRange, 150.0);
  t.update(200000000000LL, 0);
  // Driver reload: counter restarts. A single wrap would mean 62 kJ in 1 s: implausible.
  Delta d = t.update(1000, kS);
  EXPECT_EQ(d.uj, 0);  // held until the next read tells reset from glitch
  d = t.update(51001000, 2 * kS);
  EXPECT_EQ(d.resets, 1);
  EXPECT_TRUE(d.flags & kFlagReset);
  EXPECT_EQ(d.uj, 51001000);  // energy since the reset; the lost part is at most one interval
  d = t.update(101001000, 3 * kS);
  EXPECT_EQ(d.uj, 50000000);
  EXPECT_EQ(d.flags, 0u);
}

TEST(Counter, GlitchValueIsIgnoredAndNothingIsLost) {
  CounterTracker t(CounterTracker::Kind::kWrapping, kIntelRange, 150.0);
  t.update(100000000, 0);
  Delta a = t.update(0, kS);  // one bad read (CodeCarbon turns read errors into 0)
  Delta b = t.update(200000000, 2 * kS);
  EXPECT_EQ(a.uj + b.uj, 100000000);
  EXPECT_EQ(b.glitches, 1);
  EXPECT_TRUE(b.flags & kFlagGlitch);
  EXPECT_EQ(b.resets + b.wraps, 0);
}

TEST(Counter, ReadErrorIsNotFabricated) {
  CounterTracker t(CounterTracker::Kind::kWrapping, kIntelRange, 150.0);
  t.update(1000, 0);
  const Delta e = t.read_error();  // EIO: nothing added, state unchanged
  EXPECT_EQ(e.uj, 0);
  EXPECT_EQ(e.errors, 1);
  const Delta d = t.update(1000 + 100000000, 2 * kS);
  EXPECT_EQ(d.uj, 100000000);  // the whole interval since the last good read
}

TEST(Counter, UnknownRangeDropsTheWrapButNeverGoesNegative) {
  CounterTracker t(CounterTracker::Kind::kWrapping, 0, 150.0);
  EXPECT_EQ(t.wrap_period_s(), 0.0);
  t.update(kIntelRange - 10000000, 0);
  const Delta a = t.update(40000000, kS);  // wrapped, but by how much is unknown
  const Delta b = t.update(90000000, 2 * kS);
  EXPECT_GE(a.uj, 0);
  EXPECT_GE(b.uj, 0);
  EXPECT_EQ(a.uj + b.uj, 90000000);  // energy since the counter restarted; the rest dropped
  EXPECT_EQ(b.drops, 1);
  EXPECT_TRUE(b.flags & kFlagWrapUncorrectable);
}

TEST(Counter, MonotonicCounterDecreaseIsAReset) {
  CounterTracker t(CounterTracker::Kind::kMonotonic, 0, 0.0);
  t.update(5000000000LL, 0);
  t.update(3000000, kS);  // NVML after a driver reload
  const Delta d = t.update(6000000, 2 * kS);
  EXPECT_EQ(d.resets, 1);
  EXPECT_EQ(d.uj, 6000000);
}

TEST(Counter, ImplausibleForwardJumpIsFlagged) {
  CounterTracker t(CounterTracker::Kind::kWrapping, kIntelRange, 100.0);
  t.update(0, 0);
  const Delta d = t.update(500000000, kS);  // 500 W on a 100 W package
  EXPECT_TRUE(d.flags & kFlagImplausibleHigh);
}

TEST(PowerIntegration, TrapezoidIsExactOnARamp) {
  // P(t) = 100 + 10 t W over 10 s = 1500 J.
  PowerIntegrator p;
  int64_t sum = 0;
  for (int i = 0; i <= 100; ++i) {
    const double t = i * 0.1;
    sum += p.add_sample(100 + 10 * t, int64_t(std::llround(t * 1e9)));
  }
  EXPECT_NEAR(double(sum), 1.5e9, 1.0);
}

TEST(PowerIntegration, TrapezoidMatchesTheAnalyticIntegralOfACurve) {
  // P(t) = 5 + t² over 3 s = 24 J; trapezoid error (b−a) h² f''/12 = 5e-5 J at h = 10 ms.
  PowerIntegrator p;
  int64_t sum = 0;
  for (int i = 0; i <= 300; ++i) {
    const double t = i * 0.01;
    sum += p.add_sample(5 + t * t, int64_t(std::llround(t * 1e9)));
  }
  EXPECT_NEAR(double(sum) * 1e-6, 24.0, 1e-4);
  EXPECT_GT(double(sum) * 1e-6, 24.0);  // trapezoid over-estimates a convex curve
}

TEST(PowerIntegration, SplittingAtABoundaryChangesNothingOnALine) {
  // A mark at t = 0.37 s adds a sample on the line: pieces sum to the whole, to the µJ.
  PowerIntegrator whole, split;
  int64_t a = 0, b = 0;
  for (double t : {0.0, 1.0}) a += whole.add_sample(40 + 20 * t, int64_t(t * 1e9));
  for (double t : {0.0, 0.37, 1.0}) b += split.add_sample(40 + 20 * t, int64_t(t * 1e9));
  EXPECT_EQ(a, 50000000);
  EXPECT_EQ(b, a);
}

TEST(PowerIntegration, RemainderIsCarriedNotLost) {
  PowerIntegrator p;
  int64_t sum = 0;
  for (int i = 0; i < 1000000; ++i) sum += p.add_constant(0.3, 1000);  // 0.3 µJ each
  EXPECT_NEAR(double(sum), 300000.0, 1.0);
}

TEST(PerfScale, CountsConvertExactly) {
  EXPECT_EQ(perf_count_to_uj(0), 0);
  EXPECT_EQ(perf_count_to_uj(1), 0);
  EXPECT_EQ(perf_count_to_uj(1ull << 32), 1000000);
  EXPECT_EQ(perf_count_to_uj((1ull << 32) * 3600), 3600000000LL);
  EXPECT_EQ(perf_count_to_uj((1ull << 31)), 500000);
}

TEST(Flags, NamesAreStable) {
  EXPECT_EQ(flags_text(kFlagReset | kFlagGlitch), "reset|glitch");
  EXPECT_EQ(flags_text(0), "");
}

}  // namespace
}  // namespace greensed::energy
