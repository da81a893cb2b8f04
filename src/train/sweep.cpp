#include "greensed/train/sweep.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "greensed/core/config.hpp"
#include "greensed/core/error.hpp"
#include "greensed/core/fs.hpp"

namespace greensed::train {
namespace {

std::string where(const std::string& origin, const YAML::Node& n) {
  return n.Mark().line >= 0 ? fmt::format("{}:{}", origin, n.Mark().line + 1) : origin;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

template <class T>
std::vector<T> list_of(const YAML::Node& n, const std::string& origin, const std::string& key,
                       const char* what) {
  if (!n.IsSequence() || n.size() == 0) {
    throw core::InputError(
        fmt::format("{}: {}: expected a non-empty list of {}", where(origin, n), key, what));
  }
  std::vector<T> out;
  for (const auto& v : n) {
    try {
      out.push_back(v.as<T>());
    } catch (const YAML::Exception&) {
      throw core::InputError(fmt::format("{}: {}: expected a list of {}, found '{}'",
                                         where(origin, v), key, what, v.Scalar()));
    }
  }
  return out;
}

}  // namespace

namespace {

YAML::Node load_root(const std::string& yaml_text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw core::InputError(
        fmt::format("{}:{}: not valid YAML: {}", origin, e.mark.line + 1, e.msg));
  }
  if (!root.IsMap())
    throw core::InputError(fmt::format("{}: a sweep file must be a mapping", origin));
  const std::set<std::string> known = {"base_config", "batch_sizes", "seeds",
                                       "grid",        "set",         "slurm"};
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    if (!known.count(key)) {
      throw core::InputError(fmt::format(
          "{}: unknown key '{}' (known: base_config, batch_sizes, seeds, grid, set, slurm)",
          where(origin, kv.first), key));
    }
  }
  return root;
}

void parse_slurm_key(const std::string& key, const YAML::Node& v, const YAML::Node& key_node,
                     const std::string& origin, SlurmResources& slurm) {
  if (key == "partition")
    slurm.partition = v.as<std::string>();
  else if (key == "time")
    slurm.time = v.as<std::string>();
  else if (key == "mem")
    slurm.mem = v.as<std::string>();
  else if (key == "account")
    slurm.account = v.as<std::string>();
  else if (key == "setup")
    slurm.setup = v.as<std::string>();
  else if (key == "cpus_per_task")
    slurm.cpus_per_task = v.as<int>();
  else if (key == "gpus")
    slurm.gpus = v.as<int>();
  else if (key == "extra")
    slurm.extra = list_of<std::string>(v, origin, "slurm.extra", "#SBATCH options");
  else {
    throw core::InputError(
        fmt::format("{}: unknown key 'slurm.{}' (known: partition, time, mem, account, "
                    "setup, cpus_per_task, gpus, extra)",
                    where(origin, key_node), key));
  }
}

void parse_slurm(const YAML::Node& sl, const std::string& origin, SlurmResources& slurm) {
  if (!sl.IsMap())
    throw core::InputError(fmt::format("{}: slurm: expected a mapping", where(origin, sl)));
  for (const auto& kv : sl) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node v = kv.second;
    try {
      parse_slurm_key(key, v, kv.first, origin, slurm);
    } catch (const YAML::Exception&) {
      throw core::InputError(
          fmt::format("{}: slurm.{}: wrong type, found '{}'", where(origin, v), key, v.Scalar()));
    }
  }
  if (slurm.cpus_per_task <= 0) {
    throw core::InputError(fmt::format("{}: slurm.cpus_per_task must be > 0", origin));
  }
}

// batch × seed × grid axes, in that nesting order.
std::vector<SweepRun> expand_runs(const Sweep& s) {
  std::vector<SweepRun> partial;
  for (int b : s.batch_sizes) {
    for (long long seed : s.seeds) {
      const auto comp = core::batch_composition(b);
      SweepRun r;
      r.name = fmt::format("b{}_s{}", b, seed);
      r.overrides = s.set;
      r.overrides.push_back(
          fmt::format("training.batch_size=[{}, {}, {}]", comp[0], comp[1], comp[2]));
      r.overrides.push_back(fmt::format("training.seed={}", seed));
      partial.push_back(r);
    }
  }
  for (const auto& [key, values] : s.grid) {
    std::vector<SweepRun> next;
    for (const auto& r : partial) {
      for (const auto& v : values) {
        SweepRun x = r;
        std::string tag = v;
        for (char& c : tag) {
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '-';
        }
        x.name += "_" + key + "-" + tag;
        x.overrides.push_back(key + "=" + v);
        next.push_back(x);
      }
    }
    partial = next;
  }
  return partial;
}

}  // namespace

