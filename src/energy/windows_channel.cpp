// The command's own windows through a FIFO (windows_channel.hpp).
#include "greensed/energy/windows_channel.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
#include "greensed/core/text.hpp"
#include "greensed/energy/meter.hpp"

namespace greensed::energy {
namespace {

constexpr size_t kMaxLine = 4096;  // PIPE_BUF: one write from any process arrives whole
constexpr size_t kMaxKept = 20;    // rejections kept for the summary

std::string shorten(const std::string& s) {
  return s.size() <= 120 ? s : s.substr(0, 117) + "...";
}

}  // namespace

struct WindowChannel::Impl {
  int fifo_fd = -1;
  int wake[2] = {-1, -1};
  std::thread reader;
  Meter* meter = nullptr;
  std::string pending;  // bytes after the last newline
  mutable std::mutex mutex;
  WindowChannelStats stats;
  bool finished = false;

  void reject(const std::string& line, const std::string& why) {
    ++stats.rejected;
    const std::string text = fmt::format("line {}: {} ({})", stats.lines, why, shorten(line));
    if (stats.rejections.size() < kMaxKept) {
      stats.rejections.push_back(text);
      spdlog::warn("[energy] GREENSED_WINDOWS {}; ignored", text);
    }
  }

  // Reads what the FIFO holds now; false when nothing was there.
  bool read_available(WindowChannel& channel) {
    char buf[65536];
    const ssize_t n = ::read(fifo_fd, buf, sizeof buf);
    if (n <= 0) return false;
    pending.append(buf, size_t(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      channel.handle_line(*meter, pending.substr(start, nl - start));
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLine) {
      std::lock_guard lock(mutex);
      ++stats.lines;
      reject(pending, fmt::format("longer than {} bytes without a newline", kMaxLine));
      pending.clear();
    }
    return true;
  }
};

WindowChannel::WindowChannel() : impl_(std::make_unique<Impl>()) {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = fmt::format("{}/greensed-windows.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (::mkdtemp(templ.data()) == nullptr) {
    throw core::InputError(fmt::format(
        "{}: cannot make a folder for the GREENSED_WINDOWS channel ({}); set TMPDIR to a "
        "writable folder",
        templ, std::strerror(errno)));
  }
  dir_ = templ;
  fifo_path_ = dir_ + "/windows.fifo";
  if (::mkfifo(fifo_path_.c_str(), 0600) != 0) {
    const int err = errno;
    std::filesystem::remove_all(dir_);
    throw core::InputError(fmt::format("{}: cannot make the GREENSED_WINDOWS FIFO ({})", fifo_path_,
                                       std::strerror(err)));
  }
  // Read-write: opening never blocks and the reader never sees end-of-file between writers.
  impl_->fifo_fd = ::open(fifo_path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (impl_->fifo_fd < 0 || ::pipe2(impl_->wake, O_CLOEXEC) != 0) {
    const int err = errno;
    std::filesystem::remove_all(dir_);
    throw core::InputError(fmt::format("{}: cannot open ({})", fifo_path_, std::strerror(err)));
  }
  core::write_file_atomic(dir_ + "/greensed_windows.py", builtin_windows_python(),
                          core::Durability::kNoFsync);
}

WindowChannel::~WindowChannel() {
  finish();
  if (impl_->fifo_fd >= 0) ::close(impl_->fifo_fd);
  for (int fd : impl_->wake) {
    if (fd >= 0) ::close(fd);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void WindowChannel::start(Meter& meter) {
  impl_->meter = &meter;
  impl_->reader = std::thread([this] {
    pollfd fds[2] = {{impl_->fifo_fd, POLLIN, 0}, {impl_->wake[0], POLLIN, 0}};
    while (true) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        spdlog::warn("[energy] GREENSED_WINDOWS: poll failed ({}); later windows are not read",
                     std::strerror(errno));
        return;
      }
      if (fds[1].revents != 0) return;
      if (fds[0].revents & POLLIN) impl_->read_available(*this);
    }
  });
}

WindowChannelStats WindowChannel::finish() {
  if (impl_->finished) return stats();
  impl_->finished = true;
  if (impl_->reader.joinable()) {
    const char byte = 1;
    (void)!::write(impl_->wake[1], &byte, 1);
    impl_->reader.join();
  }
  if (impl_->meter != nullptr) {
    while (impl_->read_available(*this)) {
    }
    if (!impl_->pending.empty()) {
      std::lock_guard lock(impl_->mutex);
      ++impl_->stats.lines;
      impl_->reject(impl_->pending, "cut short: no newline before the command exited");
      impl_->pending.clear();
    }
  }
  return stats();
}

WindowChannelStats WindowChannel::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

void WindowChannel::handle_line(Meter& meter, const std::string& line) {
  std::lock_guard lock(impl_->mutex);
  ++impl_->stats.lines;
  const std::string_view text = core::trim(line);
  if (text.empty()) return;
  // "begin <kind> [<index>]" or "end <kind> [<index>]", separated by spaces or tabs.
  std::vector<std::string> words;
  for (size_t i = 0; i < text.size();) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t') ++j;
    if (j > i) words.emplace_back(text.substr(i, j - i));
    i = j;
  }
  if (words.size() < 2 || words.size() > 3 || (words[0] != "begin" && words[0] != "end")) {
    return impl_->reject(line, "expected 'begin <kind> [<index>]' or 'end <kind> [<index>]'");
  }
  int64_t index_value = -1;
  if (words.size() == 3) {
    size_t used = 0;
    try {
      index_value = std::stoll(words[2], &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != words[2].size() || index_value < 0) {
      return impl_->reject(line, "the index must be a whole number >= 0");
    }
  }
  const bool open = words[0] == "begin";
  const std::string& n = words[1];
  if (n == "run") return impl_->reject(line, "\"run\" is the meter's own window");
  const int k = int(std::min<int64_t>(index_value, 1 << 30));
  if (open) {
    if (n == "epoch" && k < 0) {
      return impl_->reject(line,
                           "an epoch window needs its index (the epoch number): 'begin epoch 1'");
    }
    if (k >= 0 && meter.find_open(n, k) >= 0) {
      return impl_->reject(line, fmt::format("window '{}' {} is already open", n, k));
    }
    meter.begin(n, n == "epoch" ? WindowKind::kEpoch : WindowKind::kCustom, k);
    ++impl_->stats.opened;
    return;
  }
  const int id = meter.find_open(n, k);
  if (id < 0) {
    return impl_->reject(line, k >= 0 ? fmt::format("no open window '{}' {}", n, k)
                                      : fmt::format("no open window '{}'", n));
  }
  meter.end(id);
  ++impl_->stats.closed;
}

}  // namespace greensed::energy
