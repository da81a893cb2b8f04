#include "greensed/model/safetensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"

namespace greensed::model {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; greensed copies it as-is");

namespace {

// The safetensors package refuses larger headers; so do we (a corrupt length would otherwise make
// us allocate gigabytes).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

size_t dtype_bytes(DType dtype) {
  return dtype == DType::kF32 ? 4 : 8;
}

// The order of the safetensors package's Dtype enum, which its writer sorts by (descending).
int dtype_rank(DType dtype) {
  return dtype == DType::kF32 ? 11 : 13;
}

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw core::InputError(fmt::format("{}: {}", origin, what));
}

int64_t checked_numel(std::span<const int64_t> shape, const std::string& origin,
                      const std::string& name) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / 8 / d)) {
      fail(origin, fmt::format("tensor '{}' has an invalid shape {}", name, shape_string(shape)));
    }
    n *= d;
  }
  return n;
}

}  // namespace

std::string_view dtype_name(DType dtype) {
  return dtype == DType::kF32 ? "F32" : "I64";
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Tensor Tensor::from_f32(std::vector<int64_t> shape, std::vector<float> values) {
  Tensor t;
  t.dtype = DType::kF32;
  t.shape = std::move(shape);
  t.f32 = std::move(values);
  GREENSED_CHECK(t.numel() == static_cast<int64_t>(t.f32.size()), "shape {} vs {} values",
                 shape_string(t.shape), t.f32.size());
  return t;
}

Tensor Tensor::from_i64(std::vector<int64_t> shape, std::vector<int64_t> values) {
  Tensor t;
  t.dtype = DType::kI64;
  t.shape = std::move(shape);
  t.i64 = std::move(values);
  GREENSED_CHECK(t.numel() == static_cast<int64_t>(t.i64.size()), "shape {} vs {} values",
                 shape_string(t.shape), t.i64.size());
  return t;
}

std::string shape_string(std::span<const int64_t> shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

const Tensor& Safetensors::at(const std::string& name) const {
  const auto it = tensors.find(name);
  if (it == tensors.end()) {
    fail(origin, fmt::format("no tensor '{}' (the file has {} tensors{}); is it a greensed "
                             "checkpoint of the same model?",
                             name, tensors.size(),
                             tensors.empty() ? "" : ", first '" + tensors.begin()->first + "'"));
  }
  return it->second;
}

std::span<const float> Safetensors::f32(const std::string& name,
                                        std::span<const int64_t> shape) const {
  const Tensor& t = at(name);
  if (t.dtype != DType::kF32) {
    fail(origin, fmt::format("tensor '{}' has dtype {}; expected F32", name, dtype_name(t.dtype)));
  }
  if (!std::equal(t.shape.begin(), t.shape.end(), shape.begin(), shape.end())) {
    fail(origin, fmt::format("tensor '{}' has shape {}; the model expects {} (a checkpoint of a "
                             "model with another net config?)",
                             name, shape_string(t.shape), shape_string(shape)));
  }
  return t.f32;
}

const std::string& Safetensors::meta(const std::string& key) const {
  const auto it = metadata.find(key);
  if (it == metadata.end()) fail(origin, fmt::format("no metadata entry '{}'", key));
  return it->second;
}

std::string serialize_safetensors(const Safetensors& file) {
  const std::string& origin = file.origin.empty() ? std::string("safetensors") : file.origin;
  std::vector<const std::pair<const std::string, Tensor>*> order;
  for (const auto& entry : file.tensors) {
    const auto& [name, t] = entry;
    if (name.empty() || name == "__metadata__") {
      fail(origin, fmt::format("invalid tensor name '{}'", name));
    }
    const size_t n_values = t.dtype == DType::kF32 ? t.f32.size() : t.i64.size();
    if (checked_numel(t.shape, origin, name) != static_cast<int64_t>(n_values)) {
      fail(origin, fmt::format("tensor '{}' has shape {} but {} values", name,
                               shape_string(t.shape), n_values));
    }
    order.push_back(&entry);
  }
  // std::map already orders by name; a stable sort by dtype keeps that order within a dtype.
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return dtype_rank(a->second.dtype) > dtype_rank(b->second.dtype);
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  for (const auto* entry : order) {
    const Tensor& t = entry->second;
    const uint64_t n_bytes = static_cast<uint64_t>(t.numel()) * dtype_bytes(t.dtype);
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = dtype_name(t.dtype);
    info["shape"] = t.shape;
    info["data_offsets"] = {offset, offset + n_bytes};
    header[entry->first] = std::move(info);
    offset += n_bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');

  std::string bytes;
  bytes.reserve(8 + json.size() + offset);
  const uint64_t header_len = json.size();
  bytes.append(reinterpret_cast<const char*>(&header_len), 8);
  bytes += json;
  for (const auto* entry : order) {
    const Tensor& t = entry->second;
    if (t.dtype == DType::kF32) {
      bytes.append(reinterpret_cast<const char*>(t.f32.data()), t.f32.size() * 4);
    } else {
      bytes.append(reinterpret_cast<const char*>(t.i64.data()), t.i64.size() * 8);
    }
  }
  return bytes;
}

void write_safetensors(const std::string& path, const Safetensors& file) {
  Safetensors named = file;  // errors name the destination
  named.origin = path;
  core::write_file_atomic(path, serialize_safetensors(named));
}

Safetensors parse_safetensors(std::string_view bytes, const std::string& origin) {
  if (bytes.size() < 8) {
    fail(origin, fmt::format("file is {} bytes, shorter than the 8-byte safetensors header "
                             "length; it is not a safetensors file or was cut short",
                             bytes.size()));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8) {
    fail(origin, fmt::format("header length {} exceeds the {} bytes that follow it; the file is "
                             "not a safetensors file or was cut short",
                             header_len, bytes.size() - 8));
  }
  const std::string_view text = bytes.substr(8, header_len);
  if (text.empty() || text.front() != '{') {
    fail(origin, "header does not start with '{'; not a safetensors file");
  }

  // Duplicate names would silently shadow each other in a JSON object; refuse them.
  std::set<std::string> seen;
  std::string duplicate;
  const auto reject_duplicates = [&](int depth, nlohmann::json::parse_event_t event,
                                     nlohmann::json& parsed) {
    if (depth == 1 && event == nlohmann::json::parse_event_t::key && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, reject_duplicates);
  } catch (const nlohmann::json::parse_error& e) {
    fail(origin, fmt::format("header is not valid JSON ({})", e.what()));
  }
  if (!duplicate.empty()) fail(origin, fmt::format("header names '{}' twice", duplicate));
  if (!header.is_object()) fail(origin, "header is not a JSON object");

  const std::string_view data = bytes.substr(8 + header_len);
  Safetensors file;
  file.origin = origin;
  struct Span {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Span> spans;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) fail(origin, "__metadata__ is not a JSON object of strings");
      for (const auto& [key, value] : info.items()) {
        if (!value.is_string()) {
          fail(origin, fmt::format("__metadata__ entry '{}' is {}; safetensors metadata values "
                                   "must be strings",
                                   key, value.dump()));
        }
        file.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string what = fmt::format("tensor '{}'", name);
    if (!info.is_object()) fail(origin, fmt::format("{}: entry is not a JSON object", what));
    for (const char* key : {"dtype", "shape", "data_offsets"}) {
      if (!info.contains(key)) fail(origin, fmt::format("{}: missing \"{}\"", what, key));
    }
    Tensor t;
    const auto& dtype = info["dtype"];
    if (dtype == "F32") {
      t.dtype = DType::kF32;
    } else if (dtype == "I64") {
      t.dtype = DType::kI64;
    } else {
      fail(origin, fmt::format("{}: dtype {} is not supported (greensed reads F32 and I64; "
                               "convert the tensor with torch first)",
                               what, dtype.dump()));
    }
    const auto& shape = info["shape"];
    if (!shape.is_array()) fail(origin, fmt::format("{}: shape is not an array", what));
    for (const auto& d : shape) {
      if (!d.is_number_unsigned()) {
        fail(origin, fmt::format("{}: shape {} has a non-integer or negative dimension", what,
                                 shape.dump()));
      }
      t.shape.push_back(d.get<int64_t>());
    }
    const int64_t numel = checked_numel(t.shape, origin, name);
    const auto& offsets = info["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned()) {
      fail(origin, fmt::format("{}: data_offsets {} is not a pair of non-negative integers", what,
                               offsets.dump()));
    }
    const uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    const uint64_t need = static_cast<uint64_t>(numel) * dtype_bytes(t.dtype);
    if (end < begin || end - begin != need) {
      fail(origin, fmt::format("{}: data_offsets [{}, {}] do not hold shape {} of {} ({} bytes)",
                               what, begin, end, shape_string(t.shape), dtype_name(t.dtype), need));
    }
    if (end > data.size()) {
      fail(origin, fmt::format("{}: data_offsets [{}, {}] run past the {} data bytes; the file "
                               "was cut short",
                               what, begin, end, data.size()));
    }
    if (t.dtype == DType::kF32) {
      t.f32.resize(numel);
      std::memcpy(t.f32.data(), data.data() + begin, need);
    } else {
      t.i64.resize(numel);
      std::memcpy(t.i64.data(), data.data() + begin, need);
    }
    spans.push_back({begin, end, name});
    file.tensors.emplace(name, std::move(t));
  }

  // Like the safetensors package: tensors tile the data exactly, no gap, no overlap, no tail.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  for (const Span& s : spans) {
    if (s.begin != expected) {
      fail(origin, fmt::format("tensor '{}' starts at data byte {}, expected {} ({}); the "
                               "offsets are corrupt",
                               s.name, s.begin, expected,
                               s.begin < expected ? "overlaps the previous tensor" : "gap"));
    }
    expected = s.end;
  }
  if (expected != data.size()) {
    fail(origin, fmt::format("the tensors cover {} data bytes but the file holds {}; the file is "
                             "corrupt",
                             expected, data.size()));
  }
  return file;
}

Safetensors read_safetensors(const std::string& path) {
  return parse_safetensors(core::read_file(path), path);
}

}  // namespace greensed::model
