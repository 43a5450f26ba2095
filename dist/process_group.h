// ProcessGroup: the ranks of a data-parallel job and their collective operations (allreduce,
// broadcast, barrier, allgather) over Gloo's TCP transport — what PyTorch's ProcessGroupGloo is.
// Operations run in the order they are issued on one communication thread, so an async
// allreduce (DistributedDataParallel's buckets) overlaps the caller's computation.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "taesan/autograd/tensor.h"
#include "taesan/dist/env.h"

namespace taesan::dist {

/// How allreduce combines the ranks' tensors. Avg (sum / world size) needs a floating dtype.
enum class ReduceOp { Sum, Avg, Max, Min };

/// "sum", "avg", "max", "min".
const char* reduce_op_name(ReduceOp op);

/// An operation issued with an *_async call: wait() blocks until it finished on this rank.
class Work {
 public:
  /// Blocks until the operation finished; throws its ts::Error if it failed.
  void wait();
  /// True once the operation finished (successfully or not).
  bool is_completed() const;
  /// Seconds the communication thread spent on it (0 until completed).
  double seconds() const;

  /// Marks the operation finished ("" = success); called by the communication thread.
  void finish(std::string error, double seconds);

 private:
  mutable std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::string error_;
  double seconds_ = 0;
};

/// The ranks of a job. Create one per process with init_process_group() (dist/init.h) or
/// ProcessGroup::create(); every rank must issue the same collectives in the same order.
/// Tensors must be contiguous; float32, float64 and int64 are reduced, any dtype is
/// broadcast/gathered. A failure (a peer exited, a timeout) throws a ts::Error naming the
/// operation and the rank, and makes every later operation throw too.
class ProcessGroup {
 public:
  /// Joins the job `env` describes: meets the other ranks through its store (FileStore
  /// directory or Redis server), checks they agree on the world size, and connects a full mesh
  /// of TCP pairs. Blocks until every rank has arrived; throws naming what went wrong (an
  /// unreachable master, a world-size mismatch, ranks missing after the connect timeout).
  static std::shared_ptr<ProcessGroup> create(const DistEnv& env);
  /// A group of one process (rank 0 of 1): collectives return at once.
  static std::shared_ptr<ProcessGroup> single();
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  /// This process's rank, 0 .. size() - 1.
  int rank() const { return rank_; }
  /// Number of ranks (world size).
  int size() const { return size_; }
  /// "gloo" (or "single" for a group of one).
  std::string backend() const;

  /// Reduces `tensor` over all ranks in place: afterwards every rank holds the same result.
  void allreduce(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
  /// allreduce issued on the communication thread; `then` (optional) runs there after a
  /// successful reduction, before the Work completes. `tensor` must not be touched until then.
  std::shared_ptr<Work> allreduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::Sum,
                                        std::function<void()> then = {});
  /// Copies rank `root`'s `tensor` into `tensor` on every other rank.
  void broadcast(const Tensor& tensor, int root = 0);
  /// Returns once every rank has called barrier().
  void barrier();
  /// Every rank's `tensor` (same shape and dtype everywhere), stacked: shape (size(), ...); row r
  /// is rank r's.
  Tensor allgather(const Tensor& tensor);

  /// Seconds a collective may wait for its peers before failing (TS_DIST_TIMEOUT).
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  struct Impl;
  ProcessGroup(int rank, int size, std::chrono::milliseconds timeout);
  std::shared_ptr<Work> enqueue(std::string what, std::function<void(uint32_t tag)> fn);

  int rank_;
  int size_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taesan::dist
