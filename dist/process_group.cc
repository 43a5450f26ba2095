// ProcessGroup over Gloo (see process_group.h): one communication thread runs the queued
// collectives in order with Gloo's algorithms (ring allreduce, one-to-all broadcast, ...); a
// failure is wrapped into a ts::Error that names the operation, the rank and the likely cause,
// and poisons the group so every later operation fails at once instead of hanging.
#include "taesan/dist/process_group.h"

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/context.h>
#include <gloo/math.h>

#include <csignal>
#include <cstring>
#include <deque>
#include <thread>

#include "taesan/core/error.h"
#include "taesan/dist/rendezvous.h"

namespace taesan::dist {

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum:
      return "sum";
    case ReduceOp::Avg:
      return "avg";
    case ReduceOp::Max:
      return "max";
    case ReduceOp::Min:
      return "min";
  }
  return "?";
}

// ---- Work ----

void Work::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [&] { return done_; });
  if (!error_.empty()) throw Error(error_);
}

bool Work::is_completed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

double Work::seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seconds_;
}

void Work::finish(std::string error, double seconds) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    error_ = std::move(error);
    seconds_ = seconds;
  }
  done_cv_.notify_all();
}

// ---- the communication thread ----

struct ProcessGroup::Impl {
  struct Task {
    std::string what;
    std::function<void(uint32_t tag)> fn;  // tag: Gloo's id of the operation (a counter)
    std::shared_ptr<Work> work;
  };

  std::shared_ptr<gloo::Context> context;  // null for a group of one
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<Task> queue;
  bool stopping = false;
  std::string broken;     // the first failure: every later operation reports it
  uint32_t next_tag = 0;  // used by the communication thread only
  std::thread thread;

  void loop(const ProcessGroup* pg) {
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        task = std::move(queue.front());
        queue.pop_front();
      }
      const auto t0 = std::chrono::steady_clock::now();
      std::string error;
      if (!broken.empty()) {
        error = fmt::format("ProcessGroup::{} (rank {} of {}): the group failed earlier: {}",
                            task.what, pg->rank(), pg->size(), broken);
      } else {
        try {
          task.fn(next_tag++);
        } catch (const Error& e) {
          error = e.what();  // already explained (e.g. a check inside the task)
        } catch (const std::exception& e) {
          const std::string msg = e.what();
          const bool timed_out =
              msg.find("imed out") != std::string::npos || msg.find("imeout") != std::string::npos;
          error = fmt::format(
              "ProcessGroup::{} (rank {} of {}) failed: {} ({})", task.what, pg->rank(), pg->size(),
              msg,
              timed_out ? fmt::format("no answer from a peer within the {:g}s timeout "
                                      "(TS_DIST_TIMEOUT): a rank is hung, far behind, or gone",
                                      pg->timeout().count() / 1000.0)
                        : std::string("the connection to a peer broke: another rank probably "
                                      "exited or was killed; its own log says why"));
          broken = msg;
        }
      }
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      task.work->finish(std::move(error), secs);
    }
  }
};

ProcessGroup::ProcessGroup(int rank, int size, std::chrono::milliseconds timeout)
    : rank_(rank), size_(size), timeout_(timeout), impl_(std::make_unique<Impl>()) {}

ProcessGroup::~ProcessGroup() {
  if (impl_->thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(impl_->mutex);
      impl_->stopping = true;
    }
    impl_->cv.notify_all();
    impl_->thread.join();
  }
  if (impl_->context) {
    try {
      impl_->context->closeConnections();
    } catch (...) {
      // A peer that is already gone cannot be told goodbye.
    }
  }
}

std::shared_ptr<ProcessGroup> ProcessGroup::single() {
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(0, 1, std::chrono::milliseconds(0)));
}

std::shared_ptr<ProcessGroup> ProcessGroup::create(const DistEnv& env) {
  TS_CHECK(env.world_size >= 1 && env.rank >= 0 && env.rank < env.world_size,
           "ProcessGroup::create: rank {} is out of range for world size {}", env.rank,
           env.world_size);
  if (env.world_size == 1) return single();
  // A write to a socket whose peer died must become an error, not a silent SIGPIPE death.
  struct sigaction old {};
  if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL)
    std::signal(SIGPIPE, SIG_IGN);
  std::shared_ptr<ProcessGroup> pg(new ProcessGroup(
      env.rank, env.world_size,
      std::chrono::milliseconds(static_cast<int64_t>(env.timeout_seconds * 1000))));
  pg->impl_->context = detail::rendezvous(env);
  Impl* impl = pg->impl_.get();
  const ProcessGroup* raw = pg.get();
  impl->thread = std::thread([impl, raw] { impl->loop(raw); });
  return pg;
}

std::string ProcessGroup::backend() const { return impl_->context ? "gloo" : "single"; }

std::shared_ptr<Work> ProcessGroup::enqueue(std::string what, std::function<void(uint32_t)> fn) {
  auto work = std::make_shared<Work>();
  if (!impl_->context) {  // a group of one: run inline
    try {
      fn(0);
      work->finish("", 0);
    } catch (const std::exception& e) {
      work->finish(e.what(), 0);
    }
    return work;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->queue.push_back({std::move(what), std::move(fn), work});
  }
  impl_->cv.notify_one();
  return work;
}

