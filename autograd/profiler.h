// ts::profiler: an op-level profiler. When enabled, it times every recorded forward op (the
// interval that ends where the op records its node with autograd::record), every backward node
// (timed by the engine), and explicit Scopes (optimizer step, clipping, ...); table() aggregates
// them by op family. Disabled (the default), each hook costs one relaxed atomic load.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace taesan::profiler {

/// When a timed interval ran.
enum class Phase : uint8_t { kForward, kBackward, kOther };

/// The op families of the breakdown, in table order.
enum class Family : uint8_t {
  kMatmul,       ///< mm, bmm, matmul, linear
  kAttention,    ///< scaled_dot_product_attention
  kSoftmaxCE,    ///< softmax, log_softmax, cross_entropy, nll_loss, logsumexp
  kLayerNorm,    ///< layer_norm, rms_norm
  kGelu,         ///< gelu
  kElementwise,  ///< add, mul, ..., dropout, gradient sums and accumulation
  kOther,        ///< shape ops, embedding lookups, reductions, copies
  kOptimizer,    ///< optimizer step, clip_grad_norm, zero_grad (Scopes named "optim...")
  kGraph,        ///< graph recording (autograd::record's own cost) and untimed engine time
  kCount
};

/// Printable name of a family ("matmul", "softmax/CE", ...).
const char* family_name(Family family);
/// The family an op or node name belongs to (names of ops in ops/, nodes, Scopes).
Family family_of(std::string_view name);

namespace detail {
extern std::atomic<bool> g_enabled;
}  // namespace detail

/// True while profiling; the hooks' only cost when false is this relaxed load.
inline bool is_enabled() { return detail::g_enabled.load(std::memory_order_relaxed); }
/// Starts (or stops) collecting. Enabling does not clear what was collected: see reset().
void enable(bool on = true);
/// Stops collecting.
void disable();
/// Forgets everything collected so far.
void reset();

/// Times its own lifetime under `name` (a string with static storage duration, e.g. a literal).
/// Only the outermost live Scope of a thread is timed: time inside it is counted once.
class Scope {
 public:
  explicit Scope(const char* name, Phase phase = Phase::kOther);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  const char* name_;
  Phase phase_;
  int64_t start_ns_ = 0;
  bool counted_ = false;  // entered the depth count
  bool timed_ = false;    // the outermost: its time is recorded
};

/// Used by autograd::record when it records a node: its constructor attributes the time since the
/// thread's previous profiler event to op `name` (the op's forward work ends where it records);
/// its own lifetime (the recording) counts as graph overhead. Ops that record nothing (no input
/// requires grad, or NoGradGuard) are not events: their time goes to the next recorded op, so an
/// op's internal helpers on detached tensors count as the op. Time no-grad code with a Scope.
class OpRecord {
 public:
  explicit OpRecord(const char* name);
  ~OpRecord();
  OpRecord(const OpRecord&) = delete;
  OpRecord& operator=(const OpRecord&) = delete;

 private:
  int64_t start_ns_ = 0;
  bool active_ = false;
};

/// Used by the backward engine around a whole pass: ops run outside node Scopes meanwhile (the
/// engine's own bookkeeping) are not attributed to forward ops; they stay graph overhead.
class QuietRegion {
 public:
  QuietRegion();
  ~QuietRegion();
  QuietRegion(const QuietRegion&) = delete;
  QuietRegion& operator=(const QuietRegion&) = delete;

 private:
  bool active_ = false;
};

/// Time and calls of one (phase, name).
struct OpStats {
  std::string name;
  Phase phase;
  Family family;
  int64_t calls = 0;
  double total_ms = 0;
};

/// Time and calls of one family; percent is of the total passed to by_family().
struct FamilyStats {
  Family family;
  int64_t calls = 0;
  double total_ms = 0;
  double percent = 0;
};

/// Everything collected, largest total first.
std::vector<OpStats> ops();
/// Calls and time of op `name` in `phase` (0 and 0 when never seen).
OpStats op(std::string_view name, Phase phase);
/// Sum of every timed interval (ops, nodes, Scopes, recording), in ms.
double timed_ms();
/// Wall time collected while enabled since the last reset(), in ms.
double enabled_ms();

/// One row per family, in Family order. The graph row is `total_ms` minus every other family
/// (so it holds recording, engine bookkeeping and anything untimed); total_ms <= 0 means
/// enabled_ms(). The rows' percents then add up to 100.
std::vector<FamilyStats> by_family(double total_ms = 0);
/// A printable table of by_family(total_ms), then the `top` costliest ops by phase.
std::string table(double total_ms = 0, int top = 12);

}  // namespace taesan::profiler
