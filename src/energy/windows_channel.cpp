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
#include <nlohmann/json.hpp>
#include <thread>

#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"
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
  if (line.empty()) return;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception&) {
    return impl_->reject(line, "not a JSON object");
  }
  if (!j.is_object()) return impl_->reject(line, "not a JSON object");
  const auto op = j.find("op");
  const auto name = j.find("name");
  const auto index = j.find("index");
  if (op == j.end() || !op->is_string() || (*op != "open" && *op != "close")) {
    return impl_->reject(line, "\"op\" must be \"open\" or \"close\"");
  }
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty()) {
    return impl_->reject(line, "\"name\" must be a non-empty string");
  }
  if (index != j.end() && !index->is_number_integer()) {
    return impl_->reject(line, "\"index\" must be an integer");
  }
  const std::string n = name->get<std::string>();
  if (n == "run") return impl_->reject(line, "\"run\" is the meter's own window");
  const int k =
      index == j.end() ? -1 : int(std::clamp<int64_t>(index->get<int64_t>(), -1, 1 << 30));
  if (*op == "open") {
    if (n == "epoch" && k < 0) {
      return impl_->reject(line, "an epoch window needs its \"index\" (the epoch number, >= 0)");
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
