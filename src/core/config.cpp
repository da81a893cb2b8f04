#include "greensed/core/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "greensed/core/error.hpp"
#include "greensed/core/net_config.hpp"

namespace greensed::core {
namespace {

// ---- conversions --------------------------------------------------------------------------------

std::string node_text(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar()) return "'" + node.Scalar() + "'";
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

// A mapping key as text: its scalar, or its flow form for a complex key (`? [a, b]`), which
// as<std::string>() would throw on.
std::string key_text(const YAML::Node& key) {
  return key.IsScalar() ? key.Scalar() : node_text(key);
}

bool convert_value(const YAML::Node& n, int& out) {
  if (!n.IsScalar()) return false;
  try {
    size_t used = 0;
    const long long v = std::stoll(n.Scalar(), &used);
    if (used != n.Scalar().size() || v < INT32_MIN || v > INT32_MAX) return false;
    out = int(v);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}
bool convert_value(const YAML::Node& n, int64_t& out) {
  if (!n.IsScalar()) return false;
  try {
    size_t used = 0;
    out = std::stoll(n.Scalar(), &used);
    return used == n.Scalar().size();
  } catch (const std::exception&) {
    return false;
  }
}
bool convert_value(const YAML::Node& n, double& out) {
  if (!n.IsScalar()) return false;
  try {
    size_t used = 0;
    out = std::stod(n.Scalar(), &used);
    return used == n.Scalar().size() && std::isfinite(out);
  } catch (const std::exception&) {
    return false;
  }
}
bool convert_value(const YAML::Node& n, bool& out) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") return out = true, true;
  if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off")
    return out = false, true;
  return false;
}
bool convert_value(const YAML::Node& n, std::string& out) {
  if (n.IsNull()) return out.clear(), true;  // `key:` with nothing = empty
  if (!n.IsScalar()) return false;
  out = n.Scalar();
  return true;
}
template <class T>
bool convert_value(const YAML::Node& n, std::vector<T>& out) {
  if (!n.IsSequence()) return false;
  std::vector<T> values(n.size());
  for (size_t i = 0; i < n.size(); ++i) {
    if (!convert_value(n[i], values[i])) return false;
  }
  out = std::move(values);
  return true;
}

template <class T>
const char* expected_type() {
  if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) return "an integer";
  if constexpr (std::is_same_v<T, double>) return "a number";
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  if constexpr (std::is_same_v<T, std::string>) return "a string";
  if constexpr (std::is_same_v<T, std::vector<int>>) return "a list of integers";
  if constexpr (std::is_same_v<T, std::vector<double>>) return "a list of numbers";
  if constexpr (std::is_same_v<T, std::vector<std::vector<int>>>) return "a list of integer lists";
  return "a value";
}

void emit_value(YAML::Emitter& out, int v) {
  out << v;
}
void emit_value(YAML::Emitter& out, int64_t v) {
  out << v;
}
void emit_value(YAML::Emitter& out, double v) {
  out << v;
}
void emit_value(YAML::Emitter& out, bool v) {
  out << (v ? "true" : "false");
}
void emit_value(YAML::Emitter& out, const std::string& v) {
  out << YAML::DoubleQuoted << v;
}
template <class T>
void emit_value(YAML::Emitter& out, const std::vector<T>& v) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const auto& x : v) emit_value(out, x);
  out << YAML::EndSeq;
}

// ---- rules: each returns "" when the value is fine, else the rule it breaks --------------------

template <class T>
using Rule = std::function<std::string(const T&)>;

