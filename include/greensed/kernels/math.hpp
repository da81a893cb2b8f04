// Scalar math that the compiler can vectorise: exp without libm calls (Cephes-style range reduction
// and a degree-6 polynomial, relative error below 2e-7 on [-87, 88]), and the activations built on
// it. Used inside the fused elementwise loops of the GLU, GRU and heads.
#pragma once

#include <cstdint>
#include <cstring>

namespace greensed::kernels {

inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // Round to nearest (even) by the 1.5·2^23 trick: plain float adds, so the loop vectorises.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  // r = x - n·ln2 with ln2 split in two for accuracy.
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t e = int32_t(n) + 127;
  const uint32_t bits = uint32_t(e) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// Σ x[i] and Σ x[i]·y[i] with 16 independent float lanes (vectorises without -ffast-math; the
// lanes are summed in double at the end). Deterministic for a given n.
inline double sum_lanes(const float* x, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += x[i + j];
  double s = 0.0;
  for (int j = 0; j < 16; ++j) s += acc[j];
  for (; i < n; ++i) s += x[i];
  return s;
}
inline double dot_lanes(const float* x, const float* y, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += x[i + j] * y[i + j];
  double s = 0.0;
  for (int j = 0; j < 16; ++j) s += acc[j];
  for (; i < n; ++i) s += double(x[i]) * y[i];
  return s;
}

inline float sigmoid_approx(float x) {
  return 1.0f / (1.0f + exp_approx(-x));
}

inline float tanh_approx(float x) {
  // tanh(x) = 1 - 2/(exp(2x)+1); accurate to a few ulp away from 0, and exact sign handling.
  const float e = exp_approx(2.0f * x);
  return 1.0f - 2.0f / (e + 1.0f);
}

}  // namespace greensed::kernels
