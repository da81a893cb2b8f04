// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011, as in Random123 and cuRAND).
// A stream is (seed, stream id); its values are a pure function of (seed, stream id, counter),
// so a stream can be saved as three integers, restored exactly, and split across threads by
// counter ranges without locking. Each consumer (dropout, MixUp, batch order, synthesis) owns its
// own stream id, so changing one consumer never shifts another's numbers.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace greensed::core {

// Philox4x32-10 block: 128 random bits from a 128-bit counter and a 64-bit key.
inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> ctr,
                                          std::array<uint32_t, 2> key) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t{kM0} * ctr[0];
    const uint64_t p1 = uint64_t{kM1} * ctr[2];
    ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ key[0], uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ key[1],
           uint32_t(p0)};
    key[0] += kW0;
    key[1] += kW1;
  }
  return ctr;
}

// Uniform float in [0, 1) from the top 24 bits.
inline float u32_to_unit_float(uint32_t x) {
  return float(x >> 8) * (1.0f / 16777216.0f);
}
// Uniform double in [0, 1) from 53 bits.
inline double u64_to_unit_double(uint64_t x) {
  return double(x >> 11) * (1.0 / 9007199254740992.0);
}

// The state of a stream: enough to resume it exactly (stored in checkpoints).
struct RngState {
  uint64_t seed = 0;
  uint64_t stream = 0;
  uint64_t counter = 0;  // number of 128-bit blocks consumed
};

class RngStream {
 public:
  RngStream() = default;
  RngStream(uint64_t seed, uint64_t stream) : state_{seed, stream, 0} {}
  explicit RngStream(const RngState& state) : state_(state) {}

  const RngState& state() const { return state_; }

  // The 128-bit block at an absolute counter position; does not advance the stream.
  std::array<uint32_t, 4> block_at(uint64_t counter) const {
    return philox4x32({uint32_t(counter), uint32_t(counter >> 32), uint32_t(state_.stream),
                       uint32_t(state_.stream >> 32)},
                      {uint32_t(state_.seed), uint32_t(state_.seed >> 32)});
  }
  // Reserves n blocks for bulk use (e.g. a dropout mask filled in parallel) and returns the first.
  uint64_t reserve_blocks(uint64_t n) {
    const uint64_t first = state_.counter;
    state_.counter += n;
    return first;
  }

  uint64_t next_u64() {
    const auto b = block_at(state_.counter++);
    return (uint64_t{b[0]} << 32) | b[1];
  }
  double uniform() { return u64_to_unit_double(next_u64()); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [lo, hi], both ends included (Python's random.randint), unbiased.
  int64_t randint(int64_t lo, int64_t hi);
  double normal();                      // standard normal (Box-Muller, one value per call)
  double gamma(double shape);           // Marsaglia-Tsang, shape > 0
  double beta(double a, double b);      // via two gammas
  std::vector<int> permutation(int n);  // Fisher-Yates
  template <class T>
  void shuffle(std::span<T> items) {
    for (int64_t i = int64_t(items.size()) - 1; i > 0; --i) {
      std::swap(items[i], items[randint(0, i)]);
    }
  }

 private:
  RngState state_;
};

// Stream ids of greensed's consumers. Never renumber: checkpoints and seeds depend on them.
enum class RngStreamId : uint64_t {
  kInit = 1,  // parameter initialisation
  kDropoutStudent = 2,
  kDropoutTeacher = 3,
  kMixup = 4,
  kBatchOrder = 5,
  kCrop = 6,
  kWeakSplit = 7,
  kSynth = 8,
  kTest = 100,
};

inline RngStream make_stream(uint64_t seed, RngStreamId id) {
  return RngStream(seed, uint64_t(id));
}

}  // namespace greensed::core
