// Windows opened and closed by the metered command itself (`greensed energy -- CMD`, spec
// energy.md §7): the command finds a FIFO in its GREENSED_WINDOWS environment variable and writes
// one JSON line per open or close (python/greensed_windows.py does it for Python scripts); a
// reader thread turns each line into Meter::begin / Meter::end at the moment it arrives. The
// windows are differences of the meter's accumulators like every other window, so the epochs and
// the time outside them add up to the run total exactly.
//
// Protocol, one line each, at most 4096 bytes (PIPE_BUF: a line from any process arrives whole):
//   {"op": "open",  "name": "epoch", "index": 1}     an epoch window needs its index
//   {"op": "close", "name": "epoch", "index": 1}     closes the innermost open one with that name
// Any other name is a window of its own kind (index optional). A malformed or impossible line
// (not JSON, unknown op, closing a window that is not open, opening one twice) is reported and
// ignored; it never stops the meter or the command.
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
