// SIGINT/SIGTERM as a polled flag, so a long run (training) can stop at a safe point, stop the
// meter and write its rows instead of dying with none (spec energy.md §7.10 item 6). The handler
// only sets the flag (async-signal-safe); a second signal of the same kind restores the default
// action and re-raises it, so a stuck program can still be interrupted.
#pragma once

namespace greensed::energy {

class StopSignals {
 public:
  static void install();
  static bool requested();
  static int signal_number();  // 0 = none yet
};

}  // namespace greensed::energy
