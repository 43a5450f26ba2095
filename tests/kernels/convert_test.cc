// float32 <-> bfloat16 conversion: the scalar rules (core/bfloat16.h) exhaustively over every
// bfloat16 bit pattern (round trip, ties to even at every midpoint, NaN quieted, Inf kept,
// denormals, -0), double -> bfloat16 rounded once, and the SIMD kernels against the scalar
// references bit for bit on every compiled Highway target (lengths 0..70 at 4 misalignments, a
// strided sweep of all 2^32 float patterns, in place, 1 and 2 threads).
#include "taesan/ops/kernels/convert.h"

#include <hwy/targets.h>

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "common/hwy_target_guard.h"
#include "taesan/core/bfloat16.h"
#include "taesan/core/parallel.h"

namespace ts = taesan;
namespace k = taesan::kernels;
using taesan::testing::for_each_target;

namespace {

float from_bits(uint32_t u) { return std::bit_cast<float>(u); }
uint32_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }
bool bf16_is_nan(uint16_t b) { return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0; }

/// Floats that stress the conversion: every class of value and the rounding boundaries.
std::vector<float> special_floats() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(),
                          -std::numeric_limits<float>::quiet_NaN(),
                          std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(),
                          std::numeric_limits<float>::min(),
                          std::numeric_limits<float>::denorm_min(),
                          -std::numeric_limits<float>::denorm_min()};
  for (uint32_t u : {0x7f800001u, 0xff800001u, 0x7fbfffffu, 0x7fc00001u, 0x7f7f7fffu, 0x7f7f8000u,
                     0x7f7f8001u, 0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x00008000u, 0x00018000u,
                     0x007fffffu, 0x807fffffu, 0x00800000u, 0x007f8000u, 0xbf808000u})
    v.push_back(from_bits(u));
  return v;
}

/// Random 32-bit patterns (every class of float, NaNs with any payload) mixed with specials.
std::vector<float> test_input(size_t n, std::mt19937& rng) {
  const std::vector<float> specials = special_floats();
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = rng() % 4 == 0 ? specials[rng() % specials.size()] : from_bits(rng());
  return v;
}

}  // namespace

TEST_CASE("every bfloat16 converts to float32 and back to itself", "[kernels][convert]") {
  int64_t nans = 0;
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const auto bits = static_cast<uint16_t>(b);
    const float f = ts::float_from_bf16_bits(bits);
    CHECK(bits_of(f) == b << 16);  // widening is exact
    const uint16_t back = ts::bf16_bits_from_float(f);
    const uint16_t back_d = ts::bf16_bits_from_double(static_cast<double>(f));
    if (bf16_is_nan(bits)) {
      ++nans;
      // NaN stays NaN with its sign, quieted (a signaling NaN gets the quiet bit).
      CHECK((bf16_is_nan(back) && (back & 0x40) && (back & 0x8000) == (bits & 0x8000)));
      CHECK((bf16_is_nan(back_d) && (back_d & 0x8000) == (bits & 0x8000)));
      if (bits & 0x40) CHECK(back == bits);  // a quiet NaN keeps its payload
    } else {
      INFO("bits 0x" << std::hex << b);
      REQUIRE(back == bits);
      REQUIRE(back_d == bits);
      REQUIRE(bits_of(ts::round_to_bf16(f)) == b << 16);
    }
  }
  CHECK(nans == 2 * 127);
}

