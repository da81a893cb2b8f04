#include "greensed/nn/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace greensed::nn {
namespace {

thread_local bool t_inside_body = false;

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void run(int64_t n, int n_threads, const std::function<void(int64_t, int)>& body) {
    std::lock_guard run_lock(run_mutex_);
    const int workers = int(std::min<int64_t>(n_threads, n)) - 1;
    while (int(threads_.size()) < workers) {
      const int id = int(threads_.size()) + 1;
      threads_.emplace_back([this, id] { worker_loop(id); });
    }
    {
      std::lock_guard lock(mutex_);
      body_ = &body;
      n_ = n;
      next_ = 0;
      active_ = workers;
      pending_ = workers;
      error_ = nullptr;
      ++generation_;
    }
    start_.notify_all();
    drain(0);
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void drain(int worker) {
    t_inside_body = true;
    try {
      for (int64_t i; (i = next_.fetch_add(1)) < n_;) (*body_)(i, worker);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
      next_ = n_;  // stop handing out work
    }
    t_inside_body = false;
  }

  void worker_loop(int id) {
    uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (id > active_) continue;
      lock.unlock();
      drain(id);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mutex_;  // one loop at a time
  std::mutex mutex_;
  std::condition_variable start_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int64_t, int)>* body_ = nullptr;
  int64_t n_ = 0;
  std::atomic<int64_t> next_{0};
  int active_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void parallel_for(int64_t n, int n_threads, const std::function<void(int64_t, int)>& body) {
  if (n <= 0) return;
  if (n_threads <= 1 || n == 1 || t_inside_body) {
    for (int64_t i = 0; i < n; ++i) body(i, 0);
    return;
  }
  pool().run(n, n_threads, body);
}

}  // namespace greensed::nn
