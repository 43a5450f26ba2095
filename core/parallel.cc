// A minimal fork-join pool: the caller publishes a job, workers and the caller take chunk
// indices from an atomic counter, the caller waits until every chunk is done. Waiting spins for
// a few tens of microseconds before it sleeps on a condition variable: a training step runs
// hundreds of parallel ops back to back, and a sleeping thread's futex wake-up costs more than a
// small op's work (gemm_bench, 128^3 on 2 threads: 2.6x slower than 1 thread without the spin).
#include "taesan/core/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "taesan/core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace taesan {
namespace {

thread_local bool t_inside_parallel = false;

// How long a waiting thread polls before it sleeps: long enough to bridge the serial code
// between two parallel ops of a training step, short enough not to steal a shared core.
constexpr std::chrono::microseconds kSpin{50};

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls ready() for up to kSpin; true as soon as it holds.
template <typename Ready>
bool spin_until(const Ready& ready) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if (i % 64 == 63 && std::chrono::steady_clock::now() > deadline) return ready();
  }
}

class ThreadPool {
 public:
  ThreadPool() { resize(std::max(1u, std::thread::hardware_concurrency())); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return num_threads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    stop_workers();
    num_threads_ = n;
    stopping_ = false;
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  void run(int64_t chunks, const std::function<void(int64_t)>& chunk_fn) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);  // one job at a time
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &chunk_fn;
      total_chunks_ = chunks;
      next_chunk_.store(0);
      done_chunks_ = 0;
      done_.store(0, std::memory_order_relaxed);
      error_ = nullptr;
      ++generation_;
      published_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    work_on_job();
    spin_until([&] { return done_.load(std::memory_order_acquire) == chunks; });
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return done_chunks_ == total_chunks_; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work_on_job() {
    t_inside_parallel = true;
    int64_t done = 0;
    for (int64_t c; (c = next_chunk_.fetch_add(1)) < total_chunks_;) {
      try {
        (*job_)(c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      ++done;
    }
    t_inside_parallel = false;
    if (done > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_chunks_ += done;
      done_.store(done_chunks_, std::memory_order_release);
      if (done_chunks_ == total_chunks_) finished_.notify_all();
    }
  }

  void worker_loop() {
    uint64_t seen = 0;
    for (;;) {
      // A new job is usually published within microseconds of the last one: poll first.
      spin_until([&] { return published_.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && job_ != nullptr); });
        if (stopping_) return;
        seen = generation_;
      }
      work_on_job();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  int num_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_, mutex_;
  std::condition_variable wake_, finished_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t total_chunks_ = 0;
  std::atomic<int64_t> next_chunk_{0};
  int64_t done_chunks_ = 0;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};  // generation_, readable without the lock (polling)
  std::atomic<int64_t> done_{0};        // done_chunks_, readable without the lock (polling)
  bool stopping_ = false;
  std::exception_ptr error_;
};

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

}  // namespace

void set_num_threads(int n) {
  TS_CHECK(n >= 1, "set_num_threads: expected a thread count >= 1, got {}", n);
  TS_CHECK(!t_inside_parallel, "set_num_threads: cannot be called from inside a parallel region");
  if (n != pool().size()) pool().resize(n);
}

int get_num_threads() { return pool().size(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t threads = get_num_threads();
  if (n <= grain || threads == 1 || t_inside_parallel) {
    fn(0, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads, (n + grain - 1) / grain);
  int64_t per = (n + chunks - 1) / chunks;
  pool().run(chunks, [&](int64_t c) {
    int64_t b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  });
}

}  // namespace taesan
