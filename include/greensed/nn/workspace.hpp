// Per-thread scratch shared by the layers of one model: kernels allocate nothing, layers borrow
// their im2col and GEMM scratch from here. Layers parallelise over batch items with
// nn::parallel_for on n_threads() threads and run OpenBLAS single-threaded inside
// (kernels::BlasSingleThreadScope).
#pragma once

#include <cstdint>
#include <vector>

namespace greensed::nn {

class ThreadScratch {
 public:
  explicit ThreadScratch(int n_threads = 0);  // 0 = core::num_threads()
  int n_threads() const { return n_threads_; }
  // Grows (never shrinks) every thread's area to at least n floats.
  void reserve(int64_t floats_per_thread);
  float* get(int thread) { return data_.data() + thread * per_thread_; }
  // One area shared by all threads (e.g. per-item partial gradients before their ordered
  // reduction); grows to at least n floats, contents unspecified.
  float* common(int64_t n) {
    if (int64_t(common_.size()) < n) common_.resize(n);
    return common_.data();
  }
  int64_t bytes() const { return int64_t((data_.size() + common_.size()) * sizeof(float)); }

 private:
  int n_threads_;
  int64_t per_thread_ = 0;
  std::vector<float> data_, common_;
};

}  // namespace greensed::nn
