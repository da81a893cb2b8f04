#include "greensed/model/complexity.hpp"

#include <fmt/format.h>

#include <cmath>

#include "greensed/core/error.hpp"
#include "greensed/core/net_config.hpp"
#include "greensed/kernels/winograd.hpp"

namespace greensed::model {

int64_t Complexity::cnn_params() const {
  int64_t n = 0;
  for (const auto& b : cnn) n += b.params();
  return n;
}
int64_t Complexity::cnn_macs() const {
  int64_t n = 0;
  for (const auto& b : cnn) n += b.macs();
  return n;
}
int64_t Complexity::rnn_params() const {
  int64_t n = 0;
  for (const auto& l : rnn) n += l.params;
  return n;
}
int64_t Complexity::rnn_macs() const {
  int64_t n = 0;
  for (const auto& l : rnn) n += l.macs;
  return n;
}
int64_t Complexity::total_params() const {
  return cnn_params() + rnn_params() + dense_params + dense_softmax_params;
}
int64_t Complexity::total_macs() const {
  return cnn_macs() + rnn_macs() + dense_macs + dense_softmax_macs + softmax_macs;
}

Complexity complexity(const core::NetConfig& net, int n_frames, int n_mels) {
  core::validate_net(net, core::NetUse::kCount);
  const size_t n_blocks = net.nb_filters.size();

  Complexity c;
  int channels = net.n_in_channel, t = n_frames, f = n_mels;
  for (size_t i = 0; i < n_blocks; ++i) {
    CnnBlockComplexity b;
    const int64_t k = net.kernel_size[i], p = net.padding[i], s = net.stride[i];
    const int pool_t = net.pooling[i].at(0), pool_f = net.pooling[i].at(1);
    b.c_in = channels;
    b.c_out = net.nb_filters[i];
    b.t_in = t;
    b.f_in = f;
    const int64_t t_conv = (t + 2 * p - k) / s + 1, f_conv = (f + 2 * p - k) / s + 1;
    b.t_out = static_cast<int>(t_conv / pool_t);
    b.f_out = static_cast<int>(f_conv / pool_f);
    if (t_conv < 1 || f_conv < 1 || b.t_out < 1 || b.f_out < 1) {
      throw core::InputError(fmt::format(
          "net.pooling: an input of {} frames × {} mel bins leaves no frames or bins after CNN "
          "block {} ({} × {} before pooling {} × {}); use longer clips or less pooling",
          n_frames, n_mels, i, t_conv, f_conv, pool_t, pool_f));
    }
    const int64_t conv_out = b.c_out * t_conv * f_conv;  // BN and GLU keep this shape
    b.conv_params = b.c_out * b.c_in * k * k + b.c_out;
    b.bn_params = 2 * b.c_out;
    b.glu_params = int64_t{b.c_out} * b.c_out + b.c_out;
    b.conv_macs = conv_out * b.c_in * k * k;
    b.bn_macs = 4 * conv_out;
    b.glu_macs = conv_out * b.c_out;
    b.pool_macs = int64_t{b.c_out} * b.t_out * b.f_out;
    c.bn_buffers += 2 * b.c_out + 1;
    c.cnn.push_back(b);
    channels = b.c_out;
    t = b.t_out;
    f = b.f_out;
  }
  c.n_frames_out = t;

  const int64_t hidden = net.n_RNN_cell;
  int64_t input = int64_t{channels} * f;  // channels × remaining bins, flattened per frame
  for (int layer = 0; layer < kRnnLayers; ++layer) {
    GruLayerComplexity g;
    g.input_size = static_cast<int>(input);
    g.hidden = static_cast<int>(hidden);
    g.params = 2 * (3 * hidden * input + 3 * hidden * hidden + 2 * 3 * hidden);
    g.macs = 2 * (3 * (hidden + input) * hidden + 13 * hidden) * t;
    c.rnn.push_back(g);
    input = 2 * hidden;
  }

  const int64_t k_classes = net.nclass;
  c.n_classes = net.nclass;
  c.dense_params = 2 * hidden * k_classes + k_classes;
  c.dense_macs = 2 * hidden * k_classes * t;
  if (net.attention) {
    c.dense_softmax_params = c.dense_params;
    c.dense_softmax_macs = c.dense_macs;
    c.softmax_macs = int64_t{t} * (3 * k_classes - 1);
  }
  return c;
}

std::string complexity_table(const Complexity& c) {
  std::string out =
      fmt::format("{:<14} {:>16} {:>10} {:>14} {:>12} {:>14} {:>10} {:>14}\n", "part", "output",
                  "params", "conv MACs", "BN MACs", "GLU MACs", "pool MACs", "MACs");
  for (size_t i = 0; i < c.cnn.size(); ++i) {
    const auto& b = c.cnn[i];
    out += fmt::format("{:<14} {:>16} {:>10} {:>14} {:>12} {:>14} {:>10} {:>14}\n",
                       fmt::format("cnn block {}", i),
                       fmt::format("{}x{}x{}", b.c_out, b.t_out, b.f_out), b.params(), b.conv_macs,
                       b.bn_macs, b.glu_macs, b.pool_macs, b.macs());
  }
  const auto row = [&](const std::string& part, const std::string& shape, int64_t params,
                       int64_t macs) {
    out += fmt::format("{:<14} {:>16} {:>10} {:>14} {:>12} {:>14} {:>10} {:>14}\n", part, shape,
                       params, "", "", "", "", macs);
  };
  row("cnn total", "", c.cnn_params(), c.cnn_macs());
  for (size_t l = 0; l < c.rnn.size(); ++l) {
    row(fmt::format("gru layer {}", l), fmt::format("{}x{}", c.n_frames_out, 2 * c.rnn[l].hidden),
        c.rnn[l].params, c.rnn[l].macs);
  }
  const int n_classes = c.n_classes;
  row("dense", fmt::format("{}x{}", c.n_frames_out, n_classes), c.dense_params, c.dense_macs);
  if (c.dense_softmax_params > 0) {
    row("dense_softmax", fmt::format("{}x{}", c.n_frames_out, n_classes), c.dense_softmax_params,
        c.dense_softmax_macs);
    row("softmax", "", 0, c.softmax_macs);
  }
  row("total", "", c.total_params(), c.total_macs());
  return out;
}

namespace {

double macs_per_clip(const core::NetConfig& net, int n_mels, int n_frames, bool executed) {
  double macs = 0.0;
  int c_in = net.n_in_channel, t = n_frames, f = n_mels;
  for (size_t i = 0; i < net.nb_filters.size(); ++i) {
    const double c = net.nb_filters[i];
    const int m = executed ? kernels::conv3x3_winograd_tile(c_in, int(c), t, f) : 0;
    const double tf_products =
        m > 0 ? double(m + 2) * (m + 2) * ((t + m - 1) / m) * ((f + m - 1) / m) : 9.0 * t * f;
    macs += c * c_in * tf_products + c * c * t * f;  // conv + GLU linear
    c_in = net.nb_filters[i];
    t /= net.pooling[i][0], f /= net.pooling[i][1];
  }
  const double h = net.n_RNN_cell;
  for (int l = 0; l < 2; ++l) {
    const double in = l == 0 ? double(c_in) * f : 2.0 * h;
    macs += 2.0 * t * 3.0 * h * (in + h);
  }
  macs += 2.0 * t * 2.0 * h * net.nclass;
  return macs;
}

}  // namespace

double forward_macs_per_clip(const core::NetConfig& net, int n_mels, int n_frames) {
  return macs_per_clip(net, n_mels, n_frames, false);
}

double executed_forward_macs_per_clip(const core::NetConfig& net, int n_mels, int n_frames) {
  return macs_per_clip(net, n_mels, n_frames, true);
}

}  // namespace greensed::model
