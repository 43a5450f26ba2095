// The op-level profiler (see profiler.h). Each thread keeps its own timestamps (the last event,
// the depth of live Scopes); totals go to one table under a mutex, touched only while enabled.
// A reset() or enable() bumps an epoch so that a thread's stale "last event" is never used.
#include "taesan/autograd/profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>

namespace taesan::profiler {
namespace detail {
std::atomic<bool> g_enabled{false};
}  // namespace detail

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The name every recording interval is stored under.
constexpr const char* kRecordName = "autograd::record";

struct Entry {
  int64_t calls = 0;
  int64_t ns = 0;
};

struct Table {
  std::mutex mutex;
  // Keyed by the name's address (names are literals: no string is built per event); rows with
  // equal text from different translation units are merged when read.
  std::map<std::pair<int, const char*>, Entry> entries;
  int64_t enabled_ns = 0;     // wall time of finished enabled periods since reset
  int64_t enabled_since = 0;  // start of the current enabled period
};

Table& table_instance() {
  static Table* t = new Table();  // never destroyed: hooks may run during static destruction
  return *t;
}

std::atomic<uint64_t> g_epoch{1};

struct ThreadState {
  uint64_t epoch = 0;     // epoch of last_mark
  int64_t last_mark = 0;  // end of the previous profiler event on this thread
  int timed_depth = 0;    // live Scopes
  int quiet_depth = 0;    // live QuietRegions
};
thread_local ThreadState t_state;

void add(Phase phase, const char* name, int64_t ns) {
  Table& t = table_instance();
  std::lock_guard<std::mutex> lock(t.mutex);
  Entry& e = t.entries[{static_cast<int>(phase), name}];
  ++e.calls;
  e.ns += ns;
}

void mark(int64_t t) {
  t_state.last_mark = t;
  t_state.epoch = g_epoch.load(std::memory_order_relaxed);
}

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

}  // namespace

const char* family_name(Family family) {
  switch (family) {
    case Family::kMatmul:
      return "matmul";
    case Family::kAttention:
      return "attention";
    case Family::kSoftmaxCE:
      return "softmax/CE";
    case Family::kLayerNorm:
      return "layer/RMS norm";
    case Family::kGelu:
      return "GELU";
    case Family::kElementwise:
      return "elementwise";
    case Family::kOther:
      return "shape/embedding/other";
    case Family::kOptimizer:
      return "optimizer";
    case Family::kGraph:
      return "graph overhead";
    case Family::kCount:
      break;
  }
  return "?";
}

Family family_of(std::string_view n) {
  if (n == kRecordName) return Family::kGraph;
  if (n == "mm" || n == "bmm" || n == "addmm" || n == "feed_forward" || contains(n, "matmul") ||
      contains(n, "linear") || contains(n, "gemm"))
    return Family::kMatmul;
  if (contains(n, "attention")) return Family::kAttention;
  if (contains(n, "softmax") || contains(n, "cross_entropy") || contains(n, "nll") ||
      contains(n, "logsumexp"))
    return Family::kSoftmaxCE;
  if (contains(n, "layer_norm") || contains(n, "rms_norm")) return Family::kLayerNorm;
  if (contains(n, "gelu")) return Family::kGelu;
  if (contains(n, "optim") || contains(n, "Adam") || contains(n, "SGD") ||
      contains(n, "clip_grad") || contains(n, "zero_grad"))
    return Family::kOptimizer;
  static constexpr std::string_view kElementwise[] = {
      "add",         "sub",           "mul",           "div",         "neg",         "exp",
      "log",         "sqrt",          "rsqrt",         "pow",         "abs",         "tanh",
      "sigmoid",     "relu",          "silu",          "erf",         "where",       "clamp",
      "masked_fill", "add_scalar",    "mul_scalar",    "rsub_scalar", "rdiv_scalar", "square",
      "dropout",     "sum_gradients", "AccumulateGrad"};
  for (std::string_view e : kElementwise)
    if (n == e) return Family::kElementwise;
  return Family::kOther;
}

void enable(bool on) {
  Table& t = table_instance();
  std::lock_guard<std::mutex> lock(t.mutex);
  const bool was = detail::g_enabled.load(std::memory_order_relaxed);
  if (on && !was) {
    t.enabled_since = now_ns();
    g_epoch.fetch_add(1, std::memory_order_relaxed);
  } else if (!on && was) {
    t.enabled_ns += now_ns() - t.enabled_since;
  }
  detail::g_enabled.store(on, std::memory_order_relaxed);
}

void disable() { enable(false); }

void reset() {
  Table& t = table_instance();
  std::lock_guard<std::mutex> lock(t.mutex);
  t.entries.clear();
  t.enabled_ns = 0;
  t.enabled_since = now_ns();
  g_epoch.fetch_add(1, std::memory_order_relaxed);
}

Scope::Scope(const char* name, Phase phase) : name_(name), phase_(phase) {
  if (!is_enabled()) return;
  counted_ = true;
  if (t_state.timed_depth++ == 0) {
    timed_ = true;
    start_ns_ = now_ns();
  }
}