Rule<int> positive() {
  return [](const int& v) { return v > 0 ? "" : "must be a positive integer"; };
}
Rule<int> non_negative() {
  return [](const int& v) { return v >= 0 ? "" : "must be an integer >= 0"; };
}
Rule<double> positive_number() {
  return [](const double& v) { return v > 0 ? "" : "must be a number > 0"; };
}
Rule<double> non_negative_number() {
  return [](const double& v) { return v >= 0 ? "" : "must be a number >= 0"; };
}
Rule<double> in_range(double lo, double hi, bool hi_open = false) {
  return [=](const double& v) {
    const bool ok = v >= lo && (hi_open ? v < hi : v <= hi);
    return ok ? std::string() : fmt::format("must be in [{}, {}{}", lo, hi, hi_open ? ")" : "]");
  };
}
Rule<std::string> one_of(std::vector<std::string> choices, std::string fix = "") {
  return [=](const std::string& v) {
    for (const auto& c : choices) {
      if (v == c) return std::string();
    }
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
    return fmt::format("must be one of: {}{}", list, fix.empty() ? "" : " (" + fix + ")");
  };
}
Rule<int> equals(int expected, std::string why) {
  return [=](const int& v) {
    return v == expected ? std::string() : fmt::format("must be {} ({})", expected, why);
  };
}
Rule<std::vector<int>> all_positive(size_t n_expected, std::string what) {
  return [=](const std::vector<int>& v) {
    bool ok = (n_expected == 0 ? !v.empty() : v.size() == n_expected);
    for (int x : v) ok = ok && x > 0;
    return ok ? std::string() : "must be " + what;
  };
}

// ---- visitors
// Each section lists its fields once; parsing, emitting and the known-key list all use the list.

template <class V>
void visit(TrainingConfig& c, V& v) {
  v("batch_size", c.batch_size,
    all_positive(3, "3 positive integers [synthetic, weak, unlabelled], e.g. [12, 12, 24]"));
  v("batch_size_val", c.batch_size_val, positive());
  v("const_max", c.const_max, non_negative_number());
  v("n_epochs_warmup", c.n_epochs_warmup, non_negative());
  v("num_workers", c.num_workers, non_negative());
  v("n_epochs", c.n_epochs, positive());
  v("early_stop_patience", c.early_stop_patience, positive());
  v("accumulate_batches", c.accumulate_batches,
    equals(1, "gradient accumulation is not implemented"));
  v("gradient_clip", c.gradient_clip, non_negative_number());
  v("median_window", c.median_window, positive());
  v("val_thresholds", c.val_thresholds, Rule<std::vector<double>>([](const std::vector<double>& t) {
      bool ok = !t.empty();
      for (double x : t) ok = ok && x > 0 && x < 1;
      return ok ? "" : "must be a non-empty list of thresholds in (0, 1)";
    }));
  v("n_test_thresholds", c.n_test_thresholds, positive());
  v("ema_factor", c.ema_factor, in_range(0.0, 1.0, true));
  v("self_sup_loss", c.self_sup_loss, one_of({"mse", "bce"}));
  v("backend", c.backend, Rule<std::string>());
  v("validation_interval", c.validation_interval, positive());
  v("weak_split", c.weak_split, Rule<double>([](const double& x) {
      return x > 0 && x < 1 ? "" : "must be in (0, 1), the weak-train fraction";
    }));
  v("seed", c.seed, Rule<int64_t>());
  v("precision", c.precision, equals(32, "greensed trains in float32, as the baseline"));
  v("mixup", c.mixup, one_of({"soft", "hard", "none"}));
  v("obj_metric_synth_type", c.obj_metric_synth_type, one_of({"intersection", "event"}));
  v("deterministic", c.deterministic, Rule<bool>());
  v("enable_progress_bar", c.enable_progress_bar, Rule<bool>());
}

template <class V>
void visit(ScalerConfig& c, V& v) {
  v("statistic", c.statistic,
    one_of({"instance"}, "dataset-wide statistics are not used by the baseline"));
  v("normtype", c.normtype, one_of({"minmax", "standard", "mean"}));
  v("dims", c.dims, Rule<std::vector<int>>([](const std::vector<int>& d) {
      return d == std::vector<int>{1, 2} ? ""
                                         : "must be [1, 2] (per clip over mel bins and frames)";
    }));
  v("savepath", c.savepath, Rule<std::string>());
}

