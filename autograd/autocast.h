// Autocast regions, as torch.autocast("cpu", dtype=torch.bfloat16): while a guard lives on a
// thread, the GEMM-shaped ops (matmul, linear, feed_forward, scaled_dot_product_attention)
// multiply float32 operands rounded to bfloat16 and accumulate in float32, returning float32; their
// backward (run later, inside or outside the region) rounds the gradient GEMMs' operands the same
// way. Everything else stays float32; float64 never goes through bfloat16.
#pragma once

#include "taesan/core/dtype.h"

namespace taesan {

/// The thread-local autocast state (like GradMode).
struct AutocastMode {
  static bool is_enabled();
  /// The lower-precision dtype of the region (kBFloat16, the only one supported).
  static DType dtype();
  /// Turns autocast on or off for this thread; `dtype` must be kBFloat16.
  static void set_enabled(bool enabled, DType dtype = kBFloat16);
};

/// True inside an (enabled) AutocastGuard on this thread.
bool is_autocast_enabled();

/// Scoped autocast: `ts::AutocastGuard amp(ts::kBFloat16);` enables it, `ts::AutocastGuard
/// off(false);` disables it inside an enabled region; nestable, each guard restores the state it
/// found. Thread-local: worker threads of the pool do not consult it (the ops decide on the
/// calling thread).
class AutocastGuard {
 public:
  /// Enables autocast with `dtype` (kBFloat16 only; anything else throws ts::Error).
  explicit AutocastGuard(DType dtype = kBFloat16);
  /// Enables (kBFloat16) or disables autocast.
  explicit AutocastGuard(bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool previous_enabled_;
  DType previous_dtype_;
};

}  // namespace taesan