TEST_CASE("float32 rounds to the nearest bfloat16, ties to even, at every midpoint",
          "[kernels][convert]") {
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    if ((b & 0x7f80) == 0x7f80) continue;  // Inf / NaN have no neighbour above
    const uint32_t base = b << 16;
    const auto lo = static_cast<uint16_t>(b), hi = static_cast<uint16_t>(b + 1);  // away from 0
    INFO("bits 0x" << std::hex << b);
    REQUIRE(ts::bf16_bits_from_float(from_bits(base | 0x7fff)) == lo);
    REQUIRE(ts::bf16_bits_from_float(from_bits(base | 0x8000)) == ((b & 1) ? hi : lo));
    REQUIRE(ts::bf16_bits_from_float(from_bits(base | 0x8001)) == hi);
    REQUIRE(ts::bf16_bits_from_float(from_bits(base | 0x0001)) == lo);
  }
  // The named cases: 1 + 2^-8 is a tie between 1 (even) and 1 + 2^-7 (odd); 1 + 3 * 2^-8 a tie
  // that goes up to the even 1 + 2^-6. Above the largest finite bfloat16 by half an ulp: Inf.
  CHECK(ts::bf16_bits_from_float(1.0f + 0x1p-8f) == 0x3f80);
  CHECK(ts::bf16_bits_from_float(1.0f + 3 * 0x1p-8f) == 0x3f82);
  CHECK(ts::bf16_bits_from_float(std::numeric_limits<float>::max()) == 0x7f80);
  CHECK(ts::bf16_bits_from_float(from_bits(0x7f7f7fff)) == 0x7f7f);
  CHECK(ts::bf16_bits_from_float(-std::numeric_limits<float>::infinity()) == 0xff80);
  CHECK(ts::bf16_bits_from_float(-0.0f) == 0x8000);
  // Denormals round on the same grid: the smallest float denormal goes to +0, and the largest
  // float denormal to the smallest normal bfloat16.
  CHECK(ts::bf16_bits_from_float(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(ts::bf16_bits_from_float(-std::numeric_limits<float>::denorm_min()) == 0x8000);
  CHECK(ts::bf16_bits_from_float(from_bits(0x007fffff)) == 0x0080);
  CHECK(ts::bf16_bits_from_float(from_bits(0x00018000)) == 0x0002);  // tie to even (2)
}

TEST_CASE("NaN stays a NaN and never rounds into Inf", "[kernels][convert]") {
  // Payloads only in the dropped half: truncation (or plain rounding) would give Inf.
  for (uint32_t u :
       {0x7f800001u, 0x7f807fffu, 0x7f808000u, 0x7fffffffu, 0xff800001u, 0xffffffffu}) {
    const uint16_t b = ts::bf16_bits_from_float(from_bits(u));
    INFO("float bits 0x" << std::hex << u);
    CHECK(bf16_is_nan(b));
    CHECK((b & 0x8000) == ((u >> 16) & 0x8000));
    CHECK(std::isnan(ts::round_to_bf16(from_bits(u))));
    CHECK(bf16_is_nan(ts::bf16_bits_from_double(static_cast<double>(from_bits(u)))));
  }
}

TEST_CASE("double rounds to bfloat16 once, not through float32's rounding", "[kernels][convert]") {
  // 1 + 2^-8 + 2^-30: float32 rounds it to the tie 1 + 2^-8, which would then go down to 1.
  CHECK(ts::bf16_bits_from_double(1.0 + 0x1p-8 + 0x1p-30) == 0x3f81);
  CHECK(ts::bf16_bits_from_float(static_cast<float>(1.0 + 0x1p-8 + 0x1p-30)) == 0x3f80);
  CHECK(ts::bf16_bits_from_double(1.0 + 0x1p-8) == 0x3f80);  // a true tie
  CHECK(ts::bf16_bits_from_double(-(1.0 + 0x1p-8 + 0x1p-40)) == 0xbf81);
  CHECK(ts::bf16_bits_from_double(1e300) == 0x7f80);  // overflow: Inf
  CHECK(ts::bf16_bits_from_double(-1e300) == 0xff80);
  CHECK(ts::bf16_bits_from_double(1e-300) == 0x0000);  // underflow: +0
  CHECK(ts::bf16_bits_from_double(-1e-300) == 0x8000);
  // Against the definition, on random doubles across the whole bfloat16 range: the result is a
  // nearest bfloat16, and on a tie the even one.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const double d = std::ldexp(std::uniform_real_distribution<double>(-1, 1)(rng),
                                static_cast<int>(rng() % 267) - 140);  // |d| < 2^127: finite
    const uint16_t b = ts::bf16_bits_from_double(d);
    const double got = static_cast<double>(ts::float_from_bf16_bits(b));
    for (int step : {-1, 1}) {
      const auto nb = static_cast<uint16_t>(b + step);
      if ((nb & 0x7fff) > 0x7f7f) continue;  // past the finite range (or across -0/+0)
      const double other = static_cast<double>(ts::float_from_bf16_bits(nb));
      const double dg = std::fabs(d - got), dn = std::fabs(d - other);
      INFO("d = " << d << " bits 0x" << std::hex << b);
      REQUIRE(dg <= dn);
      if (dg == dn) REQUIRE((b & 1) == 0);
    }
  }
}