template <class V>
void visit(DataConfig& c, V& v) {
  const Rule<std::string> path;
  v("synth_folder", c.synth_folder, path);
  v("synth_folder_44k", c.synth_folder_44k, path);
  v("synth_tsv", c.synth_tsv, path);
  v("strong_folder", c.strong_folder, path);
  v("strong_folder_44k", c.strong_folder_44k, path);
  v("strong_tsv", c.strong_tsv, path);
  v("weak_folder", c.weak_folder, path);
  v("weak_folder_44k", c.weak_folder_44k, path);
  v("weak_tsv", c.weak_tsv, path);
  v("unlabeled_folder", c.unlabeled_folder, path);
  v("unlabeled_folder_44k", c.unlabeled_folder_44k, path);
  v("synth_val_folder", c.synth_val_folder, path);
  v("synth_val_folder_44k", c.synth_val_folder_44k, path);
  v("synth_val_tsv", c.synth_val_tsv, path);
  v("synth_val_dur", c.synth_val_dur, path);
  v("test_folder", c.test_folder, path);
  v("test_folder_44k", c.test_folder_44k, path);
  v("test_tsv", c.test_tsv, path);
  v("test_dur", c.test_dur, path);
  v("eval_folder", c.eval_folder, path);
  v("eval_folder_44k", c.eval_folder_44k, path);
  v("audio_max_len", c.audio_max_len, positive_number());
  v("fs", c.fs, positive());
  v("net_subsample", c.net_subsample, positive());
  v("weak_split_file", c.weak_split_file, path);
}

template <class V>
void visit(OptConfig& c, V& v) {
  v("lr", c.lr, positive_number());
}

template <class V>
void visit(FeatsConfig& c, V& v) {
  v("n_mels", c.n_mels, positive());
  v("n_filters", c.n_filters, positive());
  v("hop_length", c.hop_length, positive());
  v("n_window", c.n_window,
    Rule<int>([](const int& n) { return n >= 16 ? "" : "must be an FFT length >= 16"; }));
  v("sample_rate", c.sample_rate, positive());
  v("f_min", c.f_min, non_negative_number());
  v("f_max", c.f_max, positive_number());
}

template <class V>
void visit(NetConfig& c, V& v) {
  v("dropout", c.dropout, in_range(0.0, 1.0, true));
  v("rnn_layers", c.rnn_layers, Rule<int>());
  v("n_in_channel", c.n_in_channel, equals(1, "the baseline takes one log-mel channel"));
  v("nclass", c.nclass, positive());
  v("attention", c.attention, Rule<bool>());
  v("n_RNN_cell", c.n_RNN_cell, positive());
  v("activation", c.activation, one_of({"glu"}, "the baseline's gated linear unit"));
  v("rnn_type", c.rnn_type, one_of({"BGRU"}, "the baseline's bidirectional GRU"));
  v("kernel_size", c.kernel_size, all_positive(0, "a non-empty list of odd positive integers"));
  v("padding", c.padding, Rule<std::vector<int>>([](const std::vector<int>& p) {
      bool ok = !p.empty();
      for (int x : p) ok = ok && x >= 0;
      return ok ? "" : "must be a non-empty list of integers >= 0";
    }));
  v("stride", c.stride, all_positive(0, "a non-empty list of positive integers"));
  v("nb_filters", c.nb_filters, all_positive(0, "a non-empty list of positive integers"));
  v("pooling", c.pooling, Rule<std::vector<std::vector<int>>>([](const auto& p) {
      bool ok = !p.empty();
      for (const auto& tf : p) ok = ok && tf.size() == 2 && tf[0] > 0 && tf[1] > 0;
      return ok ? "" : "must be a list of [time, frequency] pairs of positive integers";
    }));
  v("dropout_recurrent", c.dropout_recurrent, Rule<double>([](const double& d) {
      return d == 0.0 ? "" : "must be 0 (the baseline has no dropout between GRU layers)";
    }));
}

template <class V>
void visit(FeaturesConfig& c, V& v) {
  v("cache_dir", c.cache_dir, Rule<std::string>([](const std::string& s) {
      return s.empty() ? "must name a directory" : "";
    }));
}