namespace {

void check_tensor(const char* fn, const Tensor& t) {
  TS_CHECK(t.defined(), "ProcessGroup::{}: got an undefined tensor", fn);
  TS_CHECK(t.is_contiguous(),
           "ProcessGroup::{}: {} is not contiguous (call .contiguous() and copy the result back)",
           fn, t.describe());
}

using ReduceFn = void (*)(void*, const void*, const void*, size_t);

template <typename T>
ReduceFn reduce_fn(ReduceOp op) {
  switch (op) {
    case ReduceOp::Max:
      return &gloo::max<T>;
    case ReduceOp::Min:
      return &gloo::min<T>;
    default:
      return &gloo::sum<T>;
  }
}

template <typename T>
void run_allreduce(const std::shared_ptr<gloo::Context>& ctx, uint32_t tag,
                   std::chrono::milliseconds timeout, T* data, size_t n, ReduceOp op) {
  gloo::AllreduceOptions opts(ctx);
  opts.setOutput(data, n);
  opts.setReduceFunction(reduce_fn<T>(op));
  opts.setTag(tag);
  opts.setTimeout(timeout);
  gloo::allreduce(opts);
  if constexpr (std::is_floating_point_v<T>) {
    if (op == ReduceOp::Avg) {
      const T world = static_cast<T>(ctx->size);
      for (size_t i = 0; i < n; ++i) data[i] /= world;
    }
  }
}

}  // namespace

std::shared_ptr<Work> ProcessGroup::allreduce_async(const Tensor& tensor, ReduceOp op,
                                                    std::function<void()> then) {
  check_tensor("allreduce", tensor);
  const DType dt = tensor.dtype();
  TS_CHECK(dt == DType::Float32 || dt == DType::Float64 || dt == DType::Int64,
           "ProcessGroup::allreduce: {} has an unsupported dtype (expected float32, float64 or "
           "int64)",
           tensor.describe());
  TS_CHECK(op != ReduceOp::Avg || dt != DType::Int64,
           "ProcessGroup::allreduce: ReduceOp::Avg needs a floating dtype, got {}",
           tensor.describe());
  const size_t n = static_cast<size_t>(tensor.numel());
  if (size_ == 1 || n == 0)
    return enqueue("allreduce", [then](uint32_t) {
      if (then) then();
    });
  auto ctx = impl_->context;
  const auto timeout = timeout_;
  return enqueue("allreduce", [tensor, op, n, ctx, timeout, then](uint32_t tag) {
    void* p = tensor.raw_data();
    switch (tensor.dtype()) {
      case DType::Float32:
        run_allreduce(ctx, tag, timeout, static_cast<float*>(p), n, op);
        break;
      case DType::Float64:
        run_allreduce(ctx, tag, timeout, static_cast<double*>(p), n, op);
        break;
      default:
        run_allreduce(ctx, tag, timeout, static_cast<int64_t*>(p), n, op);
        break;
    }
    if (then) then();
  });
}

void ProcessGroup::allreduce(const Tensor& tensor, ReduceOp op) {
  allreduce_async(tensor, op)->wait();
  tensor.bump_version();
}

void ProcessGroup::broadcast(const Tensor& tensor, int root) {
  check_tensor("broadcast", tensor);
  TS_CHECK(root >= 0 && root < size_,
           "ProcessGroup::broadcast: root {} is not a rank of a group "
           "of {}",
           root, size_);
  const size_t bytes = static_cast<size_t>(tensor.numel()) * tensor.element_size();
  if (size_ == 1 || bytes == 0) return;
  auto ctx = impl_->context;
  const auto timeout = timeout_;
  enqueue("broadcast", [tensor, bytes, root, ctx, timeout](uint32_t tag) {
    gloo::BroadcastOptions opts(ctx);
    opts.setOutput(static_cast<uint8_t*>(tensor.raw_data()), bytes);
    opts.setRoot(root);
    opts.setTag(tag);
    opts.setTimeout(timeout);
    gloo::broadcast(opts);
  })->wait();
  tensor.bump_version();
}

void ProcessGroup::barrier() {
  if (size_ == 1) return;
  auto ctx = impl_->context;
  const auto timeout = timeout_;
  enqueue("barrier", [ctx, timeout](uint32_t tag) {
    gloo::BarrierOptions opts(ctx);
    opts.setTag(tag);
    opts.setTimeout(timeout);
    gloo::barrier(opts);
  })->wait();
}

Tensor ProcessGroup::allgather(const Tensor& tensor) {
  check_tensor("allgather", tensor);
  Shape shape = tensor.shape();
  shape.insert(shape.begin(), size_);
  Tensor out = Tensor::make_empty(shape, tensor.dtype());
  const size_t bytes = static_cast<size_t>(tensor.numel()) * tensor.element_size();
  if (size_ == 1 || bytes == 0) {
    if (bytes) std::memcpy(out.raw_data(), tensor.raw_data(), bytes);
    return out;
  }
  auto ctx = impl_->context;
  const auto timeout = timeout_;
  enqueue("allgather", [tensor, out, bytes, ctx, timeout](uint32_t tag) {
    gloo::AllgatherOptions opts(ctx);
    opts.setInput(static_cast<uint8_t*>(tensor.raw_data()), bytes);
    opts.setOutput(static_cast<uint8_t*>(out.raw_data()), bytes * ctx->size);
    opts.setTag(tag);
    opts.setTimeout(timeout);
    gloo::allgather(opts);
  })->wait();
  return out;
}

}  // namespace taesan::dist