Scope::~Scope() {
  if (!counted_) return;
  --t_state.timed_depth;
  if (!timed_) return;
  const int64_t end = now_ns();
  add(phase_, name_, end - start_ns_);
  mark(end);
}

OpRecord::OpRecord(const char* name) {
  if (!is_enabled() || t_state.timed_depth > 0 || t_state.quiet_depth > 0) return;
  active_ = true;
  start_ns_ = now_ns();
  if (t_state.epoch == g_epoch.load(std::memory_order_relaxed))
    add(Phase::kForward, name, start_ns_ - t_state.last_mark);
  else
    add(Phase::kForward, name, 0);  // no earlier event to measure from: counted, not timed
}

OpRecord::~OpRecord() {
  if (!active_) return;
  const int64_t end = now_ns();
  add(Phase::kForward, kRecordName, end - start_ns_);
  mark(end);
}

QuietRegion::QuietRegion() {
  if (!is_enabled()) return;
  active_ = true;
  ++t_state.quiet_depth;
}

QuietRegion::~QuietRegion() {
  if (!active_) return;
  --t_state.quiet_depth;
  mark(now_ns());
}

std::vector<OpStats> ops() {
  Table& t = table_instance();
  std::map<std::pair<int, std::string>, Entry> merged;
  {
    std::lock_guard<std::mutex> lock(t.mutex);
    for (const auto& [key, e] : t.entries) {
      Entry& m = merged[{key.first, std::string(key.second)}];
      m.calls += e.calls;
      m.ns += e.ns;
    }
  }
  std::vector<OpStats> out;
  for (const auto& [key, e] : merged)
    out.push_back({key.second, static_cast<Phase>(key.first), family_of(key.second), e.calls,
                   static_cast<double>(e.ns) * 1e-6});
  std::stable_sort(out.begin(), out.end(),
                   [](const OpStats& a, const OpStats& b) { return a.total_ms > b.total_ms; });
  return out;
}

OpStats op(std::string_view name, Phase phase) {
  OpStats result{std::string(name), phase, family_of(name), 0, 0.0};
  for (const OpStats& s : ops())
    if (s.name == name && s.phase == phase) result = s;
  return result;
}

double timed_ms() {
  double sum = 0;
  for (const OpStats& s : ops()) sum += s.total_ms;
  return sum;
}

double enabled_ms() {
  Table& t = table_instance();
  std::lock_guard<std::mutex> lock(t.mutex);
  int64_t ns = t.enabled_ns;
  if (is_enabled()) ns += now_ns() - t.enabled_since;
  return static_cast<double>(ns) * 1e-6;
}

std::vector<FamilyStats> by_family(double total_ms) {
  if (total_ms <= 0) total_ms = enabled_ms();
  std::vector<FamilyStats> rows;
  for (int f = 0; f < static_cast<int>(Family::kCount); ++f)
    rows.push_back({static_cast<Family>(f)});
  double others = 0;
  for (const OpStats& s : ops()) {
    FamilyStats& r = rows[static_cast<int>(s.family)];
    if (s.family == Family::kGraph) {
      if (s.name == kRecordName) r.calls += s.calls;
      continue;
    }
    r.calls += s.calls;
    r.total_ms += s.total_ms;
    others += s.total_ms;
  }
  rows[static_cast<int>(Family::kGraph)].total_ms = std::max(0.0, total_ms - others);
  for (FamilyStats& r : rows) r.percent = total_ms > 0 ? 100.0 * r.total_ms / total_ms : 0.0;
  return rows;
}

std::string table(double total_ms, int top) {
  if (total_ms <= 0) total_ms = enabled_ms();
  std::string out =
      fmt::format("{:<24} {:>9} {:>11} {:>7}\n", "op family", "calls", "total ms", "%");
  for (const FamilyStats& r : by_family(total_ms))
    out += fmt::format("{:<24} {:>9} {:>11.2f} {:>6.1f}%\n", family_name(r.family), r.calls,
                       r.total_ms, r.percent);
  out += fmt::format("{:<24} {:>9} {:>11.2f} {:>6.1f}%\n", "total", "", total_ms, 100.0);
  const double recording = op(kRecordName, Phase::kForward).total_ms;
  out += fmt::format("(graph overhead = total - timed ops; of it, recording ops: {:.2f} ms)\n",
                     recording);
  if (top > 0) {
    out += fmt::format("\n{:<34} {:>8} {:>9} {:>11} {:>7}\n", "top ops", "phase", "calls",
                       "total ms", "%");
    int shown = 0;
    for (const OpStats& s : ops()) {
      if (shown++ >= top) break;
      const char* phase = s.phase == Phase::kForward    ? "fwd"
                          : s.phase == Phase::kBackward ? "bwd"
                                                        : "-";
      out += fmt::format("{:<34} {:>8} {:>9} {:>11.2f} {:>6.1f}%\n", s.name, phase, s.calls,
                         s.total_ms, total_ms > 0 ? 100.0 * s.total_ms / total_ms : 0.0);
    }
  }
  return out;
}

}  // namespace taesan::profiler