template <class V>
void visit(EnergyConfig& c, V& v) {
  v("enabled", c.enabled, Rule<bool>());
  v("measure_power_secs", c.measure_power_secs, Rule<double>([](const double& s) {
      return s >= 0.01 && s <= 3600 ? "" : "must be between 0.01 and 3600 seconds";
    }));
  v("pue", c.pue, Rule<double>([](const double& p) { return p >= 1.0 ? "" : "must be >= 1.0"; }));
  v("country_iso_code", c.country_iso_code, Rule<std::string>([](const std::string& s) {
      return s.empty() || s.size() == 3 ? "" : "must be an ISO 3166-1 alpha-3 code such as FRA";
    }));
  v("carbon_intensity_g_per_kwh", c.carbon_intensity_g_per_kwh, non_negative_number());
  v("cpu_tdp_w", c.cpu_tdp_w, non_negative_number());
  v("cpu_tdp_table", c.cpu_tdp_table, Rule<std::string>());
  v("ram_model", c.ram_model, one_of({"codecarbon2", "codecarbon3"}));
  v("use_psys", c.use_psys, Rule<bool>());
  v("gpu_ids", c.gpu_ids, Rule<std::vector<int>>([](const std::vector<int>& ids) {
      for (int id : ids) {
        if (id < 0) return "must be a list of GPU indices >= 0";
      }
      return "";
    }));
  v("emissions_layout", c.emissions_layout, one_of({"2.3.4", "3.3.0"}));
  v("powercap_root", c.powercap_root, Rule<std::string>());
  v("perf_root", c.perf_root, Rule<std::string>());
  v("proc_root", c.proc_root, Rule<std::string>());
  v("nvml_library", c.nvml_library, Rule<std::string>());
  v("project_name", c.project_name, Rule<std::string>());
  v("experiment_name", c.experiment_name, Rule<std::string>());
  v("rapl_include_dram", c.rapl_include_dram, Rule<bool>());
  v("ram_source", c.ram_source, one_of({"auto", "model"}));
  v("force_ram_power_w", c.force_ram_power_w, non_negative_number());
  v("gpu_poll_interval_s", c.gpu_poll_interval_s, Rule<double>([](const double& s) {
      return s >= 0.01 && s <= 10 ? "" : "must be between 0.01 and 10 seconds";
    }));
  v("min_reliable_window_s", c.min_reliable_window_s, non_negative_number());
  v("checkpoint_interval_s", c.checkpoint_interval_s,
    Rule<double>([](const double& s) { return s >= 1 ? "" : "must be at least 1 second"; }));
  v("intensity_vintage", c.intensity_vintage, one_of({"latest", "codecarbon-2.3.4"}));
  v("tracking_mode", c.tracking_mode, one_of({"machine", "process"}));
}

template <class V>
void visit(StoppingConfig& c, V& v) {
  v("patience", c.patience, non_negative());
  v("energy_budget_kwh", c.energy_budget_kwh, non_negative_number());
  v("target_f1", c.target_f1, in_range(0.0, 1.0));
  v("min_f1_gain_per_kwh", c.min_f1_gain_per_kwh, non_negative_number());
  v("gain_window", c.gain_window, positive());
  v("min_relative_improvement", c.min_relative_improvement, non_negative_number());
}

template <class V>
void visit(RunConfig& c, V& v) {
  v("name", c.name, Rule<std::string>([](const std::string& s) {
      return s.find('/') == std::string::npos ? "" : "must be a plain name without '/'";
    }));
  v("dir", c.dir, Rule<std::string>());
  v("threads", c.threads, non_negative());
  v("checkpoint_every_epochs", c.checkpoint_every_epochs, positive());
  v("f1_variant", c.f1_variant, one_of({"0.5", "0.7"}, "DTC = GTC of the monitored F1"));
}

