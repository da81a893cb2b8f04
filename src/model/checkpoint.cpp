#include "greensed/model/checkpoint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "greensed/core/error.hpp"

namespace greensed::model {

void add_model_tensors(Safetensors& file, const std::string& prefix, Crnn& model) {
  for (const NamedTensor& t : model.named_tensors()) {
    const int64_t n = t.numel();
    if (t.data_i64 != nullptr) {
      file.tensors[prefix + t.name] =
          Tensor::from_i64(t.shape, std::vector<int64_t>(t.data_i64, t.data_i64 + n));
    } else {
      file.tensors[prefix + t.name] =
          Tensor::from_f32(t.shape, std::vector<float>(t.data, t.data + n));
    }
  }
}

void load_model_tensors(const Safetensors& file, const std::string& prefix, Crnn& model) {
  const std::vector<NamedTensor> tensors = model.named_tensors();
  // Validate everything first, so that a bad file leaves the model as it was.
  std::set<std::string> expected;
  for (const NamedTensor& t : tensors) {
    const std::string key = prefix + t.name;
    expected.insert(key);
    const Tensor& stored = file.at(key);
    const DType want = t.data_i64 != nullptr ? DType::kI64 : DType::kF32;
    if (stored.dtype != want) {
      throw core::InputError(fmt::format("{}: tensor '{}' has dtype {}; expected {}", file.origin,
                                         key, dtype_name(stored.dtype), dtype_name(want)));
    }
    if (stored.shape != t.shape) {
      throw core::InputError(fmt::format(
          "{}: tensor '{}' has shape {}; the model expects {} (a checkpoint of a model with "
          "another net config?)",
          file.origin, key, shape_string(stored.shape), shape_string(t.shape)));
    }
  }
  for (const auto& [key, _] : file.tensors) {
    if (key.rfind(prefix, 0) == 0 && !expected.count(key)) {
      throw core::InputError(fmt::format(
          "{}: unexpected tensor '{}': the CRNN of this net config has no such tensor (a "
          "checkpoint of another model?)",
          file.origin, key));
    }
  }
  for (const NamedTensor& t : tensors) {
    const Tensor& stored = file.tensors.at(prefix + t.name);
    if (t.data_i64 != nullptr) {
      std::copy(stored.i64.begin(), stored.i64.end(), t.data_i64);
    } else {
      std::copy(stored.f32.begin(), stored.f32.end(), t.data);
    }
  }
}

void save_models(const std::string& path, Crnn& student, Crnn& teacher,
                 const std::map<std::string, std::string>& metadata) {
  Safetensors file;
  file.origin = path;
  file.metadata = metadata;
  file.metadata["format"] = "pt";
  add_model_tensors(file, kStudentPrefix, student);
  add_model_tensors(file, kTeacherPrefix, teacher);
  write_safetensors(path, file);
}

Safetensors load_models(const std::string& path, Crnn* student, Crnn* teacher) {
  Safetensors file = read_safetensors(path);
  if (student != nullptr) load_model_tensors(file, kStudentPrefix, *student);
  if (teacher != nullptr) load_model_tensors(file, kTeacherPrefix, *teacher);
  return file;
}

}  // namespace greensed::model
