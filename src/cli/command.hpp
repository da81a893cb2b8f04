// The subcommand registry and a small argument parser shared by every subcommand.
//
// Each subcommand lives in its own src/cli/cmd_<name>.cpp and registers itself with a
// `const Registrar` at namespace scope; the CLI sources are compiled into the executable, so
// registration cannot be dropped by the linker.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "greensed/core/config.hpp"

namespace greensed::cli {

// Exit codes of the greensed command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInternal = 3;
// `greensed train`: a loss term stopped being finite (train::DivergedError). Neither bad input (the
// config is valid; another seed or learning rate may train) nor a bug, so a sweep can retry it.
inline constexpr int kExitDiverged = 4;

// Parses `--name value`, `--name=value`, flags, repeatable options, positionals and `-- rest...`.
// Unknown options and missing values are InputErrors that name them and point to --help.
class ArgParser {
 public:
  ArgParser(std::string command, std::string summary);

  void flag(const std::string& name, bool* value, const std::string& help);
  void option(const std::string& name, std::string* value, const std::string& metavar,
              const std::string& help);
  void option(const std::string& name, int* value, const std::string& metavar,
              const std::string& help);
  void option(const std::string& name, double* value, const std::string& metavar,
              const std::string& help);
  void repeated(const std::string& name, std::vector<std::string>* values,
                const std::string& metavar, const std::string& help);
  // Options that take every following word up to the next option (e.g. --detections A B C).
  void multi(const std::string& name, std::vector<std::string>* values, const std::string& metavar,
             const std::string& help);
  void positionals(std::vector<std::string>* values, const std::string& metavar,
                   const std::string& help);
  void rest_after_dashes(std::vector<std::string>* values, const std::string& metavar,
                         const std::string& help);
  // Adds --config FILE and --set section.key=value (repeatable).
  void config_options(std::string* config_path, std::vector<std::string>* overrides,
                      bool required = true);

  // Returns false when --help was asked (help already printed).
  bool parse(const std::vector<std::string>& args);
  std::string help() const;
  void require(const std::string& name, bool present) const;

 private:
  struct Spec {
    std::string name, metavar, help;
    enum Kind { kFlag, kString, kInt, kDouble, kRepeated, kMulti } kind;
    void* target;
  };
  const Spec* find(const std::string& name) const;

  std::string command_, summary_;
  std::vector<Spec> specs_;
  std::vector<std::string>* positionals_ = nullptr;
  std::string positionals_metavar_, positionals_help_;
  std::vector<std::string>* rest_ = nullptr;
  std::string rest_metavar_, rest_help_;
};

struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>& args)> run;
};

std::map<std::string, Command>& registry();

struct Registrar {
  explicit Registrar(Command command) {
    const std::string name = command.name;
    registry().emplace(name, std::move(command));
  }
};

// Loads the config named on the command line, applies the overrides, logs the warnings.
core::LoadedConfig load_config_logged(const std::string& path,
                                      const std::vector<std::string>& overrides);

// Logs the OpenBLAS core and threads in use (every compute subcommand calls it once).
void log_compute_setup(int threads);

// True when stderr is a terminal (progress lines are redrawn in place only then).
bool stderr_is_terminal();

}  // namespace greensed::cli