template <class V>
void visit(SynthConfig& c, V& v) {
  v("out_dir", c.out_dir, Rule<std::string>());
  v("seed", c.seed, Rule<int64_t>());
  v("n_synth_train", c.n_synth_train, non_negative());
  v("n_synth_val", c.n_synth_val, non_negative());
  v("n_weak", c.n_weak, non_negative());
  v("n_unlabeled", c.n_unlabeled, non_negative());
  v("n_test", c.n_test, non_negative());
  v("sources_dir", c.sources_dir, Rule<std::string>());
}

template <class V>
void visit_sections(Config& c, V& v) {
  v.section("training", c.training);
  v.section("scaler", c.scaler);
  v.section("data", c.data);
  v.section("opt", c.opt);
  v.section("feats", c.feats);
  v.section("net", c.net);
  v.section("features", c.features);
  v.section("energy", c.energy);
  v.section("stopping", c.stopping);
  v.section("run", c.run);
  v.section("synth", c.synth);
}

// Where a node came from, for messages: "FILE:LINE" or "--set KEY=VALUE".
struct Origins {
  std::string file;
  std::map<std::string, std::string> overrides;  // "section.key" -> "--set section.key=value"

  std::string of(const std::string& dotted_key, const YAML::Node& node) const {
    const auto it = overrides.find(dotted_key);
    if (it != overrides.end()) return it->second;
    if (node.IsDefined() && node.Mark().line >= 0) {
      return fmt::format("{}:{}", file, node.Mark().line + 1);
    }
    return file;
  }
};

class Parser {
 public:
  Parser(const YAML::Node& root, const Origins& origins, std::vector<std::string>& warnings)
      : root_(root), origins_(origins), warnings_(warnings) {}

  template <class S>
  void section(const char* name, S& s) {
    known_sections_.insert(name);
    const YAML::Node node = root_[name];
    if (!node.IsDefined() || node.IsNull()) return;
    if (!node.IsMap()) {
      throw InputError(fmt::format("{}: section '{}' must be a mapping of keys, found {}",
                                   origins_.of(name, node), name, node_text(node)));
    }
    section_ = name;
    node_ = node;
    keys_.clear();
    visit(s, *this);
    for (const auto& kv : node) {
      const std::string key = key_text(kv.first);
      if (!keys_.count(key)) {
        warnings_.push_back(fmt::format("{}: unknown key '{}.{}' is ignored (known keys: {})",
                                        origins_.of(section_ + "." + key, kv.first), section_, key,
                                        join(keys_)));
      }
    }
  }

  template <class T>
  void operator()(const char* key, T& field, const Rule<T>& rule) {
    keys_.insert(key);
    const YAML::Node n = node_[key];
    if (!n.IsDefined()) return;
    const std::string dotted = section_ + "." + key;
    T value{};
    if (!convert_value(n, value)) {
      throw InputError(fmt::format("{}: {}: expected {}, found {}", origins_.of(dotted, n), dotted,
                                   expected_type<T>(), node_text(n)));
    }
    if (rule) {
      const std::string broken = rule(value);
      if (!broken.empty()) {
        throw InputError(fmt::format("{}: {}: {}; found {}", origins_.of(dotted, n), dotted, broken,
                                     node_text(n)));
      }
    }
    field = std::move(value);
  }

  void check_unknown_sections() {
    for (const auto& kv : root_) {
      const std::string name = key_text(kv.first);
      if (!known_sections_.count(name)) {
        warnings_.push_back(fmt::format("{}: unknown section '{}' is ignored (known sections: {})",
                                        origins_.of(name, kv.first), name, join(known_sections_)));
      }
    }
  }

 private:
  static std::string join(const std::set<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  const YAML::Node& root_;
  const Origins& origins_;
  std::vector<std::string>& warnings_;
  std::set<std::string> known_sections_;
  std::set<std::string> keys_;
  std::string section_;
  YAML::Node node_;
};

class Emitter {
 public:
  explicit Emitter(YAML::Emitter& out) : out_(out) {}
  template <class S>
  void section(const char* name, S& s) {
    out_ << YAML::Key << name << YAML::Value << YAML::BeginMap;
    visit(s, *this);
    out_ << YAML::EndMap;
  }
  template <class T>
  void operator()(const char* key, T& field, const Rule<T>&) {
    out_ << YAML::Key << key << YAML::Value;
    emit_value(out_, field);
  }

