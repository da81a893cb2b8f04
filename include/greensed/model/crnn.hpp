// The DCASE 2022 task 4 baseline CRNN (DESED_task f0161eb, spec desed_baseline §3), hand-written:
// 7 CNN blocks (Conv2d 3x3 pad 1 → BatchNorm2d(eps 1e-3, momentum 0.99) → "GLU" (Linear over
// channels × sigmoid(input)) → Dropout → AvgPool2d floor) → 2-layer bidirectional GRU (PyTorch gate
// order r, z, n; reset gate applied after the recurrent product) → Dropout → strong head
// (Linear + sigmoid) and attention head (Linear + softmax over classes, clamped to [1e-7, 1]) →
// weak = Σ_t s·a / Σ_t a.
//
// Dimension letters: B batch, C channels, T frames, F mel bins, H GRU hidden, K classes.
// Input  x      [B, F, T]  (the recipe's CRNN.forward input: scaled log-mel, mel-major per clip)
// Output strong [B, K, T'] (T' = T pooled by the product of the time poolings, 626 → 156)
//        weak   [B, K]
//
// Parameters live in ONE flat buffer, in the order and memory layout of the recipe's PyTorch
// state_dict (parameters only, buffers skipped), with a gradient buffer of the same layout.
// BatchNorm running statistics live in a separate float buffer (running_mean then running_var per
// block) plus one int64 num_batches_tracked per block. Tensor names are the recipe's state_dict
// names without the `sed_student.` / `sed_teacher.` prefix (tests/data/model/crnn_tensor_names.txt
// lists every name, kind, dtype and shape for the default config, in state_dict order):
//
//   cnn.cnn.conv{i}.weight                  [C_out, C_in, 3, 3]   parameter
//   cnn.cnn.conv{i}.bias                    [C_out]               parameter
//   cnn.cnn.batchnorm{i}.weight             [C_out]               parameter (γ)
//   cnn.cnn.batchnorm{i}.bias               [C_out]               parameter (β)
//   cnn.cnn.batchnorm{i}.running_mean       [C_out]               buffer (float32)
//   cnn.cnn.batchnorm{i}.running_var        [C_out]               buffer (float32)
//   cnn.cnn.batchnorm{i}.num_batches_tracked  scalar              buffer (int64)
//   cnn.cnn.glu{i}.linear.weight            [C_out, C_out]        parameter
//   cnn.cnn.glu{i}.linear.bias              [C_out]               parameter
//   rnn.rnn.weight_ih_l{l}[_reverse]        [3H, I_l]             parameter (rows r, z, n)
//   rnn.rnn.weight_hh_l{l}[_reverse]        [3H, H]               parameter
//   rnn.rnn.bias_ih_l{l}[_reverse]          [3H]                  parameter
//   rnn.rnn.bias_hh_l{l}[_reverse]          [3H]                  parameter
//   dense.weight [K, 2H], dense.bias [K], dense_softmax.weight [K, 2H], dense_softmax.bias [K]
//
// (Per GRU layer the order is weight_ih, weight_hh, bias_ih, bias_hh, then the same _reverse.)
// Default config: 1,112,420 parameters (spec §3.7).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "greensed/core/config.hpp"
#include "greensed/core/rng.hpp"

namespace greensed::model {

enum class TensorKind { kParameter, kBuffer };

// A view of one named tensor inside the model's flat buffers (PyTorch layout, row-major).
// Exactly one of `data` (float32) and `data_i64` (num_batches_tracked) is set.
struct NamedTensor {
  std::string name;            // e.g. "cnn.cnn.conv0.weight" (no sed_student./sed_teacher. prefix)
  std::vector<int64_t> shape;  // PyTorch shape; empty for a scalar
  TensorKind kind = TensorKind::kParameter;
  float* data = nullptr;
  int64_t* data_i64 = nullptr;
  int64_t numel() const;
};

// Train: dropout on (masks from the given stream), BatchNorm normalises with the biased batch
// variance and updates running_mean/var (PyTorch momentum 0.99: running = 0.01·running +
// 0.99·batch, unbiased variance for running_var) and num_batches_tracked.
// Eval: no dropout, BatchNorm uses the running statistics.
enum class Mode { kTrain, kEval };

class CrnnImpl;

class Crnn {
 public:
  explicit Crnn(const core::NetConfig& net);
  ~Crnn();
  Crnn(Crnn&&) noexcept;
  Crnn& operator=(Crnn&&) noexcept;

  const core::NetConfig& net() const;
  int n_classes() const;
  // The product of the frequency poolings (128): forward accepts any F that pools to exactly one
  // bin, F in [n_mels(), 2·n_mels() − 1], as the recipe's CRNN does.
  int n_mels() const;
  int frames_out(int n_frames) const;  // T' for T input frames (626 → 156)

  // Flat parameter and gradient buffers (same layout), and the BatchNorm running statistics.
  std::span<float> params();
  std::span<const float> params() const;
  std::span<float> grads();
  std::span<float> bn_stats();              // per block: running_mean [C], running_var [C]
  std::span<int64_t> bn_batches_tracked();  // per block: num_batches_tracked
  int64_t n_params() const;

  // Every tensor of the state_dict in PyTorch order, pointing into the buffers above.
  std::vector<NamedTensor> named_tensors();

  // PyTorch default initialisation (spec §3.6): conv/linear weights and biases and every GRU
  // tensor ~ U(-1/√fan_in, 1/√fan_in), γ = 1, β = 0, running_mean = 0, running_var = 1,
  // num_batches_tracked = 0. Draws from `rng` (not PyTorch's stream).
  void init_parameters(core::RngStream& rng);

  // Forward on x [B, F, T] (F = n_mels). Results are valid until the next forward. In train mode
  // dropout masks come from `dropout_rng` (its counter advances by the blocks used); a null stream
  // runs train mode without dropout (golden comparisons). `keep_for_backward` caches
  // what backward needs (train mode only; a teacher passes false and uses less memory). Throws
  // InputError when F does not pool to one bin. Runs on core::num_threads() threads.
  void forward(const float* x, int batch, int n_mels, int n_frames, Mode mode,
               core::RngStream* dropout_rng, bool keep_for_backward);
  const float* strong() const;  // [B, K, T']
  const float* weak() const;    // [B, K]

  // Backward of the last forward (which must have kept its caches): ACCUMULATES (+=) into grads().
  // grad_strong [B, K, T'] and grad_weak [B, K]; either may be null (= zero).
  void backward(const float* grad_strong, const float* grad_weak);

  // grads() = 0.
  void zero_grad();

  // Makes `other` use this model's scratch workspace (the per-thread scratch, the largest
  // activation-sized buffer: conv outputs of a forward, a backward's BN-output gradients, and the
  // two activation slots of a forward that keeps nothing). A teacher forward may run between its
  // student's forward and backward; the two must not run concurrently.
  void share_workspace(Crnn& other);

  // Bytes held by activations and workspaces (for the benchmark's memory report).
  int64_t workspace_bytes() const;

 private:
  std::unique_ptr<CrnnImpl> impl_;
};

}  // namespace greensed::model
