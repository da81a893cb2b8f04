#include "greensed/features/db_scaler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "greensed/core/error.hpp"

namespace greensed::features {

void amplitude_to_db(std::span<float> x) {
  for (float& v : x) {
    // 20·log10 in float32, as torch computes it; the clamp makes the low end exact.
    const float db = 20.0f * std::log10(std::max(v, kAmin));
    v = std::clamp(db, kDbMin, kDbMax);
  }
}

void amplitude_to_db_reference(std::span<float> x) {
  for (float& v : x) {
    double db = 20.0 * std::log10(std::max(double(v), double(kAmin)));
    if (db < kDbMin) db = kDbMin;
    if (db > kDbMax) db = kDbMax;
    v = float(db);
  }
}

NormType parse_normtype(const std::string& name) {
  if (name == "minmax") return NormType::kMinMax;
  if (name == "standard") return NormType::kStandard;
  if (name == "mean") return NormType::kMean;
  throw core::InputError(
      fmt::format("scaler.normtype: must be one of minmax, standard, mean; found '{}'", name));
}

namespace {

void check_shape(std::span<float> x, int64_t n_clips) {
  GREENSED_CHECK(n_clips > 0 && x.size() % size_t(n_clips) == 0,
                 "scale_instance: {} values do not split into {} clips", x.size(), n_clips);
}

}  // namespace

void scale_instance(std::span<float> x, int64_t n_clips, NormType type) {
  check_shape(x, n_clips);
  const size_t n = x.size() / size_t(n_clips);
  for (int64_t b = 0; b < n_clips; ++b) {
    float* v = x.data() + size_t(b) * n;
    if (type == NormType::kMinMax) {
      const auto [lo_it, hi_it] = std::minmax_element(v, v + n);
      const float lo = *lo_it;
      // torch: (x − amin) / (amax − amin + eps), all in float32
      const float denom = (*hi_it - lo) + float(kScalerEps);
      for (size_t i = 0; i < n; ++i) v[i] = (v[i] - lo) / denom;
      continue;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += v[i];
    const float mean = float(sum / double(n));
    if (type == NormType::kMean) {
      for (size_t i = 0; i < n; ++i) v[i] -= mean;
      continue;
    }
    double ss = 0.0;
    for (size_t i = 0; i < n; ++i) ss += (double(v[i]) - mean) * (double(v[i]) - mean);
    const float denom = float(std::sqrt(ss / double(n > 1 ? n - 1 : 1)) + kScalerEps);
    for (size_t i = 0; i < n; ++i) v[i] = (v[i] - mean) / denom;
  }
}

void scale_instance_reference(std::span<float> x, int64_t n_clips, NormType type) {
  check_shape(x, n_clips);
  const size_t n = x.size() / size_t(n_clips);
  for (int64_t b = 0; b < n_clips; ++b) {
    float* v = x.data() + size_t(b) * n;
    double lo = v[0], hi = v[0], sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      lo = std::min(lo, double(v[i]));
      hi = std::max(hi, double(v[i]));
      sum += v[i];
    }
    const double mean = sum / double(n);
    double ss = 0.0;
    for (size_t i = 0; i < n; ++i) ss += (v[i] - mean) * (v[i] - mean);
    const double std_unbiased = std::sqrt(ss / double(n > 1 ? n - 1 : 1));
    for (size_t i = 0; i < n; ++i) {
      switch (type) {
        case NormType::kMinMax:
          v[i] = float((v[i] - lo) / (hi - lo + kScalerEps));
          break;
        case NormType::kStandard:
          v[i] = float((v[i] - mean) / (std_unbiased + kScalerEps));
          break;
        case NormType::kMean:
          v[i] = float(v[i] - mean);
          break;
      }
    }
  }
}

void network_input(std::span<float> x, int64_t n_clips, NormType type) {
  amplitude_to_db(x);
  scale_instance(x, n_clips, type);
}

}  // namespace greensed::features