 private:
  YAML::Emitter& out_;
};

// Each key as ("section.key", the value in YAML flow syntax), for comparing two configs.
class FlatEmitter {
 public:
  explicit FlatEmitter(std::vector<std::pair<std::string, std::string>>& out) : out_(out) {}
  template <class S>
  void section(const char* name, S& s) {
    section_ = name;
    visit(s, *this);
  }
  template <class T>
  void operator()(const char* key, T& field, const Rule<T>&) {
    YAML::Emitter e;
    e << YAML::Flow;
    emit_value(e, field);
    out_.emplace_back(section_ + "." + key, e.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::string>>& out_;
  std::string section_;
};

void apply_override(YAML::Node& root, const std::string& text, Origins& origins) {
  const std::string example = "expected section.key=value, e.g. --set training.n_epochs=10";
  const auto eq = text.find('=');
  if (eq == std::string::npos) throw InputError(fmt::format("--set {}: {}", text, example));
  const std::string dotted = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  const auto dot = dotted.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == dotted.size() ||
      dotted.find('.', dot + 1) != std::string::npos) {
    throw InputError(fmt::format("--set {}: {}", text, example));
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("--set {}: the value is not valid YAML ({})", text, e.msg));
  }
  const std::string section = dotted.substr(0, dot);
  const std::string key = dotted.substr(dot + 1);
  const YAML::Node existing = root[section];
  if (!existing.IsDefined() || existing.IsNull()) {
    root[section] = YAML::Node(YAML::NodeType::Map);
  } else if (!existing.IsMap()) {
    // yaml-cpp would throw its own exception on a scalar (exit 3) and silently turn a sequence
    // into a mapping; say what is wrong instead, as the parser does without the override.
    throw InputError(
        fmt::format("{}: section '{}' must be a mapping of keys, found {} (so --set {} cannot "
                    "set a key in it)",
                    origins.of(section, existing), section, node_text(existing), text));
  }
  root[section][key] = parsed;
  origins.overrides[dotted] = "--set " + text;
  origins.overrides.emplace(section, "--set " + text);
}

void check_cross_fields(const Config& c, const std::string& origin) {
  const auto fail = [&](const std::string& msg) { throw InputError(origin + ": " + msg); };
  try {
    validate_net(c.net, NetUse::kCount);
  } catch (const InputError& e) {
    fail(e.what());
  }
  if (c.feats.f_min >= c.feats.f_max) {
    fail(fmt::format("feats.f_min must be below feats.f_max; found f_min {} and f_max {}",
                     c.feats.f_min, c.feats.f_max));
  }
  if (c.feats.f_max > c.feats.sample_rate / 2.0) {
    fail(fmt::format("feats.f_max must be at most half of feats.sample_rate ({} Hz); found {}",
                     c.feats.sample_rate / 2.0, c.feats.f_max));
  }
  if (c.feats.hop_length > c.feats.n_window) {
    fail(fmt::format("feats.hop_length must not exceed feats.n_window ({}); found {}",
                     c.feats.n_window, c.feats.hop_length));
  }
}

// PyYAML, which the reference recipe loads its YAML with, keeps the LAST of duplicate keys in a
// mapping; yaml-cpp keeps both and its lookup finds the first. Rebuilds every mapping that has
// duplicates with the last value of each key (in the order keys first appear), and warns with
// both line numbers. Nodes without duplicates are returned as they are (marks kept for messages).
YAML::Node last_duplicate_wins(const YAML::Node& node, const std::string& prefix,
                               const std::string& origin, std::vector<std::string>& warnings) {
  if (node.IsSequence()) {
    std::vector<YAML::Node> items;
    bool changed = false;
    for (const auto& item : node) {
      items.push_back(last_duplicate_wins(item, prefix, origin, warnings));
      changed = changed || !items.back().is(item);
    }
    if (!changed) return node;
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : items) out.push_back(item);
    return out;
  }
  if (!node.IsMap()) return node;
  struct Entry {
    std::string name;
    YAML::Node key, value;
  };
  std::vector<Entry> entries;
  std::map<std::string, size_t> last;  // key text -> index in `entries` of its last occurrence
  std::vector<std::string> order;      // key texts in order of first appearance
  bool changed = false;
  for (const auto& kv : node) {
    const std::string name = key_text(kv.first);
    const std::string dotted = prefix.empty() ? name : prefix + "." + name;
    entries.push_back({name, kv.first, last_duplicate_wins(kv.second, dotted, origin, warnings)});
    changed = changed || !entries.back().value.is(kv.second);
    const auto it = last.find(name);
    if (it == last.end()) {
      order.push_back(name);
      last.emplace(name, entries.size() - 1);
      continue;
    }
    changed = true;
    const YAML::Node& before = entries[it->second].key;
    warnings.push_back(fmt::format(
        "{}:{}: duplicate key '{}' (also on line {}); the last one is used, as PyYAML (the "
        "recipe's loader) does: delete one of them",
        origin, kv.first.Mark().line + 1, dotted, before.Mark().line + 1));
    it->second = entries.size() - 1;
  }
  if (!changed) return node;
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& name : order) {
    const Entry& e = entries[last.at(name)];
    out.force_insert(e.key, e.value);
  }
  return out;
}

