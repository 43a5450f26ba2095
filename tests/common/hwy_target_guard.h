// Pinning the Highway target in kernel tests: HwyTargetGuard restores the normal dispatch when it
// goes out of scope, also when a REQUIRE throws out of the test, so one failing target never
// leaves the next test cases running on it; for_each_target runs a body once per target.
#pragma once

#include <hwy/targets.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace taesan::testing {

/// Makes `target` (one HWY_* bit) the only supported target while it lives, so that
/// HWY_DYNAMIC_DISPATCH calls its code; the destructor resets to every supported target.
class HwyTargetGuard {
 public:
  explicit HwyTargetGuard(int64_t target) { hwy::SetSupportedTargetsForTest(target); }
  ~HwyTargetGuard() { hwy::SetSupportedTargetsForTest(0); }
  HwyTargetGuard(const HwyTargetGuard&) = delete;
  HwyTargetGuard& operator=(const HwyTargetGuard&) = delete;
};

/// Every target that this build compiled and this CPU supports, HWY_SCALAR / HWY_EMU128 included.
/// int64_t: those two are bits 61 and 62, which a uint32_t would truncate to 0 (and 0 means
/// "reset to the best target", so the scalar fallback would never be tested).
inline std::vector<int64_t> targets_to_test() {
  hwy::SetSupportedTargetsForTest(0);  // the whole list, whatever an earlier test left pinned
  return hwy::SupportedAndGeneratedTargets();
}

/// Runs fn once per target of targets_to_test(), with that target pinned (HwyTargetGuard) and
/// named in the messages of failing assertions. fn takes no argument, or the target's name
/// (const char*), or the target itself (int64_t).
template <class Fn>
void for_each_target(const Fn& fn) {
  for (const int64_t target : targets_to_test()) {
    HwyTargetGuard guard(target);
    INFO("target " << hwy::TargetName(target));
    if constexpr (std::is_invocable_v<const Fn&, const char*>) {
      fn(hwy::TargetName(target));
    } else if constexpr (std::is_invocable_v<const Fn&, int64_t>) {
      fn(target);
    } else {
      fn();
    }
  }
}

}  // namespace taesan::testing
