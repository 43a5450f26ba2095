// DistributedDataParallel (see distributed_data_parallel.h). The life of one backward pass:
// the first gradient hook of the pass queues finalize() to run when backward() ends; each hook
// copies its parameter's gradient into its bucket (a flat buffer: the gradients, then one
// "used" flag per parameter); a bucket whose gradients are all in is launched — buckets go out
// strictly in index order, so every rank issues the same allreduces in the same order — and the
// communication thread writes sum / world back into the .grad() tensors. finalize() fills and
// launches what is left (parameters this rank did not use), waits, and gives a gradient to
// parameters that only other ranks used.
#include "taesan/dist/distributed_data_parallel.h"

#include <chrono>
#include <cstring>
#include <map>

#include "taesan/autograd/engine.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/node.h"
#include "taesan/core/error.h"
#include "taesan/dist/init.h"

namespace taesan::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// dst[i] = src[i] / world for n elements of a float dtype.
void scale_copy(void* dst, const void* src, int64_t n, DType dtype, int world) {
  if (dtype == DType::Float32) {
    auto* d = static_cast<float*>(dst);
    auto* s = static_cast<const float*>(src);
    const float w = static_cast<float>(world);
    for (int64_t i = 0; i < n; ++i) d[i] = s[i] / w;
  } else {
    auto* d = static_cast<double*>(dst);
    auto* s = static_cast<const double*>(src);
    const double w = static_cast<double>(world);
    for (int64_t i = 0; i < n; ++i) d[i] = s[i] / w;
  }
}

double read_element(const Tensor& flat, int64_t i) {
  return flat.dtype() == DType::Float32 ? static_cast<const float*>(flat.raw_data())[i]
                                        : static_cast<const double*>(flat.raw_data())[i];
}

void write_element(const Tensor& flat, int64_t i, double v) {
  if (flat.dtype() == DType::Float32)
    static_cast<float*>(flat.raw_data())[i] = static_cast<float>(v);
  else
    static_cast<double*>(flat.raw_data())[i] = v;
}

/// FNV-1a over the parameter names, shapes and dtypes: equal on every rank for the same model.
int64_t model_fingerprint(const nn::NamedTensors& named) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ull;
  };
  for (auto& [name, t] : named) {
    mix(name.data(), name.size());
    for (int64_t d : t.shape()) mix(&d, sizeof(d));
    const int dt = static_cast<int>(t.dtype());
    mix(&dt, sizeof(dt));
  }
  return static_cast<int64_t>(h >> 1);
}

}  // namespace

void broadcast_tensors(ProcessGroup& group, const TensorList& tensors, int root,
                       int64_t bucket_bytes) {
  if (group.size() == 1) return;
  // Chunks of same-dtype tensors, in order.
  std::vector<std::vector<Tensor>> chunks;
  std::map<DType, size_t> open;  // dtype -> index of its chunk being filled
  std::map<DType, int64_t> open_bytes;
  for (const Tensor& t : tensors) {
    if (!t.defined() || t.numel() == 0) continue;
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    auto it = open.find(t.dtype());
    if (it == open.end() || open_bytes[t.dtype()] + bytes > bucket_bytes) {
      open[t.dtype()] = chunks.size();
      open_bytes[t.dtype()] = 0;
      chunks.emplace_back();
    }
    chunks[open[t.dtype()]].push_back(t);
    open_bytes[t.dtype()] += bytes;
  }
  const bool is_root = group.rank() == root;
  for (auto& chunk : chunks) {
    int64_t total = 0;
    for (auto& t : chunk) total += t.numel();
    Tensor flat = Tensor::make_empty({total}, chunk[0].dtype());
    const size_t es = flat.element_size();
    auto* base = static_cast<char*>(flat.raw_data());
    if (is_root) {
      int64_t off = 0;
      for (auto& t : chunk) {
        Tensor c = t.contiguous();
        std::memcpy(base + off * es, c.raw_data(), t.numel() * es);
        off += t.numel();
      }
    }
    group.broadcast(flat, root);
    if (!is_root) {
      int64_t off = 0;
      for (auto& t : chunk) {
        if (t.is_contiguous()) {
          std::memcpy(t.raw_data(), base + off * es, t.numel() * es);
          t.bump_version();
        } else {
          NoGradGuard no_grad;
          t.detach().copy_(flat.slice(0, off, off + t.numel()).view(t.shape()));
        }
        off += t.numel();
      }
    }
  }
}