TEST_CASE("conversion kernels equal their scalar references on every target",
          "[kernels][convert]") {
  std::mt19937 rng(11);
  constexpr int kMaxLen = 70, kGuard = 8;
  for_each_target([&] {
    for (int len = 0; len <= kMaxLen; ++len) {
      for (int mis = 0; mis < 4; ++mis) {
        INFO("length " << len << " misalignment " << mis);
        const std::vector<float> in = test_input(len + mis, rng);
        const float* x = in.data() + mis;
        // float -> bf16 bits
        std::vector<uint16_t> want(len), got(len + mis + kGuard, 0xabcd);
        k::float_to_bf16_reference(x, want.data(), len);
        k::float_to_bf16(x, got.data() + mis, len);
        for (int i = 0; i < len; ++i) REQUIRE(got[mis + i] == want[i]);
        for (int i = 0; i < mis; ++i) REQUIRE(got[i] == 0xabcd);
        for (int i = 0; i < kGuard; ++i) REQUIRE(got[mis + len + i] == 0xabcd);
        // bf16 bits -> float
        std::vector<float> wf(len), gf(len + mis + kGuard, 7.0f);
        k::bf16_to_float_reference(want.data(), wf.data(), len);
        k::bf16_to_float(want.data(), gf.data() + mis, len);
        for (int i = 0; i < len; ++i) REQUIRE(bits_of(gf[mis + i]) == bits_of(wf[i]));
        for (int i = 0; i < kGuard; ++i) REQUIRE(gf[mis + len + i] == 7.0f);
        // float -> rounded float, out of place and in place
        std::vector<float> wr(len), gr(len + mis + kGuard, 7.0f);
        k::round_to_bf16_reference(x, wr.data(), len);
        k::round_to_bf16(x, gr.data() + mis, len);
        std::vector<float> inplace(in);
        k::round_to_bf16(inplace.data() + mis, inplace.data() + mis, len);
        for (int i = 0; i < len; ++i) {
          REQUIRE(bits_of(gr[mis + i]) == bits_of(wr[i]));
          REQUIRE(bits_of(inplace[mis + i]) == bits_of(wr[i]));
          REQUIRE(bits_of(wr[i]) == static_cast<uint32_t>(want[i]) << 16);
        }
        for (int i = 0; i < kGuard; ++i) REQUIRE(gr[mis + len + i] == 7.0f);
      }
    }
    // A strided sweep of all 2^32 float patterns (every 251st: each exponent, sign and NaN class,
    // with low halves all over the rounding boundary), in blocks.
    constexpr uint32_t kStep = 251;
    std::vector<float> block;
    std::vector<uint16_t> want, got;
    uint64_t mismatches = 0;
    for (uint64_t start = 0; start <= 0xffffffffull;) {
      block.clear();
      for (; start <= 0xffffffffull && block.size() < (1u << 16); start += kStep)
        block.push_back(from_bits(static_cast<uint32_t>(start)));
      want.resize(block.size());
      got.resize(block.size());
      k::float_to_bf16_reference(block.data(), want.data(), static_cast<int64_t>(block.size()));
      k::float_to_bf16(block.data(), got.data(), static_cast<int64_t>(block.size()));
      for (size_t i = 0; i < block.size(); ++i) mismatches += got[i] != want[i];
    }
    CHECK(mismatches == 0);
  });
}

TEST_CASE("conversion kernels give the same bits on 1 and 2 threads", "[kernels][convert]") {
  std::mt19937 rng(5);
  const int64_t n = (int64_t{1} << 18) + 37;  // several chunks and a tail
  const std::vector<float> in = test_input(static_cast<size_t>(n), rng);
  std::vector<uint16_t> b1(n), b2(n);
  std::vector<float> r1(n), r2(n);
  const int threads = ts::get_num_threads();
  ts::set_num_threads(1);
  k::float_to_bf16(in.data(), b1.data(), n);
  k::round_to_bf16(in.data(), r1.data(), n);
  ts::set_num_threads(2);
  k::float_to_bf16(in.data(), b2.data(), n);
  k::round_to_bf16(in.data(), r2.data(), n);
  ts::set_num_threads(threads);
  CHECK(b1 == b2);
  for (int64_t i = 0; i < n; ++i) REQUIRE(bits_of(r1[i]) == bits_of(r2[i]));
  std::vector<uint16_t> want(n);
  k::float_to_bf16_reference(in.data(), want.data(), n);
  CHECK(b1 == want);
}
