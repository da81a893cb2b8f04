// A small blocking thread pool for the layers' loops over batch items. Workers sleep on a
// condition variable between loops instead of spinning (OpenMP's default spin-wait burnt a third
// of the CPU time of a batch-4 step on this machine: energy for nothing, and cores taken from
// other programs). Indices are handed out dynamically, so a preempted thread never holds the
// others up; callers that need results independent of the schedule reduce per index.
#pragma once

#include <cstdint>
#include <functional>

namespace greensed::nn {

// Runs body(i, worker) for every i in [0, n) on up to n_threads threads; the caller is worker 0
// and the others are 1 .. n_threads − 1 (use `worker` to pick per-thread scratch). Returns when
// every index is done; rethrows the first exception a body threw. A parallel_for started from
// inside a body runs serially on that thread.
void parallel_for(int64_t n, int n_threads, const std::function<void(int64_t, int)>& body);

}  // namespace greensed::nn
