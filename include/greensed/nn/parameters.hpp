// The parameter store (llm.c / dlib style): every trainable tensor of a model lives in ONE flat
// float buffer, with a gradient buffer of the same layout, so zeroing, Adam, the EMA teacher and
// checkpoints are each one loop over a span. Non-trainable state (BatchNorm running statistics)
// lives in a separate float buffer and int64 counters. Layers register their tensors in the
// constructor (the registration order is the state_dict order) and keep the returned handles;
// the buffers are allocated once, by allocate(), after every layer has registered.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "greensed/core/rng.hpp"

namespace greensed::nn {

enum class Storage { kParameter, kBuffer, kCounter };

// How init() fills a tensor: uniform in [-bound, bound], or a constant.
struct Init {
  enum Kind { kUniform, kConstant } kind = kConstant;
  float value = 0.0f;  // bound for kUniform
  static Init uniform(float bound) { return {kUniform, bound}; }
  static Init constant(float value) { return {kConstant, value}; }
};

struct TensorHandle {
  Storage storage = Storage::kParameter;
  int64_t offset = 0;  // into the buffer of its storage kind
  int64_t size = 0;
};

struct TensorEntry {
  std::string name;
  std::vector<int64_t> shape;  // empty = scalar
  TensorHandle handle;
  Init init;
};

class ParameterStore {
 public:
  TensorHandle add_parameter(const std::string& name, std::vector<int64_t> shape, Init init);
  TensorHandle add_buffer(const std::string& name, std::vector<int64_t> shape, Init init);
  TensorHandle add_counter(const std::string& name);
  // Allocates the buffers (parameters and gradients zeroed); no registration after this.
  void allocate();

  float* value(TensorHandle h);
  const float* value(TensorHandle h) const;
  float* grad(TensorHandle h);
  int64_t* counter(TensorHandle h);

  std::span<float> values() { return values_; }
  std::span<const float> values() const { return values_; }
  std::span<float> grads() { return grads_; }
  std::span<float> buffers() { return buffers_; }
  std::span<int64_t> counters() { return counters_; }
  const std::vector<TensorEntry>& entries() const { return entries_; }
  int64_t n_parameters() const { return n_values_; }

  // Fills every tensor by its Init rule (uniform draws in registration order) and zeroes counters.
  void init(core::RngStream& rng);

 private:
  TensorHandle add(const std::string& name, std::vector<int64_t> shape, Init init, Storage s);
  std::vector<TensorEntry> entries_;
  int64_t n_values_ = 0, n_buffers_ = 0, n_counters_ = 0;
  bool allocated_ = false;
  std::vector<float> values_, grads_, buffers_;
  std::vector<int64_t> counters_;
};

}  // namespace greensed::nn
