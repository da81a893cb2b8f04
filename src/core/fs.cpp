#include "greensed/core/fs.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "greensed/core/error.hpp"
#include "greensed/core/fault.hpp"

namespace greensed::core {
namespace {

constexpr const char* kTempMark = ".tmp.";

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

// "<name>.tmp.<pid>.<n>": the pid, else 0 (not one of write_file_atomic's temporary files).
int64_t temp_file_pid(const std::string& name) {
  const size_t mark = name.rfind(kTempMark);
  if (mark == std::string::npos || mark == 0) return 0;
  const std::string rest = name.substr(mark + std::strlen(kTempMark));
  const size_t dot = rest.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == rest.size()) return 0;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (i != dot && !std::isdigit(static_cast<unsigned char>(rest[i]))) return 0;
  }
  if (dot > 9) return 0;  // not a pid
  return std::stoll(rest.substr(0, dot));
}

bool process_runs(int64_t pid) {
  return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

// After a rename the new directory entry reaches the disk only with the directory's fsync.
void fsync_parent_dir(const std::string& path) {
  auto parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // e.g. no read permission on the folder: the file itself is complete
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string temp_name_for(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return fmt::format("{}{}{}.{}", path, kTempMark, ::getpid(), counter++);
}

void write_file_atomic(const std::string& path, std::string_view content, Durability durability) {
  make_parent_dirs(path);
  const std::string tmp = temp_name_for(path);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw InputError(fmt::format("{}: cannot create ({})", tmp, std::strerror(errno)));
  }
  try {
    // In two halves only so that a fault test can kill the process with half the file written.
    const size_t half = content.size() / 2;
    write_all(fd, content.substr(0, half), path);
    fault_point("mid-write", std::filesystem::path(path).filename().string());
    write_all(fd, content.substr(half), path);
    if (durability == Durability::kFsync && ::fsync(fd) != 0) {
      throw InputError(fmt::format("{}: cannot flush to disk ({})", path, std::strerror(errno)));
    }
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw InputError(fmt::format("{}: cannot write ({})", path, std::strerror(err)));
  }
  fault_point("before-rename", std::filesystem::path(path).filename().string());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw InputError(fmt::format("{}: cannot replace ({})", path, std::strerror(err)));
  }
  if (durability == Durability::kFsync) fsync_parent_dir(path);
}

std::vector<std::string> remove_orphan_temp_files(const std::string& dir, bool recursive) {
  namespace fs = std::filesystem;
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return removed;
  auto consider = [&](const fs::directory_entry& e) {
    std::error_code e_ec;
    if (!e.is_regular_file(e_ec)) return;
    const std::string name = e.path().filename().string();
    const int64_t pid = temp_file_pid(name);
    if (pid <= 0 || pid == ::getpid() || process_runs(pid)) return;
    if (fs::remove(e.path(), e_ec)) removed.push_back(e.path().string());
  };
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(
             dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      consider(*it);
    }
  } else {
    for (auto it = fs::directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      consider(*it);
    }
  }
  return removed;
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
