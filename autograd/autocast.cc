// Thread-local autocast state and its guard (see autocast.h).
#include "taesan/autograd/autocast.h"

#include "taesan/core/error.h"

namespace taesan {
namespace {
thread_local bool t_autocast_enabled = false;
thread_local DType t_autocast_dtype = kBFloat16;

void check_dtype(DType dtype, const char* fn) {
  TS_CHECK(dtype == kBFloat16, "{}: autocast supports ts::kBFloat16 only, got {}", fn, dtype);
}
}  // namespace

bool AutocastMode::is_enabled() { return t_autocast_enabled; }
DType AutocastMode::dtype() { return t_autocast_dtype; }
void AutocastMode::set_enabled(bool enabled, DType dtype) {
  check_dtype(dtype, "AutocastMode::set_enabled");
  t_autocast_enabled = enabled;
  t_autocast_dtype = dtype;
}

bool is_autocast_enabled() { return t_autocast_enabled; }

AutocastGuard::AutocastGuard(DType dtype)
    : previous_enabled_(t_autocast_enabled), previous_dtype_(t_autocast_dtype) {
  check_dtype(dtype, "AutocastGuard");
  t_autocast_enabled = true;
  t_autocast_dtype = dtype;
}

AutocastGuard::AutocastGuard(bool enabled)
    : previous_enabled_(t_autocast_enabled), previous_dtype_(t_autocast_dtype) {
  t_autocast_enabled = enabled;
}

AutocastGuard::~AutocastGuard() {
  t_autocast_enabled = previous_enabled_;
  t_autocast_dtype = previous_dtype_;
}

}  // namespace taesan
