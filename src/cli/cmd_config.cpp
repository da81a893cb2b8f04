// greensed config: validates a config and prints it fully resolved (every key, defaults filled in).
#include <fmt/core.h>

#include "command.hpp"

namespace greensed::cli {
namespace {

int run_config(const std::vector<std::string>& args) {
  std::string config_path;
  std::vector<std::string> overrides;
  ArgParser parser("config", "validate a config and print it with every key resolved");
  parser.config_options(&config_path, &overrides);
  if (!parser.parse(args)) return kExitOk;
  parser.require("--config FILE", !config_path.empty());
  const auto loaded = load_config_logged(config_path, overrides);
  fmt::print("{}", core::config_to_yaml(loaded.config));
  return kExitOk;
}

const Registrar registrar({"config", "validate a config and print it fully resolved", run_config});

}  // namespace
}  // namespace greensed::cli
