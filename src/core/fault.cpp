#include "greensed/core/fault.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace greensed::core {
namespace {

struct KillAt {
  bool armed = false;
  std::string point;
  long nth = 0;
};

const KillAt& kill_at() {
  static const KillAt k = [] {
    KillAt out;
    const char* env = std::getenv("GREENSED_TEST_KILL_AT");
    if (env == nullptr) return out;
    const std::string text = env;
    const size_t at = text.rfind('@');
    if (at == std::string::npos || at == 0) return out;
    out.point = text.substr(0, at);
    out.nth = std::strtol(text.c_str() + at + 1, nullptr, 10);
    out.armed = out.nth > 0;
    return out;
  }();
  return k;
}

}  // namespace

void fault_point(std::string_view point, std::string_view detail) {
  const KillAt& k = kill_at();
  if (!k.armed) return;
  std::string name(point);
  if (!detail.empty()) name += " " + std::string(detail);
  if (name != k.point) return;
  static std::atomic<long> arrivals{0};
  if (++arrivals == k.nth) ::kill(::getpid(), SIGKILL);
}

}  // namespace greensed::core
