// greensed: trains the DCASE task 4 SED baseline and measures what it costs in kWh.
// The only place that configures logging and maps errors to exit codes.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

#include "command.hpp"
#include "greensed/core/cpu.hpp"
#include "greensed/core/error.hpp"

namespace {

using namespace greensed;

void print_overview() {
  fmt::print(
      "greensed {} - train the DCASE task 4 SED baseline and measure its energy\n\n"
      "usage: greensed [--log-level LEVEL] <subcommand> [options]\n\nsubcommands:\n",
      GREENSED_VERSION);
  for (const auto& [name, command] : cli::registry()) {
    fmt::print("  {:<12} {}\n", name, command.summary);
  }
  fmt::print("\n'greensed <subcommand> --help' describes a subcommand's options.\n");
}

const cli::Registrar help_command(
    {"help", "list the subcommands, or describe one (help SUBCOMMAND)",
     [](const std::vector<std::string>& args) {
       if (args.empty()) {
         print_overview();
         return cli::kExitOk;
       }
       const auto it = cli::registry().find(args[0]);
       if (it == cli::registry().end()) {
         throw core::InputError(
             fmt::format("greensed help: unknown subcommand '{}' (see greensed help)", args[0]));
       }
       return it->second.run({"--help"});
     }});

void set_up_logging(const std::string& level_name) {
  auto logger = spdlog::stderr_color_mt("greensed");
  logger->set_pattern("%^[%H:%M:%S %L]%$ %v");
  spdlog::set_default_logger(logger);
  const auto level = spdlog::level::from_str(level_name);
  if (level == spdlog::level::off && level_name != "off") {
    throw core::InputError(
        fmt::format("--log-level: unknown level '{}' (use trace, debug, info, warn, error or off)",
                    level_name));
  }
  spdlog::set_level(level);
}

}  // namespace

int main(int argc, char** argv) {
  core::ensure_openblas_coretype(argc, argv);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string level = "info";
  // Global options come before the subcommand; --log-level is also accepted after it.
  for (size_t i = 0; i < args.size();) {
    if (args[i] == "--log-level" && i + 1 < args.size()) {
      level = args[i + 1];
      args.erase(args.begin() + i, args.begin() + i + 2);
    } else if (args[i].rfind("--log-level=", 0) == 0) {
      level = args[i].substr(12);
      args.erase(args.begin() + i);
    } else if (args[i] == "--") {
      break;  // what follows belongs to a metered command
    } else {
      ++i;
    }
  }
  try {
    set_up_logging(level);
    if (args.empty()) {
      print_overview();
      return cli::kExitBadInput;
    }
    if (args[0] == "--version" || args[0] == "version") {
      fmt::print("greensed {}\n", GREENSED_VERSION);
      return cli::kExitOk;
    }
    if (args[0] == "--help" || args[0] == "-h") args[0] = "help";
    const auto it = cli::registry().find(args[0]);
    if (it == cli::registry().end()) {
      throw core::InputError(
          fmt::format("unknown subcommand '{}' (see greensed help for the list)", args[0]));
    }
    return it->second.run(std::vector<std::string>(args.begin() + 1, args.end()));
  } catch (const core::InputError& e) {
    spdlog::error("{}", e.what());
    return cli::kExitBadInput;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {} (please report this with the command line used)", e.what());
    return cli::kExitInternal;
  }
}
