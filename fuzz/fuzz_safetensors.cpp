// The safetensors reader (model/safetensors.hpp): checkpoints and converted weights; a file that
// parses must serialize and parse again to the same tensors.
#include <cstdlib>

#include "fuzz_util.hpp"
#include "greensed/model/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greensed;
  fuzz::expect_input_error_only([&] {
    const model::Safetensors file =
        model::parse_safetensors(fuzz::as_text(data, size), "fuzz.safetensors");
    for (const auto& [name, tensor] : file.tensors) {
      if (tensor.dtype == model::DType::kF32) file.f32(name, tensor.shape);
    }
    fuzz::must_read_back("safetensors", [&] {
      const model::Safetensors again =
          model::parse_safetensors(model::serialize_safetensors(file), "again.safetensors");
      if (again.tensors.size() != file.tensors.size() || again.metadata != file.metadata)
        std::abort();
    });
  });
  return 0;
}
