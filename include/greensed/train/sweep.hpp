// Sweeps: a grid of training runs (batch sizes × seeds × any config keys) over one base config,
// run here one at a time (resumable) or as a Slurm job array (one array task per run). Nothing
// home-made schedules jobs across machines: Slurm does.
//
// Sweep file (YAML):
//   base_config: configs/demo.yaml      # relative to the working directory
//   batch_sizes: [4, 8, 16, 32, 48]     # total batch; composition 1/4, 1/4, 1/2
//   seeds: [1, 2, 3]
//   grid:                               # optional: more axes, any config key → list of values
//     training.n_epochs: [5, 10]
//   set: [training.validation_interval=1]   # optional: overrides for every run
//   slurm: {partition: gpu, time: "04:00:00", cpus_per_task: 2, mem: 16G, gpus: 0,
//           account: "", extra: ["--qos=normal"], setup: "module load openblas"}
#pragma once

#include <string>
#include <vector>

namespace greensed::train {

struct SlurmResources {
  std::string partition, time = "04:00:00", mem = "16G", account, setup;
  int cpus_per_task = 2, gpus = 0;
  std::vector<std::string> extra;  // more #SBATCH lines, e.g. "--qos=normal"
};

struct SweepRun {
  std::string name;                    // e.g. "b16_s2" or "b16_s2_training.n_epochs-5"
  std::vector<std::string> overrides;  // --set values for this run
};

struct Sweep {
  std::string source;  // the sweep file
  std::string base_config;
  std::vector<int> batch_sizes = {4, 8, 16, 32, 48};
  std::vector<long long> seeds = {42};
  std::vector<std::pair<std::string, std::vector<std::string>>> grid;
  std::vector<std::string> set;
  SlurmResources slurm;
  std::vector<SweepRun> runs;  // the expanded grid, in a stable order
};

// Reads and validates a sweep file; InputError names the file, line and key.
Sweep load_sweep(const std::string& path);
Sweep parse_sweep(const std::string& yaml_text, const std::string& origin);

// The Slurm batch script for the whole grid: one array task per run, each running
// `greensed train --config BASE --run-dir OUT/<name> --resume --set ...`.
std::string slurm_script(const Sweep& sweep, const std::string& out_dir,
                         const std::string& greensed_binary);

// How far a run directory got: "finished" (summary.json says so), "partial" (has a checkpoint or
// epochs), or "new".
std::string run_status(const std::string& run_dir);

}  // namespace greensed::train
