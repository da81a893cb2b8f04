#include "greensed/features/npy.hpp"

#include <fmt/format.h>

#include <cstring>
#include <regex>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"

namespace greensed::features {

void write_npy_f32(const std::string& path, std::span<const float> values,
                   const std::vector<int64_t>& shape) {
  int64_t n = 1;
  std::string dims;
  for (const int64_t d : shape) {
    n *= d;
    dims += fmt::format("{}, ", d);
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // "(3,)" keeps its comma, "(3, 4)" does not
  GREENSED_CHECK(size_t(n) == values.size(), "npy {}: {} values for shape ({})", path,
                 values.size(), dims);
  std::string header =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes, '\n' last
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes.push_back(char(header.size() & 0xff));
  bytes.push_back(char(header.size() >> 8));
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size_bytes());
  // Bulk output that can be recomputed: atomic (never half a file after a kill), no fsync.
  core::write_file_atomic(path, bytes, core::Durability::kNoFsync);
}

NpyArray read_npy_f32(const std::string& path) {
  const std::string bytes = core::read_file(path);
  auto fail = [&](const std::string& why) {
    return core::InputError(fmt::format("{}: not a readable .npy file: {}", path, why));
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw fail("bad magic");
  const int major = bytes[6];
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw fail("truncated header");
    for (int i = 0; i < 4; ++i) header_len |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    throw fail(fmt::format("format version {} is not supported", major));
  }
  if (bytes.size() < offset + header_len) throw fail("truncated header");
  const std::string header = bytes.substr(offset, header_len);
  if (header.find("'<f4'") == std::string::npos) throw fail("dtype is not little-endian float32");
  if (header.find("'fortran_order': False") == std::string::npos) throw fail("Fortran order");
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'shape': \\(([0-9, ]*)\\)"))) {
    throw fail("no shape");
  }
  NpyArray a;
  const std::string dims = m[1];
  int64_t n = 1;
  const std::regex number("[0-9]+");
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    a.shape.push_back(std::stoll(it->str()));
    n *= a.shape.back();
  }
  const size_t data_offset = offset + header_len;
  if (bytes.size() - data_offset != size_t(n) * 4) {
    throw fail(fmt::format("{} data bytes for {} values", bytes.size() - data_offset, n));
  }
  a.values.resize(n);
  std::memcpy(a.values.data(), bytes.data() + data_offset, size_t(n) * 4);
  return a;
}

}  // namespace greensed::features
