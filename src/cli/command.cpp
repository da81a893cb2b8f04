#include "command.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "greensed/core/cpu.hpp"
#include "greensed/core/error.hpp"

namespace greensed::cli {

using core::InputError;

std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> commands;
  return commands;
}

ArgParser::ArgParser(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void ArgParser::flag(const std::string& name, bool* value, const std::string& help) {
  specs_.push_back({name, "", help, Spec::kFlag, value});
}
void ArgParser::option(const std::string& name, std::string* value, const std::string& metavar,
                       const std::string& help) {
  specs_.push_back({name, metavar, help, Spec::kString, value});
}
void ArgParser::option(const std::string& name, int* value, const std::string& metavar,
                       const std::string& help) {
  specs_.push_back({name, metavar, help, Spec::kInt, value});
}
void ArgParser::option(const std::string& name, double* value, const std::string& metavar,
                       const std::string& help) {
  specs_.push_back({name, metavar, help, Spec::kDouble, value});
}
void ArgParser::repeated(const std::string& name, std::vector<std::string>* values,
                         const std::string& metavar, const std::string& help) {
  specs_.push_back({name, metavar, help, Spec::kRepeated, values});
}
void ArgParser::multi(const std::string& name, std::vector<std::string>* values,
                      const std::string& metavar, const std::string& help) {
  specs_.push_back({name, metavar, help, Spec::kMulti, values});
}
void ArgParser::positionals(std::vector<std::string>* values, const std::string& metavar,
                            const std::string& help) {
  positionals_ = values;
  positionals_metavar_ = metavar;
  positionals_help_ = help;
}
void ArgParser::rest_after_dashes(std::vector<std::string>* values, const std::string& metavar,
                                  const std::string& help) {
  rest_ = values;
  rest_metavar_ = metavar;
  rest_help_ = help;
}
void ArgParser::config_options(std::string* config_path, std::vector<std::string>* overrides,
                               bool required) {
  option("--config", config_path, "FILE",
         std::string("YAML config in the DESED_task layout") + (required ? " (required)" : ""));
  repeated("--set", overrides, "SECTION.KEY=VALUE",
           "override one config key (repeatable), validated like the file");
}

const ArgParser::Spec* ArgParser::find(const std::string& name) const {
  for (const auto& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool ArgParser::parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      fmt::print("{}", help());
      return false;
    }
    if (arg == "--") {
      if (rest_ == nullptr) {
        throw InputError(fmt::format("greensed {}: unexpected '--' (see greensed {} --help)",
                                     command_, command_));
      }
      rest_->assign(args.begin() + i + 1, args.end());
      break;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      if (positionals_ == nullptr) {
        throw InputError(
            fmt::format("greensed {}: unexpected argument '{}' (see greensed {} --help)", command_,
                        arg, command_));
      }
      positionals_->push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (const auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    const Spec* spec = find(name);
    if (spec == nullptr) {
      throw InputError(fmt::format("greensed {}: unknown option '{}' (see greensed {} --help)",
                                   command_, name, command_));
    }
    if (spec->kind == Spec::kFlag) {
      if (inline_value) {
        throw InputError(fmt::format("greensed {}: option {} takes no value", command_, name));
      }
      *static_cast<bool*>(spec->target) = true;
      continue;
    }
    if (spec->kind == Spec::kMulti) {
      auto* values = static_cast<std::vector<std::string>*>(spec->target);
      if (inline_value) values->push_back(*inline_value);
      while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) values->push_back(args[++i]);
      if (values->empty()) {
        throw InputError(fmt::format("greensed {}: option {} needs at least one {}", command_, name,
                                     spec->metavar));
      }
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        throw InputError(
            fmt::format("greensed {}: option {} needs a value {}", command_, name, spec->metavar));
      }
      inline_value = args[++i];
    }
    const std::string& v = *inline_value;
    try {
      size_t used = 0;
      switch (spec->kind) {
        case Spec::kString:
          *static_cast<std::string*>(spec->target) = v;
          break;
        case Spec::kInt:
          *static_cast<int*>(spec->target) = std::stoi(v, &used);
          if (used != v.size()) throw std::invalid_argument(v);
          break;
        case Spec::kDouble:
          *static_cast<double*>(spec->target) = std::stod(v, &used);
          if (used != v.size()) throw std::invalid_argument(v);
          break;
        case Spec::kRepeated:
          static_cast<std::vector<std::string>*>(spec->target)->push_back(v);
          break;
        default:
          break;
      }
    } catch (const std::logic_error&) {
      throw InputError(fmt::format("greensed {}: option {} expects {} as a number, found '{}'",
                                   command_, name, spec->metavar, v));
    }
  }
  return true;
}

std::string ArgParser::help() const {
  std::string out =
      fmt::format("greensed {} - {}\n\nusage: greensed {}", command_, summary_, command_);
  for (const auto& s : specs_) {
    out += s.kind == Spec::kFlag ? fmt::format(" [{}]", s.name)
                                 : fmt::format(" [{} {}]", s.name, s.metavar);
  }
  if (positionals_ != nullptr) out += " " + positionals_metavar_ + "...";
  if (rest_ != nullptr) out += " -- " + rest_metavar_;
  out += "\n\noptions:\n";
  for (const auto& s : specs_) {
    const std::string left = s.kind == Spec::kFlag ? s.name : s.name + " " + s.metavar;
    out += fmt::format("  {:<30} {}\n", left, s.help);
  }
  if (positionals_ != nullptr)
    out += fmt::format("  {:<30} {}\n", positionals_metavar_, positionals_help_);
  if (rest_ != nullptr) out += fmt::format("  -- {:<27} {}\n", rest_metavar_, rest_help_);
  out +=
      fmt::format("  {:<30} {}\n", "--log-level LEVEL", "trace, debug, info, warn, error (global)");
  out += fmt::format("  {:<30} {}\n", "--help", "show this help");
  return out;
}

void ArgParser::require(const std::string& name, bool present) const {
  if (!present) {
    throw InputError(fmt::format("greensed {}: {} is required (see greensed {} --help)", command_,
                                 name, command_));
  }
}

core::LoadedConfig load_config_logged(const std::string& path,
                                      const std::vector<std::string>& overrides) {
  auto loaded = core::load_config(path, overrides);
  for (const auto& w : loaded.warnings) spdlog::warn("[config] {}", w);
  return loaded;
}

void log_compute_setup(int threads) {
  core::set_num_threads(threads);
  const auto cpu = core::detect_cpu();
  const auto blas = core::blas_status();
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  spdlog::info("[core] CPU {} ({} logical CPUs{}); OpenBLAS core {} ({}), {} thread(s)",
               cpu.model_name.empty() ? cpu.vendor : cpu.model_name, cpu.n_logical_cpus,
               cpu.avx512f ? ", AVX-512" : (cpu.avx2 ? ", AVX2" : ""), blas.core,
               blas.coretype_from_user ? "OPENBLAS_CORETYPE set by the user"
               : coretype != nullptr ? fmt::format("OPENBLAS_CORETYPE={} set by greensed", coretype)
                                     : "OpenBLAS's own detection",
               blas.n_threads);
}

bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) != 0;
}

}  // namespace greensed::cli
