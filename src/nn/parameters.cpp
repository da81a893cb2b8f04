#include "greensed/nn/parameters.hpp"

#include <algorithm>

#include "greensed/core/error.hpp"

namespace greensed::nn {

TensorHandle ParameterStore::add(const std::string& name, std::vector<int64_t> shape, Init init,
                                 Storage s) {
  GREENSED_CHECK(!allocated_, "tensor {} registered after allocate()", name);
  int64_t size = 1;
  for (int64_t d : shape) size *= d;
  int64_t& cursor = s == Storage::kParameter ? n_values_
                    : s == Storage::kBuffer  ? n_buffers_
                                             : n_counters_;
  TensorHandle h{s, cursor, size};
  cursor += size;
  entries_.push_back({name, std::move(shape), h, init});
  return h;
}

TensorHandle ParameterStore::add_parameter(const std::string& name, std::vector<int64_t> shape,
                                           Init init) {
  return add(name, std::move(shape), init, Storage::kParameter);
}
TensorHandle ParameterStore::add_buffer(const std::string& name, std::vector<int64_t> shape,
                                        Init init) {
  return add(name, std::move(shape), init, Storage::kBuffer);
}
TensorHandle ParameterStore::add_counter(const std::string& name) {
  return add(name, {}, Init::constant(0.0f), Storage::kCounter);
}

void ParameterStore::allocate() {
  GREENSED_CHECK(!allocated_, "allocate() called twice");
  values_.assign(n_values_, 0.0f);
  grads_.assign(n_values_, 0.0f);
  buffers_.assign(n_buffers_, 0.0f);
  counters_.assign(n_counters_, 0);
  allocated_ = true;
}

float* ParameterStore::value(TensorHandle h) {
  GREENSED_CHECK(allocated_ && h.storage != Storage::kCounter,
                 "value() of an unallocated or counter tensor");
  return (h.storage == Storage::kParameter ? values_.data() : buffers_.data()) + h.offset;
}
const float* ParameterStore::value(TensorHandle h) const {
  GREENSED_CHECK(allocated_ && h.storage != Storage::kCounter,
                 "value() of an unallocated or counter tensor");
  return (h.storage == Storage::kParameter ? values_.data() : buffers_.data()) + h.offset;
}
float* ParameterStore::grad(TensorHandle h) {
  GREENSED_CHECK(allocated_ && h.storage == Storage::kParameter, "grad() of a non-parameter");
  return grads_.data() + h.offset;
}
int64_t* ParameterStore::counter(TensorHandle h) {
  GREENSED_CHECK(allocated_ && h.storage == Storage::kCounter, "counter() of a float tensor");
  return counters_.data() + h.offset;
}

void ParameterStore::init(core::RngStream& rng) {
  for (const auto& e : entries_) {
    if (e.handle.storage == Storage::kCounter) {
      *counter(e.handle) = 0;
      continue;
    }
    float* v = value(e.handle);
    if (e.init.kind == Init::kConstant) {
      std::fill(v, v + e.handle.size, e.init.value);
    } else {
      for (int64_t i = 0; i < e.handle.size; ++i)
        v[i] = float(rng.uniform(-e.init.value, e.init.value));
    }
  }
}

}  // namespace greensed::nn
