// The YAML config layer (core/config.hpp): yaml-cpp's parse, the duplicate-key rule, every section
// and key conversion and rule, the cross-field checks; a config that loads must round-trip through
// config_to_yaml.
#include "fuzz_util.hpp"
#include "greensed/core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greensed;
  const std::string text(fuzz::as_text(data, size));
  fuzz::expect_input_error_only([&] {
    const auto loaded = core::parse_config(text, "fuzz.yaml");
    // The resolved config.yaml a run writes must load again, to the same YAML.
    const std::string yaml = core::config_to_yaml(loaded.config);
    fuzz::must_read_back("resolved config", [&] {
      const auto again = core::parse_config(yaml, "resolved.yaml");
      if (core::config_to_yaml(again.config) != yaml) {
        std::fprintf(stderr, "resolved config changed on reload:\n%s\n---\n%s\n", yaml.c_str(),
                     core::config_to_yaml(again.config).c_str());
        std::abort();
      }
    });
  });
  return 0;
}