struct DistributedDataParallel::State : std::enable_shared_from_this<State> {
  struct Param {
    std::string name;
    Tensor tensor;
    size_t bucket = 0;
    size_t slot = 0;
    int64_t offset = 0;                           // elements into the bucket's flat buffer
    std::shared_ptr<autograd::Node> accumulator;  // keeps the hook alive between iterations
  };
  struct Bucket {
    DType dtype = DType::Float32;
    std::vector<size_t> params;
    int64_t numel = 0;  // gradient elements; the flags follow
    Tensor flat;
    // The current pass.
    size_t pending = 0;
    bool ready = false;
    std::vector<Tensor> grads;  // local .grad() tensors the result is written back into
    std::vector<char> marked;
    std::shared_ptr<Work> work;
  };

  std::shared_ptr<ProcessGroup> group;
  std::vector<Param> params;
  std::vector<Bucket> buckets;
  bool sync = true;
  std::weak_ptr<int> pass;  // alive while a backward pass is being averaged
  size_t next_launch = 0;
  DistributedDataParallelStats stats;

  void on_grad_ready(size_t index) {
    if (!sync) return;
    if (pass.expired()) begin_pass();
    Param& p = params[index];
    Bucket& b = buckets[p.bucket];
    const Tensor g = p.tensor.grad();
    TS_CHECK(g.defined() && !g.requires_grad(),
             "DistributedDataParallel: the gradient of '{}' {}: backward(create_graph = true) is "
             "not supported",
             p.name, g.defined() ? "has a graph" : "is undefined");
    TS_CHECK(!b.marked[p.slot],
             "DistributedDataParallel: the gradient of '{}' became ready twice in one backward "
             "pass",
             p.name);
    mark(b, p.slot, g);
    launch_ready();
  }

  void begin_pass() {
    drain();
    auto token = std::make_shared<int>(0);
    pass = token;
    next_launch = 0;
    for (Bucket& b : buckets) {
      b.pending = b.params.size();
      b.ready = false;
      b.grads.assign(b.params.size(), Tensor());
      b.marked.assign(b.params.size(), 0);
      for (size_t s = 0; s < b.params.size(); ++s) write_element(b.flat, b.numel + s, 0);
    }
    autograd::queue_callback([self = shared_from_this(), token] { self->finalize(); });
  }

  // Copies a local gradient into its bucket slot (engine thread).
  void mark(Bucket& b, size_t slot, Tensor g) {
    Param& p = params[b.params[slot]];
    TS_CHECK(g.dtype() == b.dtype && g.numel() == p.tensor.numel(),
             "DistributedDataParallel: the gradient of '{}' is {}, expected the parameter's shape "
             "and dtype {}",
             p.name, g.describe(), p.tensor.describe());
    if (!g.is_contiguous()) {
      g = g.contiguous();
      p.tensor.set_grad(g);
    }
    const size_t es = b.flat.element_size();
    std::memcpy(static_cast<char*>(b.flat.raw_data()) + p.offset * es, g.raw_data(),
                g.numel() * es);
    write_element(b.flat, b.numel + slot, 1);
    b.grads[slot] = g;
    b.marked[slot] = 1;
    if (--b.pending == 0) b.ready = true;
  }

  void launch_ready() {
    const int world = group->size();
    while (next_launch < buckets.size() && buckets[next_launch].ready) {
      Bucket* b = &buckets[next_launch++];
      State* self = this;
      b->work = group->allreduce_async(b->flat, ReduceOp::Sum, [self, b, world] {
        // Communication thread: the averaged values go straight into the local .grad()s.
        const size_t es = b->flat.element_size();
        for (size_t s = 0; s < b->params.size(); ++s) {
          if (!b->grads[s].defined()) continue;
          const Param& p = self->params[b->params[s]];
          scale_copy(b->grads[s].raw_data(),
                     static_cast<const char*>(b->flat.raw_data()) + p.offset * es, p.tensor.numel(),
                     b->dtype, world);
        }
      });
    }
  }

