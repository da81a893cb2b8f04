#include "write_replace.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "greensed/core/error.hpp"

namespace greensed::features {

void write_file_replace(const std::string& path, std::string_view bytes) {
  static std::atomic<uint64_t> counter{0};
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw core::InputError(
          fmt::format("{}: cannot create directory ({})", parent.string(), ec.message()));
    }
  }
  const std::string tmp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw core::InputError(fmt::format("{}: cannot create ({})", tmp, std::strerror(errno)));
  }
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw core::InputError(
          fmt::format("{}: cannot write ({}); free disk space or choose another "
                      "directory",
                      path, std::strerror(err)));
    }
    bytes.remove_prefix(size_t(n));
  }
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw core::InputError(
        fmt::format("{}: cannot rename into place ({})", path, std::strerror(err)));
  }
}

}  // namespace greensed::features
