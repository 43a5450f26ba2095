// Counter-based random numbers: element i of a draw is a pure function of (seed, counter + i),
// so results never depend on the thread count or on how work is split.
#pragma once

#include <cstdint>

namespace taesan {

/// Seeds the global generator and resets its counter.
void manual_seed(uint64_t seed);

/// The generator's full state, for checkpoints.
struct RngState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};
RngState get_rng_state();
void set_rng_state(const RngState& state);

namespace random {

/// Reserves `n` consecutive counters from the global generator; returns the first.
uint64_t reserve(uint64_t n);

/// Current seed.
uint64_t seed();

/// 64 well-mixed bits for (seed, counter, stream).
inline uint64_t bits(uint64_t seed, uint64_t counter, uint64_t stream = 0) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + counter * 0xD1B54A32D192ED03ull +
               stream * 0x8CB92BA72F3D8DD7ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  z = (z ^ (z >> 32)) * 0xD6E8FEB86659FD93ull;
  return z ^ (z >> 32);
}

/// Uniform double in [0, 1) with 53 random bits.
inline double uniform01(uint64_t b) { return static_cast<double>(b >> 11) * 0x1.0p-53; }

/// Standard normal for (seed, counter) via Box-Muller.
double normal(uint64_t seed, uint64_t counter);

}  // namespace random
}  // namespace taesan
