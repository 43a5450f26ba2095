// DistributedDataParallel: data-parallel training of one module over a ProcessGroup, PyTorch's
// way. It broadcasts rank 0's parameters and buffers at construction, then averages gradients
// during every backward: parameters are grouped into ~25 MB buckets in reverse registration
// order (roughly the order backward produces their gradients); a post-accumulate-grad hook on
// each parameter copies its gradient into its bucket, and a full bucket is allreduced at once
// on the group's communication thread, overlapping the rest of backward. When backward()
// returns, every rank holds the same averaged .grad().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "taesan/autograd/tensor.h"
#include "taesan/dist/process_group.h"
#include "taesan/nn/module.h"

namespace taesan::dist {

/// Options of DistributedDataParallel.
struct DistributedDataParallelOptions {
  double bucket_cap_mb = 25;      ///< bucket size (MiB of gradients); PyTorch's default
  bool broadcast_buffers = true;  ///< also copy rank 0's buffers at construction
};

/// Time and volume of the gradient averaging since construction (or reset_stats()).
struct DistributedDataParallelStats {
  int64_t syncs = 0;                 ///< backward passes whose gradients were averaged
  int64_t bytes = 0;                 ///< bytes allreduced
  double communication_seconds = 0;  ///< communication-thread time spent in the allreduces
  double exposed_seconds = 0;        ///< time backward() waited for them at its end (not hidden)
};

/// Wraps a module for data-parallel training:
///   ts::dist::init_process_group();
///   auto model = std::make_shared<Net>();
///   ts::dist::DistributedDataParallel ddp(model);   // rank 0's weights everywhere
///   loss = model->forward(shard_of_the_batch) ...; loss.backward();  // grads averaged
///   opt.step();                                     // identical update on every rank
/// Keep calling the module's own forward: the averaging hangs on the parameters' gradient
/// hooks. Gradients of parameters unused by a backward on every rank stay undefined; a rank that
/// did not use one contributes zeros. create_graph backward passes are not supported.
class DistributedDataParallel {
 public:
  /// `group`: null means the default group (init_process_group()).
  explicit DistributedDataParallel(std::shared_ptr<nn::Module> module,
                                   std::shared_ptr<ProcessGroup> group = nullptr,
                                   DistributedDataParallelOptions options = {});
  /// Same without taking ownership: `module` must outlive this object.
  explicit DistributedDataParallel(nn::Module& module,
                                   std::shared_ptr<ProcessGroup> group = nullptr,
                                   DistributedDataParallelOptions options = {});
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  /// The wrapped module.
  nn::Module& module() const { return *module_; }
  /// The group the gradients are averaged over.
  const std::shared_ptr<ProcessGroup>& process_group() const { return group_; }

  /// While the returned guard lives, backward passes only accumulate gradients locally (gradient
  /// accumulation); the first backward after it averages everything accumulated:
  ///   { auto guard = ddp.no_sync(); model->forward(a).backward(); }
  ///   model->forward(b).backward();   // averages the sum of both
  class NoSyncGuard {
   public:
    ~NoSyncGuard();
    NoSyncGuard(NoSyncGuard&& other) noexcept;
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(NoSyncGuard&&) = delete;

   private:
    friend class DistributedDataParallel;
    NoSyncGuard(DistributedDataParallel* ddp, bool previous) : ddp_(ddp), previous_(previous) {}
    DistributedDataParallel* ddp_;
    bool previous_;
  };
  /// Suspends gradient averaging for the guard's lifetime (see NoSyncGuard).
  [[nodiscard]] NoSyncGuard no_sync();
  /// False inside no_sync().
  bool require_backward_grad_sync() const;

  /// Parameter names of each bucket, in launch order (reverse registration order).
  std::vector<std::vector<std::string>> bucket_names() const;
  /// Communication statistics (see DistributedDataParallelStats).
  DistributedDataParallelStats stats() const;
  /// Zeroes the statistics (e.g. after warm-up steps).
  void reset_stats();

 private:
  struct State;  // shared with the gradient hooks (which hold it weakly)
  void init(DistributedDataParallelOptions options);

  std::shared_ptr<nn::Module> owner_;
  nn::Module* module_;
  std::shared_ptr<ProcessGroup> group_;
  std::shared_ptr<State> state_;
};

/// Copies rank `root`'s values of every tensor into the others' (coalesced per dtype into
/// flat buffers of at most `bucket_bytes`). All ranks pass tensors of the same shapes and dtypes.
void broadcast_tensors(ProcessGroup& group, const TensorList& tensors, int root = 0,
                       int64_t bucket_bytes = 25 << 20);

}  // namespace taesan::dist