  // End of backward (engine thread): launch the rest, wait, hand out gradients.
  void finalize() {
    for (size_t k = next_launch; k < buckets.size(); ++k) {
      Bucket& b = buckets[k];
      for (size_t s = 0; s < b.params.size(); ++s) {
        if (b.marked[s]) continue;
        Param& p = params[b.params[s]];
        const Tensor g = p.tensor.grad();
        if (g.defined()) {
          mark(b, s, g);  // accumulated earlier (no_sync) but not reached this time
        } else {
          const size_t es = b.flat.element_size();
          std::memset(static_cast<char*>(b.flat.raw_data()) + p.offset * es, 0,
                      p.tensor.numel() * es);
          b.marked[s] = 1;
          --b.pending;
        }
      }
      b.ready = true;
    }
    launch_ready();
    const auto t0 = Clock::now();
    std::string first_error;
    for (Bucket& b : buckets) {
      try {
        b.work->wait();
      } catch (const std::exception& e) {
        if (first_error.empty()) first_error = e.what();
      }
    }
    stats.exposed_seconds += seconds_since(t0);
    pass.reset();
    if (!first_error.empty()) {
      for (Bucket& b : buckets) b.work.reset();
      fail("DistributedDataParallel: averaging the gradients failed: {}", first_error);
    }
    const int world = group->size();
    for (Bucket& b : buckets) {
      stats.communication_seconds += b.work->seconds();
      stats.bytes += b.flat.numel() * static_cast<int64_t>(b.flat.element_size());
      b.work.reset();
      for (size_t s = 0; s < b.params.size(); ++s) {
        if (b.grads[s].defined() || read_element(b.flat, b.numel + s) == 0) continue;
        // Unused here, used by another rank: this rank's gradient is theirs / world.
        Param& p = params[b.params[s]];
        Tensor g = Tensor::make_empty(p.tensor.shape(), b.dtype);
        scale_copy(g.raw_data(),
                   static_cast<const char*>(b.flat.raw_data()) + p.offset * b.flat.element_size(),
                   p.tensor.numel(), b.dtype, world);
        p.tensor.set_grad(g);
      }
      b.grads.assign(b.params.size(), Tensor());
    }
    ++stats.syncs;
  }

  // Waits for the allreduces of a pass that never reached finalize() (its backward threw).
  void drain() {
    for (Bucket& b : buckets) {
      if (!b.work) continue;
      try {
        b.work->wait();
      } catch (const std::exception&) {
        // The group is broken; the next operation reports it.
      }
      b.work.reset();
    }
  }
};

DistributedDataParallel::DistributedDataParallel(std::shared_ptr<nn::Module> module,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 DistributedDataParallelOptions options)
    : owner_(std::move(module)), module_(owner_.get()), group_(std::move(group)) {
  TS_CHECK(module_ != nullptr, "DistributedDataParallel: got a null module");
  init(options);
}

DistributedDataParallel::DistributedDataParallel(nn::Module& module,
                                                 std::shared_ptr<ProcessGroup> group,
                                                 DistributedDataParallelOptions options)
    : module_(&module), group_(std::move(group)) {
  init(options);
}

