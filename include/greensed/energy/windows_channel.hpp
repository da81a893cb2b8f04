// Windows opened and closed by the metered command itself (`greensed energy -- CMD`, spec
// energy.md §7): the command (and its children) find a FIFO in GREENSED_WINDOWS and write one line
// per begin or end (python/greensed_windows.py does it for Python; a shell child can
// `echo "begin epoch 1" > "$GREENSED_WINDOWS"`); a reader thread turns each line into
// Meter::begin / Meter::end when it arrives. The windows are differences of the meter's
// accumulators like every other window, so the epochs and the time outside them add up to the run
// total exactly.
//
// Protocol, one line each, at most 4096 bytes (PIPE_BUF: a line from any process arrives whole):
//   begin <kind> [<index>]     e.g. "begin epoch 3", "begin validation 3" (kinds are free words;
//   end <kind> [<index>]       windows nest); "epoch" needs its index (the epoch number).
// `end` closes the innermost open window of that kind (and index when given). A malformed or
// impossible line (unknown verb, ending a window that is not open, beginning one twice) is
// reported and ignored; it never stops the meter or the command.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace greensed::energy {

class Meter;

struct WindowChannelStats {
  int lines = 0, opened = 0, closed = 0, rejected = 0;
  std::vector<std::string> rejections;  // "line N: reason (text)", the first 20
};

class WindowChannel {
 public:
  // A private folder under $TMPDIR (else /tmp) holding the FIFO and greensed_windows.py.
  // Throws core::InputError naming the folder when it cannot be made.
  WindowChannel();
  ~WindowChannel();
  WindowChannel(const WindowChannel&) = delete;
  WindowChannel& operator=(const WindowChannel&) = delete;

  const std::string& fifo_path() const { return fifo_path_; }
  const std::string& python_dir() const { return dir_; }

  // Starts the reader thread; the meter must be running and outlive finish().
  void start(Meter& meter);
  // After the command exited: reads the lines still in the FIFO, stops the thread. Idempotent.
  WindowChannelStats finish();

  // One protocol line (the reader thread's work; public for tests).
  void handle_line(Meter& meter, const std::string& line);
  WindowChannelStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string dir_, fifo_path_;
};

// python/greensed_windows.py as compiled into greensed (written next to the FIFO).
const std::string& builtin_windows_python();

}  // namespace greensed::energy
