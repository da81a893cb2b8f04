// Inverted dropout masks from a counter-based stream (core::RngStream, Philox4x32-10). A mask is a
// bit set, 1 = keep (probability 1 − p); kept values are scaled by 1/(1 − p) by the consumer.
// Element i of a mask segment that starts at block `counter` uses:
//   p == 0.5: bit (i mod 128) of block counter + i/128 (words 0..3, LSB first): 128 elements per
//             Philox call, so masks cost almost nothing next to the layers;
//   otherwise: the 16-bit half-word (i mod 8) of block counter + i/8 and keep iff it is
//             ≥ round(p·65536) (keep probability exact to 1/65536).
// Segments are independent: the caller reserves dropout_blocks(n, p) blocks per segment (e.g. per
// batch item) and may fill segments in parallel.
#pragma once

#include <cstdint>

#include "greensed/core/rng.hpp"

namespace greensed::kernels {

int64_t dropout_blocks(int64_t n, float p);
// Words of 64 bits that hold the mask of n elements.
inline int64_t dropout_words(int64_t n) {
  return (n + 63) / 64;
}

// bits[0 .. dropout_words(n)) = keep mask of n elements (bits past n are 0).
void dropout_keep_bits(const core::RngStream& rng, uint64_t counter, int64_t n, float p,
                       uint64_t* bits);
void dropout_keep_bits_reference(const core::RngStream& rng, uint64_t counter, int64_t n, float p,
                                 uint64_t* bits);

inline bool keep_bit(const uint64_t* bits, int64_t i) {
  return (bits[i >> 6] >> (i & 63)) & 1u;
}

// y = x·keep·scale (=, may alias x), and its backward (same formula on gradients).
void dropout_apply(const float* x, const uint64_t* bits, float scale, int64_t n, float* y);

}  // namespace greensed::kernels
