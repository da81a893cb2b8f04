#include "greensed/core/error.hpp"

namespace greensed::core {

void throw_check_failure(const char* file, int line, const char* condition,
                         const std::string& message) {
  throw InternalError(fmt::format("{}:{}: check '{}' failed: {}", file, line, condition, message));
}

}  // namespace greensed::core
