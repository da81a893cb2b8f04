// greensed model-info: the CRNN's parameter count and its multiply-accumulates for one clip,
// counted per block with thop's rules (the two numbers DCASE asks every participant to report).
#include <fmt/format.h>

#include "command.hpp"
#include "greensed/core/error.hpp"
#include "greensed/features/cache.hpp"
#include "greensed/model/complexity.hpp"

namespace greensed::cli {
namespace {

// 1112420 → "1,112,420"
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  const int first = static_cast<int>(digits.size()) % 3;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (static_cast<int>(i) - first) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

int run_model_info(const std::vector<std::string>& args) {
  std::string config_path;
  std::vector<std::string> overrides;
  double seconds = 0.0;
  ArgParser parser("model-info",
                   "print the CRNN's parameters and MACs (thop rules) for a clip, per block");
  parser.config_options(&config_path, &overrides, /*required=*/false);
  parser.option("--seconds", &seconds, "S", "clip length (default: data.audio_max_len, 10 s)");
  if (!parser.parse(args)) return kExitOk;
  const core::Config config = config_path.empty()
                                  ? core::parse_config("", "built-in defaults", overrides).config
                                  : load_config_logged(config_path, overrides).config;
  if (seconds == 0.0) seconds = config.data.audio_max_len;
  if (!(seconds > 0.0)) {
    throw core::InputError(fmt::format("--seconds: must be positive; found {}", seconds));
  }
  const int n_frames = features::network_input_frames(config, seconds);
  const model::Complexity c = model::complexity(config.net, n_frames, config.feats.n_mels);

  fmt::print("CRNN of {}: input {} frames x {} mel bins ({} s at {} Hz, hop {})\n\n",
             config_path.empty() ? "the built-in default config" : config_path, n_frames,
             config.feats.n_mels, seconds, config.feats.sample_rate, config.feats.hop_length);
  fmt::print("{}\n", model::complexity_table(c));
  fmt::print(
      "parameters: {} per model (a checkpoint holds student and teacher: {}; plus {} "
      "BatchNorm buffers each)\n",
      grouped(c.total_params()), grouped(2 * c.total_params()), grouped(c.bn_buffers));
  fmt::print("MACs: {} ({:.3f} M) for {} s of audio, thop rules\n", grouped(c.total_macs()),
             c.total_macs() / 1e6, seconds);
  return kExitOk;
}

const Registrar registrar({"model-info",
                           "print the CRNN's parameters and MACs (thop rules) for a clip",
                           run_model_info});

}  // namespace
}  // namespace greensed::cli
