// THE validation of the net section: the CRNN variants greensed builds (the recipe's architecture,
// sizes free). Config loading, model::Crnn and model::complexity all call it.
#include <fmt/format.h>

#include <string>

#include "greensed/core/error.hpp"
#include "greensed/core/net_config.hpp"

namespace greensed::core {

void validate_net(const NetConfig& net, NetUse use) {
  const auto fail = [](const std::string& key, const std::string& rule, const std::string& found) {
    throw InputError(fmt::format("net.{}: {}; found {}", key, rule, found));
  };
  const size_t n = net.nb_filters.size();
  if (net.kernel_size.size() != n || net.padding.size() != n || net.stride.size() != n ||
      net.pooling.size() != n) {
    throw InputError(fmt::format(
        "net.nb_filters, net.kernel_size, net.padding, net.stride and net.pooling must have one "
        "entry per CNN block; found {}, {}, {}, {} and {} entries",
        n, net.kernel_size.size(), net.padding.size(), net.stride.size(), net.pooling.size()));
  }
  if (n == 0) fail("nb_filters", "the CRNN needs at least one CNN block", "an empty list");
  for (size_t i = 0; i < n; ++i) {
    if (net.nb_filters[i] < 1)
      fail("nb_filters", "every entry must be a positive channel count",
           fmt::format("{} at index {}", net.nb_filters[i], i));
    if (net.kernel_size[i] != 3)
      fail("kernel_size", "greensed's convolutions are 3x3 (every entry must be 3)",
           fmt::format("{} at index {}", net.kernel_size[i], i));
    if (net.padding[i] != 1)
      fail("padding", "greensed's convolutions use zero padding 1 (every entry must be 1)",
           fmt::format("{} at index {}", net.padding[i], i));
    if (net.stride[i] != 1)
      fail("stride", "greensed's convolutions use stride 1 (every entry must be 1)",
           fmt::format("{} at index {}", net.stride[i], i));
    if (net.pooling[i].size() != 2 || net.pooling[i][0] < 1 || net.pooling[i][1] < 1)
      fail("pooling", "every entry must be a [time, frequency] pair of positive integers",
           fmt::format("entry {} with {} values", i, net.pooling[i].size()));
  }
  if (net.activation != "glu")
    fail("activation", "greensed implements the baseline's 'glu'", "'" + net.activation + "'");
  if (net.rnn_type != "BGRU")
    fail("rnn_type", "greensed implements the baseline's 'BGRU'", "'" + net.rnn_type + "'");
  if (!(net.dropout >= 0.0 && net.dropout < 1.0))
    fail("dropout", "must be in [0, 1)", fmt::format("{}", net.dropout));
  if (net.n_RNN_cell < 1) fail("n_RNN_cell", "must be positive", std::to_string(net.n_RNN_cell));
  if (net.nclass < 1) fail("nclass", "must be positive", std::to_string(net.nclass));
  if (net.n_in_channel < 1)
    fail("n_in_channel", "must be positive", std::to_string(net.n_in_channel));
  if (use == NetUse::kCount) return;
  if (net.n_in_channel != 1)
    fail("n_in_channel", "the CRNN takes one log-mel channel (1)",
         std::to_string(net.n_in_channel));
  if (!net.attention)
    fail("attention", "greensed implements the baseline's attention head (True)", "False");
  if (net.dropout_recurrent != 0.0)
    fail("dropout_recurrent", "the baseline has no dropout between GRU layers (0)",
         fmt::format("{}", net.dropout_recurrent));
}

}  // namespace greensed::core
