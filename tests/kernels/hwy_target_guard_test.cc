// Tests of the target pinning every kernel test relies on (tests/common/hwy_target_guard.h): the
// dispatch comes back after an exception, and for_each_target reaches the scalar fallback
// (HWY_SCALAR / HWY_EMU128 are bits 61 and 62, lost in a 32-bit target variable).
#include "common/hwy_target_guard.h"

#include <hwy/targets.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace {

using taesan::testing::for_each_target;
using taesan::testing::HwyTargetGuard;

}  // namespace

TEST_CASE("HwyTargetGuard restores every target when the test throws", "[kernels][targets]") {
  const std::vector<int64_t> all = hwy::SupportedAndGeneratedTargets();
  REQUIRE(!all.empty());
  try {
    HwyTargetGuard guard(all.back());
    CHECK(hwy::SupportedAndGeneratedTargets() == std::vector<int64_t>{all.back()});
    throw std::runtime_error("a failed REQUIRE");
  } catch (const std::runtime_error&) {
  }
  CHECK(hwy::SupportedAndGeneratedTargets() == all);
}

TEST_CASE("for_each_target visits every target, the scalar fallback included",
          "[kernels][targets]") {
  const std::vector<int64_t> all = hwy::SupportedAndGeneratedTargets();
  std::vector<int64_t> seen, pinned;
  for_each_target([&](int64_t target) {
    seen.push_back(target);
    const std::vector<int64_t> now = hwy::SupportedAndGeneratedTargets();
    pinned.push_back(now.size() == 1 ? now[0] : 0);
  });
  CHECK(seen == all);
  CHECK(pinned == all);  // each target was the only one while its body ran
  CHECK(hwy::SupportedAndGeneratedTargets() == all);
  if ((HWY_TARGETS & (HWY_SCALAR | HWY_EMU128)) != 0) {
    bool fallback = false;
    for (const int64_t t : seen) fallback |= (t & (HWY_SCALAR | HWY_EMU128)) != 0;
    CHECK(fallback);
  }
  int names = 0;
  for_each_target([&](const char* name) { names += name != nullptr && name[0] != '\0'; });
  CHECK(names == static_cast<int>(all.size()));
}
