// Per-thread scratch shared by the layers of one model: kernels allocate nothing, layers borrow
// their im2col and GEMM scratch from here. Layers parallelise over batch items with OpenMP on
// n_threads() threads and run OpenBLAS single-threaded inside (kernels::BlasSingleThreadScope).
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
  int64_t bytes() const { return int64_t(data_.size() * sizeof(float)); }

 private:
  int n_threads_;
  int64_t per_thread_ = 0;
  std::vector<float> data_;
};

}  // namespace greensed::nn
