// safetensors files (the format of Hugging Face's `safetensors` package): an 8-byte little-endian
// header length N, N bytes of JSON `{"__metadata__": {string: string}, "<name>": {"dtype": "F32",
// "shape": [..], "data_offsets": [begin, end]}, ...}` padded with spaces to a multiple of 8, then
// the raw little-endian tensor bytes (offsets relative to the end of the header).
//
// greensed stores checkpoints this way under the recipe's PyTorch state_dict names, so weights move
// between greensed and PyTorch both ways (scripts/convert_ckpt.py, scripts/check_ckpt_in_torch.py).
// Supported dtypes: F32 (every parameter and BN running statistic) and I64 (BN
// num_batches_tracked, optimiser step counters).
//
// The writer lays files out exactly as the `safetensors` package does (checked against 0.8.0 by
// scripts/safetensors_io.py): tensors sorted by dtype (I64 before F32) then by name, compact JSON
// with `__metadata__` first and each entry's keys in the order dtype, shape, data_offsets. A file
// greensed writes is byte-identical to the one `safetensors.torch.save_file` writes for the same
// tensors (with at most one metadata entry, whose order Python does not fix).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace greensed::model {

enum class DType { kF32, kI64 };

// "F32" / "I64", as in the header.
std::string_view dtype_name(DType dtype);

struct Tensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // [] = a scalar (one element)
  std::vector<float> f32;      // the values when dtype == kF32 (row-major, PyTorch layout)
  std::vector<int64_t> i64;    // the values when dtype == kI64

  int64_t numel() const;
  static Tensor from_f32(std::vector<int64_t> shape, std::vector<float> values);
  static Tensor from_i64(std::vector<int64_t> shape, std::vector<int64_t> values);
};

// "[16, 1, 3, 3]" for messages.
std::string shape_string(std::span<const int64_t> shape);

// The contents of one safetensors file. `origin` (the path it came from) names the file in every
// error the accessors throw.
struct Safetensors {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
  std::string origin;

  bool contains(const std::string& name) const { return tensors.count(name) != 0; }
  // Throws InputError "<origin>: no tensor '<name>' ..." when absent.
  const Tensor& at(const std::string& name) const;
  // The F32 values of `name`; throws InputError naming the file, the tensor, the expected and the
  // found dtype or shape when they differ.
  std::span<const float> f32(const std::string& name, std::span<const int64_t> shape) const;
  // The metadata value of `key`; throws InputError naming the file and the key when absent.
  const std::string& meta(const std::string& key) const;
};

// The file's bytes (header + data). Throws InputError if a tensor's value count does not match its
// shape or a name is empty.
std::string serialize_safetensors(const Safetensors& file);

// Writes atomically (core::write_file_atomic): a reader or a killed run never sees half a file.
void write_safetensors(const std::string& path, const Safetensors& file);

// Parses the bytes of a safetensors file. Every malformed case (short file, header length past the
// end, invalid JSON, unknown dtype, bad shape, offsets that do not match the shape or leave gaps or
// overlaps, duplicate names, non-string metadata) throws InputError naming `origin` and the fault.
Safetensors parse_safetensors(std::string_view bytes, const std::string& origin);

// Reads and parses `path`; errors name the path.
Safetensors read_safetensors(const std::string& path);

}  // namespace greensed::model