Sweep parse_sweep(const std::string& yaml_text, const std::string& origin) {
  const YAML::Node root = load_root(yaml_text, origin);
  Sweep s;
  s.source = origin;
  if (!root["base_config"] || !root["base_config"].IsScalar()) {
    throw core::InputError(
        fmt::format("{}: base_config is required (the config every run starts from)", origin));
  }
  s.base_config = root["base_config"].as<std::string>();
  if (root["batch_sizes"])
    s.batch_sizes = list_of<int>(root["batch_sizes"], origin, "batch_sizes", "integers");
  for (size_t i = 0; i < s.batch_sizes.size(); ++i) {
    const int b = s.batch_sizes[i];
    if (b <= 0 || b % 4 != 0) {
      throw core::InputError(
          fmt::format("{}: batch_sizes: {} is not a positive multiple of 4 (1/4 synthetic, 1/4 "
                      "weak, 1/2 unlabelled)",
                      where(origin, root["batch_sizes"][i]), b));
    }
  }
  if (root["seeds"]) s.seeds = list_of<long long>(root["seeds"], origin, "seeds", "integers");
  if (const auto g = root["grid"]) {
    if (!g.IsMap())
      throw core::InputError(
          fmt::format("{}: grid: expected a mapping of config keys to lists", where(origin, g)));
    for (const auto& kv : g) {
      const std::string key = kv.first.as<std::string>();
      s.grid.emplace_back(key, list_of<std::string>(kv.second, origin, "grid." + key, "values"));
    }
  }
  if (root["set"])
    s.set = list_of<std::string>(root["set"], origin, "set", "section.key=value overrides");
  if (const auto sl = root["slurm"]) parse_slurm(sl, origin, s.slurm);
  s.runs = expand_runs(s);
  // Validate every run's overrides against the schema now, not hours later on a cluster node.
  for (const auto& r : s.runs) {
    try {
      core::parse_config("", r.name, r.overrides);
    } catch (const core::InputError& e) {
      throw core::InputError(fmt::format("{}: run {}: {}", origin, r.name, e.what()));
    }
  }
  return s;
}

Sweep load_sweep(const std::string& path) {
  return parse_sweep(core::read_file(path), path);
}

std::string slurm_script(const Sweep& sweep, const std::string& out_dir,
                         const std::string& greensed_binary) {
  const auto abs = [](const std::string& p) {
    return std::filesystem::absolute(p).lexically_normal().string();
  };
  std::string s = "#!/bin/bash\n";
  s += fmt::format("# greensed sweep {} — {} runs, one Slurm array task each.\n", sweep.source,
                   sweep.runs.size());
  s += "#SBATCH --job-name=greensed-sweep\n";
  s += fmt::format("#SBATCH --array=0-{}\n", sweep.runs.size() - 1);
  s += fmt::format("#SBATCH --cpus-per-task={}\n", sweep.slurm.cpus_per_task);
  s += fmt::format("#SBATCH --mem={}\n", sweep.slurm.mem);
  s += fmt::format("#SBATCH --time={}\n", sweep.slurm.time);
  if (!sweep.slurm.partition.empty())
    s += fmt::format("#SBATCH --partition={}\n", sweep.slurm.partition);
  if (!sweep.slurm.account.empty()) s += fmt::format("#SBATCH --account={}\n", sweep.slurm.account);
  if (sweep.slurm.gpus > 0) s += fmt::format("#SBATCH --gres=gpu:{}\n", sweep.slurm.gpus);
  for (const auto& e : sweep.slurm.extra) s += "#SBATCH " + e + "\n";
  s += fmt::format("#SBATCH --output={}/slurm-%A_%a.out\n", abs(out_dir));
  s += "set -euo pipefail\n";
  s += fmt::format("cd {}\n", shell_quote(std::filesystem::current_path().string()));
  if (!sweep.slurm.setup.empty()) s += sweep.slurm.setup + "\n";
  s += "runs=(\n";
  for (const auto& r : sweep.runs) s += "  " + shell_quote(r.name) + "\n";
  s += ")\n";
  s += "name=${runs[$SLURM_ARRAY_TASK_ID]}\n";
  s += "case $SLURM_ARRAY_TASK_ID in\n";
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    std::string sets;
    for (const auto& o : sweep.runs[i].overrides) sets += " --set " + shell_quote(o);
    s += fmt::format("  {}) overrides=({}) ;;\n", i, sets.empty() ? "" : sets.substr(1));
  }
  s += "esac\n";
  s += fmt::format(
      "exec {} train --config {} --run-dir {}/\"$name\" --resume --set "
      "run.threads=$SLURM_CPUS_PER_TASK \"${{overrides[@]}}\"\n",
      shell_quote(abs(greensed_binary)), shell_quote(abs(sweep.base_config)),
      shell_quote(abs(out_dir)));
  return s;
}

std::string run_status(const std::string& run_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(run_dir);
  if (fs::exists(dir / "summary.json")) {
    try {
      const auto j = nlohmann::json::parse(core::read_file((dir / "summary.json").string()));
      if (j.value("status", "") == "finished") return "finished";
    } catch (const nlohmann::json::exception&) {
      // An unreadable summary means the run did not finish cleanly.
    }
  }
  if (fs::exists(dir / "checkpoints" / "last.safetensors") || fs::exists(dir / "epochs.csv"))
    return "partial";
  return "new";
}

}  // namespace greensed::train
