#include "greensed/kernels/dropout.hpp"

#include <cmath>
#include <cstring>

namespace greensed::kernels {
namespace {
bool is_half(float p) {
  return p == 0.5f;
}
uint32_t threshold16(float p) {
  return uint32_t(std::lround(double(p) * 65536.0));
}
}  // namespace

int64_t dropout_blocks(int64_t n, float p) {
  return is_half(p) ? (n + 127) / 128 : (n + 7) / 8;
}

void dropout_keep_bits(const core::RngStream& rng, uint64_t counter, int64_t n, float p,
                       uint64_t* bits) {
  const int64_t n_words = dropout_words(n);
  if (is_half(p)) {
    const int64_t n_blocks = (n + 127) / 128;
    for (int64_t k = 0; k < n_blocks; ++k) {
      const auto r = rng.block_at(counter + k);
      bits[2 * k] = uint64_t(r[0]) | (uint64_t(r[1]) << 32);
      if (2 * k + 1 < n_words) bits[2 * k + 1] = uint64_t(r[2]) | (uint64_t(r[3]) << 32);
    }
  } else {
    const uint32_t thr = threshold16(p);
    std::memset(bits, 0, sizeof(uint64_t) * n_words);
    const int64_t n_blocks = (n + 7) / 8;
    for (int64_t k = 0; k < n_blocks; ++k) {
      const auto r = rng.block_at(counter + k);
      uint64_t byte = 0;
      for (int j = 0; j < 8; ++j) {
        const uint32_t h = (r[j / 2] >> (16 * (j % 2))) & 0xFFFFu;
        byte |= uint64_t(h >= thr) << j;
      }
      bits[k >> 3] |= byte << (8 * (k & 7));
    }
  }
  if (n % 64 != 0) bits[n_words - 1] &= (uint64_t{1} << (n % 64)) - 1;
}

void dropout_keep_bits_reference(const core::RngStream& rng, uint64_t counter, int64_t n, float p,
                                 uint64_t* bits) {
  std::memset(bits, 0, sizeof(uint64_t) * dropout_words(n));
  for (int64_t i = 0; i < n; ++i) {
    bool keep;
    if (is_half(p)) {
      const auto r = rng.block_at(counter + uint64_t(i / 128));
      keep = (r[(i % 128) / 32] >> (i % 32)) & 1u;
    } else {
      const auto r = rng.block_at(counter + uint64_t(i / 8));
      const int j = int(i % 8);
      keep = ((r[j / 2] >> (16 * (j % 2))) & 0xFFFFu) >= threshold16(p);
    }
    if (keep) bits[i / 64] |= uint64_t{1} << (i % 64);
  }
}

void dropout_apply(const float* x, const uint64_t* bits, float scale, int64_t n, float* y) {
  // Branch-free (random bits would mispredict): multiply by 0 or scale.
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * (scale * float(keep_bit(bits, i)));
}

}  // namespace greensed::kernels