void DistributedDataParallel::init(DistributedDataParallelOptions options) {
  const char* who = "DistributedDataParallel";
  TS_CHECK(options.bucket_cap_mb > 0, "{}: bucket_cap_mb must be > 0, got {}", who,
           options.bucket_cap_mb);
  if (!group_) group_ = default_group();
  state_ = std::make_shared<State>();
  state_->group = group_;
  ProcessGroup& pg = *group_;

  // Every rank must wrap the same model: compare a fingerprint of names, shapes and dtypes.
  const nn::NamedTensors named = module_->named_parameters();
  const int64_t mine = model_fingerprint(named);
  if (pg.size() > 1) {
    Tensor fp = Tensor::make_empty({1}, DType::Int64);
    *static_cast<int64_t*>(fp.raw_data()) = mine;
    const std::vector<int64_t> all = pg.allgather(fp).to_vector<int64_t>();
    for (int r = 0; r < pg.size(); ++r)
      TS_CHECK(all[r] == all[0],
               "{}: the model on rank {} differs from rank 0's (parameter names, shapes or dtypes; "
               "{} parameters here): every rank must build the same model",
               who, r, named.size());
  }

  TensorList to_broadcast;
  for (auto& [name, t] : named) to_broadcast.push_back(t);
  if (options.broadcast_buffers)
    for (auto& t : module_->buffers()) to_broadcast.push_back(t);
  const auto cap = static_cast<int64_t>(options.bucket_cap_mb * 1024 * 1024);
  broadcast_tensors(pg, to_broadcast, 0, cap);

  // Buckets in reverse registration order, one open bucket per dtype.
  std::map<DType, size_t> open;
  for (auto it = named.rbegin(); it != named.rend(); ++it) {
    const auto& [name, t] = *it;
    if (!t.requires_grad()) continue;
    TS_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64,
             "{}: parameter '{}' is {}: only float32 and float64 parameters are averaged", who,
             name, t.describe());
    const int64_t bytes = t.numel() * static_cast<int64_t>(t.element_size());
    auto o = open.find(t.dtype());
    if (o == open.end() ||
        (state_->buckets[o->second].numel * static_cast<int64_t>(t.element_size()) + bytes > cap &&
         !state_->buckets[o->second].params.empty())) {
      open[t.dtype()] = state_->buckets.size();
      state_->buckets.emplace_back();
      state_->buckets.back().dtype = t.dtype();
    }
    const size_t bi = open[t.dtype()];
    State::Bucket& b = state_->buckets[bi];
    State::Param p;
    p.name = name;
    p.tensor = t;
    p.bucket = bi;
    p.slot = b.params.size();
    p.offset = b.numel;
    b.params.push_back(state_->params.size());
    b.numel += t.numel();
    state_->params.push_back(std::move(p));
  }
  for (State::Bucket& b : state_->buckets)
    b.flat = Tensor::make_empty({b.numel + static_cast<int64_t>(b.params.size())}, b.dtype);

  // The hooks: weak, so that a graph outliving this object does not keep averaging.
  std::weak_ptr<State> weak = state_;
  for (size_t i = 0; i < state_->params.size(); ++i) {
    State::Param& p = state_->params[i];
    p.accumulator = autograd::gradient_edge(p.tensor);
    auto* acc = dynamic_cast<autograd::AccumulateGrad*>(p.accumulator.get());
    TS_CHECK(acc != nullptr, "{}: parameter '{}' is not a leaf", who, p.name);
    acc->add_post_hook([weak, i](const Tensor&) {
      if (auto s = weak.lock()) s->on_grad_ready(i);
    });
  }
}

DistributedDataParallel::~DistributedDataParallel() {
  if (state_) state_->drain();
}

DistributedDataParallel::NoSyncGuard::~NoSyncGuard() {
  if (ddp_) ddp_->state_->sync = previous_;
}

DistributedDataParallel::NoSyncGuard::NoSyncGuard(NoSyncGuard&& other) noexcept
    : ddp_(other.ddp_), previous_(other.previous_) {
  other.ddp_ = nullptr;
}

DistributedDataParallel::NoSyncGuard DistributedDataParallel::no_sync() {
  const bool previous = state_->sync;
  state_->sync = false;
  return NoSyncGuard(this, previous);
}

bool DistributedDataParallel::require_backward_grad_sync() const { return state_->sync; }

std::vector<std::vector<std::string>> DistributedDataParallel::bucket_names() const {
  std::vector<std::vector<std::string>> out;
  for (const State::Bucket& b : state_->buckets) {
    out.emplace_back();
    for (size_t i : b.params) out.back().push_back(state_->params[i].name);
  }
  return out;
}

DistributedDataParallelStats DistributedDataParallel::stats() const { return state_->stats; }

void DistributedDataParallel::reset_stats() { state_->stats = {}; }

}  // namespace taesan::dist
