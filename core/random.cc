// Global counter-based generator state (see random.h).
#include "taesan/core/random.h"

#include <atomic>
#include <cmath>
#include <mutex>

namespace taesan {
namespace {
std::mutex g_mutex;
RngState g_state{0x5EEDull, 0};
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_state = {seed, 0};
}

RngState get_rng_state() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_state;
}

void set_rng_state(const RngState& state) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_state = state;
}

namespace random {

uint64_t reserve(uint64_t n) {
  std::lock_guard<std::mutex> lock(g_mutex);
  uint64_t first = g_state.offset;
  g_state.offset += n;
  return first;
}

uint64_t seed() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_state.seed;
}

double normal(uint64_t seed, uint64_t counter) {
  double u1 = uniform01(bits(seed, counter, 1));
  double u2 = uniform01(bits(seed, counter, 2));
  double r = std::sqrt(-2.0 * std::log1p(-u1));  // 1 - u1 in (0, 1]
  return r * std::cos(6.283185307179586 * u2);
}

}  // namespace random
}  // namespace taesan
