// The formulas of scripts/crnn_formulas.md in C++: the splitmix64 hash, formula features, and the
// weight table that every golden file carries in its metadata. Shared by the golden tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "greensed/model/crnn.hpp"
#include "greensed/model/safetensors.hpp"

namespace greensed::golden {

inline double hash_u(uint64_t stream, uint64_t i) {
  uint64_t z = (stream << 32) + i;
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

inline double hash_sym(uint64_t stream, uint64_t i) {
  return 2.0 * hash_u(stream, i) - 1.0;
}

// features(s) of crnn_formulas.md: x[b, f, t] over [B, F, T].
inline std::vector<float> features(uint64_t stream, int batch, int n_mels, int n_frames) {
  const int nf = (n_mels + 15) / 16, nt = (n_frames + 31) / 32;
  std::vector<float> x(static_cast<size_t>(batch) * n_mels * n_frames);
  size_t i = 0;
  for (int b = 0; b < batch; ++b) {
    for (int f = 0; f < n_mels; ++f) {
      for (int t = 0; t < n_frames; ++t, ++i) {
        const uint64_t block = (uint64_t(b) * nf + f / 16) * nt + t / 32;
        const double fine = 0.3 * hash_u(stream, i);
        const double coarse = 0.7 * hash_u(stream + 500, block);
        x[i] = static_cast<float>(fine + coarse);
      }
    }
  }
  return x;
}

// values[i] = float32(scale · sym(stream, i)) for a tensor of n elements.
inline std::vector<float> sym_tensor(uint64_t stream, int64_t n, double scale) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(scale * hash_sym(stream, i));
  return v;
}

// Fills every tensor of `model` from the file's "weights" table, and checks on the way that the
// model's named_tensors() are exactly the table's names, shapes and order (the recipe's
// state_dict).
inline void fill_weights(const model::Safetensors& file, model::Crnn& model) {
  const auto table = nlohmann::json::parse(file.meta("weights"));
  const auto tensors = model.named_tensors();
  ASSERT_EQ(tensors.size(), table.size()) << "number of state_dict entries";
  for (size_t j = 0; j < tensors.size(); ++j) {
    const auto& row = table[j];
    const auto& t = tensors[j];
    ASSERT_EQ(t.name, row["name"].get<std::string>()) << "state_dict entry " << j;
    ASSERT_EQ(t.shape, row["shape"].get<std::vector<int64_t>>()) << t.name;
    if (row["dtype"] == "I64") {
      ASSERT_NE(t.data_i64, nullptr) << t.name;
      for (int64_t i = 0; i < t.numel(); ++i) t.data_i64[i] = 0;
      continue;
    }
    ASSERT_NE(t.data, nullptr) << t.name;
    const double offset = row["offset"], scale = row["scale"];
    const uint64_t stream = row["stream"];
    for (int64_t i = 0; i < t.numel(); ++i) {
      t.data[i] = static_cast<float>(offset + scale * hash_sym(stream, i));
    }
  }
}

// ‖a − b‖ / ‖b‖ in double.
inline double rel_l2(const float* a, const float* b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

inline double max_abs_diff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

// The storage rule of make_crnn_goldens.py: whole up to 4096 elements, else floor(k·n/1536).
inline constexpr int64_t kFullMax = 4096;
inline constexpr int64_t kSample = 1536;

inline std::vector<float> sample_of(const float* data, int64_t n) {
  std::vector<float> s(kSample);
  for (int64_t k = 0; k < kSample; ++k) s[k] = data[k * n / kSample];
  return s;
}

inline double l2_norm(const float* data, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(data[i]) * data[i];
  return std::sqrt(s);
}

}  // namespace greensed::golden
