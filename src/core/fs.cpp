#include "greensed/core/fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "greensed/core/error.hpp"

namespace greensed::core {
namespace {

void write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw InputError(
          fmt::format("{}: cannot write ({}); free disk space or choose another "
                      "directory",
                      path, std::strerror(errno)));
    }
    data.remove_prefix(size_t(n));
  }
}

void make_parent_dirs(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    throw InputError(
        fmt::format("{}: cannot create directory ({})", parent.string(), ec.message()));
  }
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view content) {
  make_parent_dirs(path);
  const std::string tmp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), std::random_device{}());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw InputError(fmt::format("{}: cannot create ({})", tmp, std::strerror(errno)));
  }
  try {
    write_all(fd, content, path);
    if (::fsync(fd) != 0) {
      throw InputError(fmt::format("{}: cannot flush to disk ({})", path, std::strerror(errno)));
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw InputError(fmt::format("{}: cannot replace ({})", path, std::strerror(err)));
  }
}

std::string read_file(const std::string& path) {
  if (path.empty()) {
    throw InputError(
        "cannot open a file: the path is empty (an option or config key without a value?)");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // errno from open(2): no such file, permission denied, a symbolic link loop, ...
    const int err = errno;
    throw InputError(fmt::format("{}: cannot open ({})", path,
                                 err == ENOENT   ? std::string("no such file")
                                 : err == EACCES ? std::string("permission denied")
                                 : err == ELOOP
                                     ? std::string("symbolic link loop")
                                     : std::string(err ? std::strerror(err) : "unknown reason")));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void append_lines(const std::string& path, std::string_view lines) {
  make_parent_dirs(path);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    throw InputError(fmt::format("{}: cannot open for appending ({})", path, std::strerror(errno)));
  // Remember the size so a failed write can be rolled back to whole rows.
  const off_t before = ::lseek(fd, 0, SEEK_END);
  try {
    write_all(fd, lines, path);
    ::fsync(fd);
  } catch (...) {
    if (before >= 0 && ::ftruncate(fd, before) != 0) {
      // Nothing more can be done; the error below names the file.
    }
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace greensed::core
