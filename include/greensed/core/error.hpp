// Errors: InputError for bad user input (names the file, line or key, the rule, the value found and
// the fix), InternalError for broken invariants of our own code. Checks are always on.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace greensed::core {

// Bad input from the user (files, configs, command lines). main() maps it to exit code 2.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message) : std::runtime_error(message) {}
};

// A broken invariant of greensed itself. main() maps it to exit code 3.
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

[[noreturn]] void throw_check_failure(const char* file, int line, const char* condition,
                                      const std::string& message);

}  // namespace greensed::core

// Always-on invariant check, e.g.
//   GREENSED_CHECK(a.size() == b.size(), "a {} vs b {}", a.size(), b.size());
#define GREENSED_CHECK(condition, ...)                                      \
  do {                                                                      \
    if (!(condition)) [[unlikely]] {                                        \
      ::greensed::core::throw_check_failure(__FILE__, __LINE__, #condition, \
                                            ::fmt::format(__VA_ARGS__));    \
    }                                                                       \
  } while (0)
