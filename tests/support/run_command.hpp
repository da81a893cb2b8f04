// Runs a command line for the CLI tests and captures its exit code and output (stdout + stderr).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace greensed::test {

struct CommandResult {
  int code;
  std::string output;
};

inline CommandResult run_shell(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WEXITSTATUS(status), out};
}

// `greensed ARGS` with the binary under test.
inline CommandResult run_greensed(const std::string& args) {
  return run_shell(std::string(GREENSED_BINARY) + " " + args);
}

}  // namespace greensed::test
