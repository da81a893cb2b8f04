// The feature cache's index.json (features/cache.hpp): a corrupt or hand-edited index must be an
// InputError (the cache then recomputes every clip), never a crash or an entry pointing outside the
// cache.
#include <cstdlib>

#include "fuzz_util.hpp"
#include "greensed/features/cache.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greensed;
  fuzz::expect_input_error_only([&] {
    const auto entries = features::parse_cache_index(fuzz::as_text(data, size), "index.json");
    for (const auto& [key, e] : entries) {
      if (e.file.find("..") != std::string::npos || e.n_mels <= 0 || e.n_frames <= 0) std::abort();
    }
  });
  return 0;
}
