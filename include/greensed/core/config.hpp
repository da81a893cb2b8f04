// Typed configuration in the DESED_task layout (sections training, scaler, data, opt, feats, net
// with the 2022 default.yaml keys and defaults, spec desed_baseline §9.1), plus greensed's own
// sections (features, energy, stopping, run, synth). Field names equal the YAML keys.
//
// A config is read once, overrides (`--set section.key=value`) are applied to the YAML tree, and
// every key is converted and validated before any work starts. Unknown keys become warnings that
// name them; invalid values throw InputError naming the file and line (or the override), the key,
// the rule and the value found. Relative paths are kept as written and resolved against the working
// directory, as the reference recipe does.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace greensed::core {

// DESED_task `training` (2022 keys, plus the 2023 `deterministic` and `enable_progress_bar`).
struct TrainingConfig {
  std::vector<int> batch_size = {12, 12, 24};  // [synthetic strong, weak, unlabelled]
  int batch_size_val = 24;
  double const_max = 2.0;  // maximum consistency weight
  int n_epochs_warmup = 50;
  int num_workers = 6;  // the reference's loader workers; greensed uses run.threads
  int n_epochs = 200;
  int early_stop_patience = 200;
  int accumulate_batches = 1;
  double gradient_clip = 0.0;  // 0 = off
  int median_window = 7;
  std::vector<double> val_thresholds = {0.5};
  int n_test_thresholds = 50;
  double ema_factor = 0.999;
  std::string self_sup_loss = "mse";  // mse | bce
  std::string backend = "dp";         // accepted and ignored (PyTorch Lightning only)
  int validation_interval = 1;
  double weak_split = 0.9;
  int64_t seed = 42;
  int precision = 32;
  std::string mixup = "soft";                          // soft | hard | none
  std::string obj_metric_synth_type = "intersection";  // intersection | event
  bool deterministic = false;
  bool enable_progress_bar = true;
};

struct ScalerConfig {
  std::string statistic = "instance";  // instance (per clip)
  std::string normtype = "minmax";     // minmax | standard | mean
  std::vector<int> dims = {1, 2};
  std::string savepath = "./scaler.ckpt";  // unused for instance statistics, as in the reference
};

// Paths are relative to the working directory, as in the reference recipe.
struct DataConfig {
  std::string synth_folder, synth_folder_44k, synth_tsv;
  std::string strong_folder, strong_folder_44k, strong_tsv;
  std::string weak_folder, weak_folder_44k, weak_tsv;
  std::string unlabeled_folder, unlabeled_folder_44k;
  std::string synth_val_folder, synth_val_folder_44k, synth_val_tsv, synth_val_dur;
  std::string test_folder, test_folder_44k, test_tsv, test_dur;
  std::string eval_folder, eval_folder_44k;
  double audio_max_len = 10.0;  // seconds
  int fs = 16000;
  int net_subsample = 4;
  std::string weak_split_file;  // greensed: optional list of weak-train clips (else seeded 90/10)
};

struct OptConfig {
  double lr = 0.001;
};

struct FeatsConfig {
  int n_mels = 128;
  int n_filters = 2048;  // only the label encoder's frame length in the reference
  int hop_length = 256;
  int n_window = 2048;  // n_fft and win_length
  int sample_rate = 16000;
  double f_min = 0.0;
  double f_max = 8000.0;
};

struct NetConfig {
  double dropout = 0.5;
  int rnn_layers = 2;  // never read by the reference (always 2 GRU layers); kept for loading
  int n_in_channel = 1;
  int nclass = 10;
  bool attention = true;
  int n_RNN_cell = 128;
  std::string activation = "glu";
  std::string rnn_type = "BGRU";
  std::vector<int> kernel_size = {3, 3, 3, 3, 3, 3, 3};
  std::vector<int> padding = {1, 1, 1, 1, 1, 1, 1};
  std::vector<int> stride = {1, 1, 1, 1, 1, 1, 1};
  std::vector<int> nb_filters = {16, 32, 64, 128, 128, 128, 128};
  std::vector<std::vector<int>> pooling = {{2, 2}, {2, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}, {1, 2}};
  double dropout_recurrent = 0.0;
};

// greensed: the feature cache.
struct FeaturesConfig {
  std::string cache_dir = "cache/features";
};

