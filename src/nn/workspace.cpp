#include "greensed/nn/workspace.hpp"

#include "greensed/core/cpu.hpp"

namespace greensed::nn {

ThreadScratch::ThreadScratch(int n_threads)
    : n_threads_(n_threads > 0 ? n_threads : core::num_threads()) {}

void ThreadScratch::reserve(int64_t floats_per_thread) {
  if (floats_per_thread <= per_thread_) return;
  // Round to a cache line so threads never share one.
  per_thread_ = (floats_per_thread + 15) / 16 * 16;
  data_.assign(per_thread_ * n_threads_, 0.0f);
}

}  // namespace greensed::nn
