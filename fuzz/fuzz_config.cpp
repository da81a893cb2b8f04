// The YAML config layer (core/config.hpp): yaml-cpp's parse, the duplicate-key rule, the
// `--set section.key=value` overrides, every section and key conversion and rule, the
// cross-field checks; a config that loads must round-trip through config_to_yaml.
// Input: the YAML text, then optionally a NUL byte and one override per line.
#include <cstdio>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "greensed/core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greensed;
  const std::string_view all = fuzz::as_text(data, size);
  const size_t nul = all.find('\0');
  const std::string text(all.substr(0, nul));
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = all.substr(nul + 1);
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      overrides.emplace_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    }
  }
  fuzz::expect_input_error_only([&] {
    const auto loaded = core::parse_config(text, "fuzz.yaml", overrides);
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
