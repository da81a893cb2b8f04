// NumPy .npy files (format version 1.0, little-endian float32, C order), for `greensed features
// --dump` and for comparing features with other tools. Written via a temporary name and rename.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace greensed::features {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> values;  // C order
};

// Throws core::InputError naming the path on failure.
void write_npy_f32(const std::string& path, std::span<const float> values,
                   const std::vector<int64_t>& shape);
// Reads a '<f4' C-order array; throws core::InputError naming the path and what is unsupported.
NpyArray read_npy_f32(const std::string& path);

}  // namespace greensed::features