// greensed: the energy meter (spec energy.md §7.12; names follow CodeCarbon where one exists).
struct EnergyConfig {
  bool enabled = true;
  double measure_power_secs = 1.0;  // sampler interval
  double pue = 1.0;
  std::string country_iso_code;  // offline carbon intensity by country; "" = world default
  double carbon_intensity_g_per_kwh = 0.0;  // > 0 forces this value
  double cpu_tdp_w = 0.0;                   // > 0: the CPU's TDP for the load model
  std::string cpu_tdp_table;                // optional `Name,TDP` CSV
  std::string ram_model = "codecarbon2";    // codecarbon2 (3/8 W per GiB) | codecarbon3 (per DIMM)
  bool use_psys = false;
  std::vector<int> gpu_ids;                // empty = all visible
  std::string emissions_layout = "2.3.4";  // 2.3.4 | 3.3.0
  std::string powercap_root = "/sys/class/powercap";
  std::string perf_root = "/sys/bus/event_source/devices";
  std::string proc_root = "/proc";
  std::string nvml_library = "libnvidia-ml.so.1";
  std::string project_name = "greensed";
  std::string experiment_name = "base";      // CodeCarbon's task-file name part
  bool rapl_include_dram = true;             // measured DRAM as its own component
  std::string ram_source = "auto";           // auto (measured DRAM when present) | model
  double force_ram_power_w = 0.0;            // > 0: constant RAM power instead of the model
  double gpu_poll_interval_s = 0.1;          // GPUs without an energy counter
  double min_reliable_window_s = 0.5;        // shorter windows are flagged short_window
  double checkpoint_interval_s = 60.0;       // energy_checkpoint.json rewrite period
  std::string intensity_vintage = "latest";  // latest | codecarbon-2.3.4 (country table values)
  std::string tracking_mode = "machine";     // written to emissions.csv (machine | process)
};

// greensed: stopping policies (combinable; 0 = off).
struct StoppingConfig {
  int patience = 0;                  // 0 = use training.early_stop_patience
  double energy_budget_kwh = 0.0;    // never start an epoch predicted to cross it
  double target_f1 = 0.0;            // stop once the monitored F1 reaches it
  double min_f1_gain_per_kwh = 0.0;  // stop when F1 gained per kWh over the window falls below
  int gain_window = 5;               // epochs
  // Stop when the objective improves by less than this fraction over the window.
  double min_relative_improvement = 0.0;
};

// greensed: where and how a run executes.
struct RunConfig {
  std::string name;          // "" = derived from the config file name
  std::string dir = "runs";  // parent of run directories
  int threads = 0;           // 0 = one per CPU
  int checkpoint_every_epochs = 1;
  std::string f1_variant = "0.5";  // "0.5" (DTC=GTC=0.5, the recipe) or "0.7" (the paper's)
};

// greensed: the DESED-style soundscape generator.
struct SynthConfig {
  std::string out_dir = "data/demo";
  int64_t seed = 2022;
  int n_synth_train = 200;
  int n_synth_val = 50;
  int n_weak = 200;
  int n_unlabeled = 400;
  int n_test = 100;  // real-like validation clips taken from DESED validation.tsv; 0 = all 1168
  std::string sources_dir;  // optional library of real sounds (foreground/<class>, background)
};

struct Config {
  TrainingConfig training;
  ScalerConfig scaler;
  DataConfig data;
  OptConfig opt;
  FeatsConfig feats;
  NetConfig net;
  FeaturesConfig features;
  EnergyConfig energy;
  StoppingConfig stopping;
  RunConfig run;
  SynthConfig synth;
  std::string source_path;  // the file it was read from ("" for defaults)
};

struct LoadedConfig {
  Config config;
  std::vector<std::string> warnings;  // unknown sections and keys, ignored keys
};

// Reads `path`, applies `overrides` ("section.key=value", value in YAML syntax), validates.
// Throws InputError on any problem.
LoadedConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Same from YAML text (tests); `origin` names the text in messages.
LoadedConfig parse_config(const std::string& yaml_text, const std::string& origin,
                          const std::vector<std::string>& overrides = {});

// The fully resolved config as YAML (every key, in the reference layout), for run directories.
std::string config_to_yaml(const Config& config);

// Every key of a config as ("section.key", value in YAML flow syntax), in config_to_yaml's order:
// what two configs differ in, key by key.
std::vector<std::pair<std::string, std::string>> config_entries(const Config& config);

// The two pieces a total batch b divisible by 4 gives: [b/4, b/4, b/2].
std::vector<int> batch_composition(int total_batch);

}  // namespace greensed::core