LoadedConfig parse_root(YAML::Node root, Origins origins,
                        const std::vector<std::string>& overrides) {
  if (root.IsNull() || !root.IsDefined()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) {
    throw InputError(fmt::format("{}: a config must be a mapping of sections (training, data, ...)",
                                 origins.file));
  }
  LoadedConfig loaded;
  root = last_duplicate_wins(root, "", origins.file, loaded.warnings);
  for (const auto& text : overrides) apply_override(root, text, origins);
  Parser parser(root, origins, loaded.warnings);
  visit_sections(loaded.config, parser);
  parser.check_unknown_sections();
  check_cross_fields(loaded.config, origins.file);
  if (loaded.config.net.rnn_layers != 2) {
    loaded.warnings.push_back(fmt::format(
        "{}: net.rnn_layers is {} but, as in the reference recipe, it is ignored: the CRNN always "
        "has 2 GRU layers",
        origins.file, loaded.config.net.rnn_layers));
  }
  loaded.config.source_path = origins.file;
  return loaded;
}

}  // namespace

LoadedConfig parse_config(const std::string& yaml_text, const std::string& origin,
                          const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}:{}: not valid YAML: {}", origin, e.mark.line + 1,
                                 e.mark.column + 1, e.msg));
  }
  return parse_root(root, Origins{origin, {}}, overrides);
}

LoadedConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  errno = 0;
  std::ifstream in(path);
  if (!in) {
    const int err = errno;  // from open(2)
    throw InputError(fmt::format(
        "{}: cannot open the config file ({}); pass an existing YAML file, e.g. configs/demo.yaml",
        path,
        err == ENOENT   ? std::string("no such file")
        : err == EACCES ? std::string("permission denied")
                        : std::string(err ? std::strerror(err) : "unknown reason")));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, overrides);
}

std::string config_to_yaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  Emitter emitter(out);
  visit_sections(const_cast<Config&>(config), emitter);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::pair<std::string, std::string>> config_entries(const Config& config) {
  std::vector<std::pair<std::string, std::string>> out;
  FlatEmitter emitter(out);
  visit_sections(const_cast<Config&>(config), emitter);
  return out;
}

std::vector<int> batch_composition(int total_batch) {
  if (total_batch <= 0 || total_batch % 4 != 0) {
    throw InputError(fmt::format(
        "batch size {} must be a positive multiple of 4 (1/4 synthetic, 1/4 weak, 1/2 unlabelled)",
        total_batch));
  }
  return {total_batch / 4, total_batch / 4, total_batch / 2};
}

}  // namespace greensed::core
