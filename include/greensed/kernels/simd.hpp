// Explicit vector paths for the fused elementwise kernels, chosen at compile time from the target
// the build selects (CMakeLists: -march=native by default, x86-64-v2 with GREENSED_PORTABLE):
// AVX-512F (16 lanes, mask registers), AVX2 + FMA (8 lanes), or none (GREENSED_SIMD_WIDTH 0: the
// callers keep their scalar loops). The exp/sigmoid here evaluate the same Cephes polynomial as
// math.hpp's exp_approx, lane by lane, so every path computes the same function (up to FMA
// contraction, which GCC applies to the scalar loops as well).
#pragma once

#include <cstdint>

#if defined(__AVX512F__)
// GCC 12 reports its own _mm512_undefined_ps() inside the masked intrinsics as "maybe
// uninitialized" (GCC bug 105593); the diagnostic is attributed to the header, so it is silenced
// for the header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#define GREENSED_SIMD_WIDTH 16
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define GREENSED_SIMD_WIDTH 8
#else
#define GREENSED_SIMD_WIDTH 0
#endif

namespace greensed::kernels::simd {

// The next 64 keep bits from element e on (bit j = element e + j); reads the following word only
// when more than the rest of e's word is needed (need = how many bits the caller uses).
inline uint64_t keep_window(const uint64_t* bits, int64_t e, int need) {
  const int64_t w = e >> 6;
  const int sh = int(e & 63);
  uint64_t v = bits[w] >> sh;
  if (sh != 0 && sh + need > 64) v |= bits[w + 1] << (64 - sh);
  return v;
}

#if GREENSED_SIMD_WIDTH == 16
constexpr int kWidth = 16;
using Vec = __m512;
using Mask = __mmask16;

inline Vec set1(float v) {
  return _mm512_set1_ps(v);
}
inline Mask first(int n) {  // the first n lanes (n in [0, 16])
  return Mask(n >= 16 ? 0xFFFFu : ((1u << n) - 1u));
}
inline Vec load(const float* p, int n) {
  return n >= 16 ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(first(n), p);
}
inline void store(float* p, Vec v, int n) {
  if (n >= 16)
    _mm512_storeu_ps(p, v);
  else
    _mm512_mask_storeu_ps(p, first(n), v);
}
inline Vec add(Vec a, Vec b) {
  return _mm512_add_ps(a, b);
}
inline Vec sub(Vec a, Vec b) {
  return _mm512_sub_ps(a, b);
}
inline Vec mul(Vec a, Vec b) {
  return _mm512_mul_ps(a, b);
}
inline Vec fmadd(Vec a, Vec b, Vec c) {
  return _mm512_fmadd_ps(a, b, c);
}
inline Vec div(Vec a, Vec b) {
  return _mm512_div_ps(a, b);
}
inline Vec clamp(Vec x, float lo, float hi) {
  return _mm512_min_ps(_mm512_max_ps(x, set1(lo)), set1(hi));
}
inline Vec pow2i(Vec n) {  // 2^n for integer-valued n in [-126, 127]
  const __m512i e = _mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127));
  return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
// a ⊙ scale where the keep bit is set, 0 where it is clear (bits: lane j ← bit j).
inline Vec keep_scaled(Vec a, uint64_t bits, float scale) {
  return _mm512_maskz_mul_ps(Mask(bits & 0xFFFFu), a, set1(scale));
}
// Pairwise sums of 2·16 consecutive values: out[j] = v[2j] + v[2j+1], v = lo ‖ hi.
inline Vec pair_sums(Vec lo, Vec hi) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return add(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi));
}
// out[j] = p[j / 2] for j < n (n lanes wanted, so ceil(n/2) values read).
inline Vec each_twice(const float* p, int n) {
  const __m512i idx = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const int m = (n + 1) / 2;
  const __m512 v = _mm512_maskz_loadu_ps(first(m < 8 ? m : 8), p);
  return _mm512_permutexvar_ps(idx, v);
}
#elif GREENSED_SIMD_WIDTH == 8
constexpr int kWidth = 8;
using Vec = __m256;

inline Vec set1(float v) {
  return _mm256_set1_ps(v);
}
inline __m256i first(int n) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
}
inline Vec load(const float* p, int n) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first(n));
}
inline void store(float* p, Vec v, int n) {
  if (n >= 8)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, first(n), v);
}
inline Vec add(Vec a, Vec b) {
  return _mm256_add_ps(a, b);
}
inline Vec sub(Vec a, Vec b) {
  return _mm256_sub_ps(a, b);
}
inline Vec mul(Vec a, Vec b) {
  return _mm256_mul_ps(a, b);
}
inline Vec fmadd(Vec a, Vec b, Vec c) {
  return _mm256_fmadd_ps(a, b, c);
}
inline Vec div(Vec a, Vec b) {
  return _mm256_div_ps(a, b);
}
inline Vec clamp(Vec x, float lo, float hi) {
  return _mm256_min_ps(_mm256_max_ps(x, set1(lo)), set1(hi));
}
inline Vec pow2i(Vec n) {
  const __m256i e = _mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127));
  return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
inline Vec keep_scaled(Vec a, uint64_t bits, float scale) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i on =
      _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits & 0xFFu)), bit), bit);
  return _mm256_and_ps(_mm256_castsi256_ps(on), mul(a, set1(scale)));
}
inline Vec pair_sums(Vec lo, Vec hi) {
  // [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6] + [odd ones], then the 64-bit quarters into order.
  const Vec s = add(_mm256_shuffle_ps(lo, hi, 0x88), _mm256_shuffle_ps(lo, hi, 0xDD));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
}
inline Vec each_twice(const float* p, int n) {
  const int m = (n + 1) / 2;
  const __m256 v = _mm256_maskload_ps(p, first(m < 4 ? m : 4));
  return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3));
}
#endif

#if GREENSED_SIMD_WIDTH > 0
// math.hpp's exp_approx, lane by lane.
inline Vec exp(Vec x) {
  x = clamp(x, -87.0f, 88.0f);
  const Vec magic = set1(12582912.0f);
  const Vec n = sub(fmadd(x, set1(1.44269504088896341f), magic), magic);
  Vec r = fmadd(n, set1(-0.693359375f), x);
  r = fmadd(n, set1(2.12194440e-4f), r);
  Vec p = set1(1.9875691500e-4f);
  p = fmadd(p, r, set1(1.3981999507e-3f));
  p = fmadd(p, r, set1(8.3334519073e-3f));
  p = fmadd(p, r, set1(4.1665795894e-2f));
  p = fmadd(p, r, set1(1.6666665459e-1f));
  p = fmadd(p, r, set1(5.0000001201e-1f));
  p = add(fmadd(mul(p, r), r, r), set1(1.0f));
  return mul(p, pow2i(n));
}
inline Vec sigmoid(Vec x) {
  const Vec one = set1(1.0f);
  return div(one, add(one, exp(sub(set1(0.0f), x))));
}
#endif

}  // namespace greensed::kernels::simd
