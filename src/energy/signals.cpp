#include "greensed/energy/signals.hpp"

#include <signal.h>

namespace greensed::energy {
namespace {

volatile sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  if (g_signal == sig) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_signal = sig;
}

}  // namespace

void StopSignals::install() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

bool StopSignals::requested() {
  return g_signal != 0;
}

int StopSignals::signal_number() {
  return g_signal;
}

}  // namespace greensed::energy
