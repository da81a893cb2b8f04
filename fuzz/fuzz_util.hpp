// Shared by the libFuzzer targets: a parser of user files must either return or throw
// core::InputError (exit 2 with a message). Any other exception escapes the target, and libFuzzer
// reports it as a crash, as it does for sanitizer findings (ASan, UBSan).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "greensed/core/error.hpp"

namespace greensed::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse` and swallows only core::InputError.
template <class F>
void expect_input_error_only(F&& parse) {
  try {
    parse();
  } catch (const core::InputError&) {
  }
}

// Runs `parse` on what greensed itself wrote: even an InputError is a bug there (what greensed
// writes it must read back), so it aborts, which libFuzzer reports as a crash.
template <class F>
void must_read_back(const char* what, F&& parse) {
  try {
    parse();
  } catch (const core::InputError& e) {
    std::fprintf(stderr, "greensed cannot read back its own %s: %s\n", what, e.what());
    std::abort();
  }
}

}  // namespace greensed::fuzz
