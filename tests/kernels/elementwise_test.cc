// Elementwise kernels against their scalar references on every compiled Highway target: every
// length 0..70 at 4 alignments, strided and broadcast operands, special values (+-0, +-inf, NaN,
// denormals, overflow), dense accuracy sweeps of the transcendental functions, and bit-identical
// results for 1 and 2 threads. Tolerances are per op and documented in the tables below.
#include "taesan/ops/kernels/elementwise.h"

#include <hwy/aligned_allocator.h>
#include <hwy/targets.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "common/hwy_target_guard.h"
#include "taesan/core/error.h"
#include "taesan/core/parallel.h"

namespace ts = taesan;
namespace k = taesan::kernels;

namespace {

constexpr int kMaxLen = 70;  // > 2N + 1 for the widest target (AVX-512: 16 floats)
constexpr int kGuard = 8;    // elements checked past the end of every output

// ---- ulp distance ------------------------------------------------------------------------------

/// Bits mapped to integers that order like the values (-0 and +0 both map to 0).
int64_t ordered(float v) {
  int32_t i;
  std::memcpy(&i, &v, 4);
  return i < 0 ? int64_t{INT32_MIN} - i : i;
}
int64_t ordered(double v) {
  int64_t i;
  std::memcpy(&i, &v, 8);
  return i < 0 ? INT64_MIN - i : i;
}
template <typename T>
double ulp_distance(T a, T b) {
  const __int128 d = static_cast<__int128>(ordered(a)) - ordered(b);
  return static_cast<double>(d < 0 ? -d : d);
}

/// got matches ref: same NaN-ness, the same infinity, or within `ulps` (denormals count in
/// steps of the smallest denormal), or within the absolute tolerance `abs`.
template <typename T>
bool close(T got, T ref, double ulps, double abs = 0) {
  if (std::isnan(ref) || std::isnan(got)) return std::isnan(ref) && std::isnan(got);
  if (std::isinf(ref) || std::isinf(got)) return got == ref;
  if (std::fabs(static_cast<double>(got) - static_cast<double>(ref)) <= abs) return true;
  return ulp_distance(got, ref) <= ulps;
}

template <typename T>
std::string show(T v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", static_cast<double>(v));
  return buf;
}

// ---- inputs ------------------------------------------------------------------------------------

/// Input distribution: uniform in [lo, hi], or (kLog) sign * 10^uniform(lo, hi) with a random
/// sign when `signed_log` (else positive).
struct Range {
  enum Kind { kLinear, kLog } kind = kLinear;
  double lo = -10, hi = 10;
  bool signed_log = false;
};
Range linear(double lo, double hi) { return {Range::kLinear, lo, hi, false}; }
Range log_positive(double lo, double hi) { return {Range::kLog, lo, hi, false}; }
Range log_signed(double lo, double hi) { return {Range::kLog, lo, hi, true}; }

template <typename T>
std::vector<T> random_values(const Range& r, size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(r.lo, r.hi);
  std::vector<T> v(n);
  for (auto& e : v) {
    if (r.kind == Range::kLinear) {
      e = static_cast<T>(u(gen));
    } else {
      const double mag = std::pow(10.0, u(gen));
      e = static_cast<T>(r.signed_log && (gen() & 1) ? -mag : mag);
    }
  }
  return v;
}

template <typename T>
std::vector<T> special_values() {
  using L = std::numeric_limits<T>;
  std::vector<T> v = {T(0),           T(-0.0),         T(1),
                      T(-1),          T(0.5),          T(-0.5),
                      T(2),           T(-2),           T(3),
                      T(-3),          L::infinity(),   -L::infinity(),
                      L::quiet_NaN(), L::denorm_min(), -L::denorm_min(),
                      L::min(),       -L::min(),       L::max(),
                      -L::max(),      T(1e-10),        T(-1e-10),
                      T(0.7),         T(-0.7),         T(20),
                      T(-20),         T(100),          T(-100),
                      T(1e10),        T(-1e10),        T(88.7),
                      T(-88.7),       T(709.7),        T(-709.7),
                      T(-745.2),      T(-104)};
  return v;
}

// ---- tolerances --------------------------------------------------------------------------------

/// Allowed error of one op and dtype: `ulps` ulp of the reference, plus `arg_ulps` ulp per unit
/// of |2u| for GELU-tanh (its tanh argument 2u = 2 sqrt(2/pi)(x + 0.044715 x^3) is rounded in the
/// working precision, as in PyTorch: about 2.5 ulp of relative error, which exp turns into
/// 2.5 |2u| ulp of the result), plus an absolute
/// `abs_eps` * epsilon * |g| for gradients that cross zero (where no relative bound can hold).
struct Tol {
  double ulps = 0;
  double arg_ulps = 0;
  double abs_eps = 0;
};

double gelu_tanh_arg(double x) { return 2 * 0.7978845608028654 * (x + 0.044715 * x * x * x); }

template <typename T>
bool within(const Tol& tol, T got, T ref, T x, T g = T(1)) {
  double ulps = tol.ulps;
  if (tol.arg_ulps > 0 && std::isfinite(x)) {
    ulps += tol.arg_ulps * std::min(std::fabs(gelu_tanh_arg(static_cast<double>(x))), 1e6);
  }
  const double abs = tol.abs_eps * std::numeric_limits<T>::epsilon() * std::fabs(double(g));
  return close(got, ref, ulps, abs);
}

struct UnaryCase {
  k::UnaryOp op;
  const char* name;
  double param;
  Range range_f, range_d;  // inputs for float / double
  Tol tol_f, tol_d;
};

// The bounds are the measured maxima over all targets (the hidden "[.measure]" test at the end
// prints them) plus a margin of about 1 ulp. Exact IEEE ops must match bit for bit (0 ulp).
const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {k::UnaryOp::kNeg, "neg", 0, linear(-1e3, 1e3), linear(-1e3, 1e3), {0}, {0}},
      {k::UnaryOp::kExp, "exp", 0, linear(-110, 90), linear(-750, 712), {2}, {2}},
      {k::UnaryOp::kLog, "log", 0, log_positive(-40, 38), log_positive(-310, 307), {2}, {2}},
      {k::UnaryOp::kSqrt, "sqrt", 0, log_positive(-40, 38), log_positive(-310, 307), {0}, {0}},
      {k::UnaryOp::kRsqrt, "rsqrt", 0, log_positive(-37, 38), log_positive(-307, 307), {1}, {0}},
      {k::UnaryOp::kAbs, "abs", 0, linear(-1e3, 1e3), linear(-1e3, 1e3), {0}, {0}},
      {k::UnaryOp::kTanh, "tanh", 0, linear(-12, 12), linear(-25, 25), {4}, {4}},
      {k::UnaryOp::kSigmoid, "sigmoid", 0, linear(-110, 40), linear(-750, 50), {3}, {3}},
      {k::UnaryOp::kRelu, "relu", 0, linear(-10, 10), linear(-10, 10), {0}, {0}},
      {k::UnaryOp::kGelu, "gelu", 0, linear(-15, 10), linear(-40, 10), {8}, {8}},
      {k::UnaryOp::kGeluTanh, "gelu_tanh", 0, linear(-12, 10), linear(-25, 10), {4, 3}, {4, 3}},
      {k::UnaryOp::kSilu, "silu", 0, linear(-110, 40), linear(-750, 50), {4}, {4}},
      {k::UnaryOp::kErf, "erf", 0, linear(-6, 6), linear(-8, 8), {3}, {2}},
      {k::UnaryOp::kSquare, "square", 0, log_signed(-20, 19), log_signed(-160, 154), {0}, {0}},
      {k::UnaryOp::kReciprocal, "recip", 0, log_signed(-37, 37), log_signed(-300, 300), {0}, {0}},
      {k::UnaryOp::kSign, "sign", 0, linear(-2, 2), linear(-2, 2), {0}, {0}},
      {k::UnaryOp::kPow, "pow 2", 2, log_signed(-20, 19), log_signed(-150, 150), {0}, {1}},
      {k::UnaryOp::kPow, "pow 0.5", 0.5, log_signed(-40, 38), log_signed(-310, 307), {1}, {1}},
      {k::UnaryOp::kPow, "pow -1", -1, log_signed(-37, 37), log_signed(-300, 300), {1}, {1}},
      {k::UnaryOp::kPow, "pow 1", 1, linear(-1e3, 1e3), linear(-1e3, 1e3), {0}, {0}},
      {k::UnaryOp::kPow, "pow 3", 3, log_signed(-13, 12), log_signed(-100, 100), {1}, {1}},
      {k::UnaryOp::kPow, "pow 0", 0, linear(-1e3, 1e3), linear(-1e3, 1e3), {0}, {0}},
      {k::UnaryOp::kPow, "pow 2.5", 2.5, log_signed(-15, 15), log_signed(-120, 120), {1}, {0}},
      {k::UnaryOp::kPow, "pow -3", -3, log_signed(-12, 12), log_signed(-100, 100), {1}, {0}},
      {k::UnaryOp::kPow, "pow 0.3", 0.3, log_positive(-40, 38), log_positive(-310, 307), {1}, {0}},
      {k::UnaryOp::kPow, "pow 1e9", 1e9, linear(0.9, 1.1), linear(0.99, 1.01), {1}, {0}},
      {k::UnaryOp::kPow, "pow inf", INFINITY, linear(-2, 2), linear(-2, 2), {0}, {0}},
      {k::UnaryOp::kPow, "pow nan", NAN, linear(-2, 2), linear(-2, 2), {0}, {0}},
      {k::UnaryOp::kAddScalar, "add_scalar", 0.1, linear(-10, 10), linear(-10, 10), {0}, {0}},
      {k::UnaryOp::kMulScalar, "mul_scalar", -2.7, linear(-10, 10), linear(-10, 10), {0}, {0}},
      {k::UnaryOp::kRSubScalar, "rsub_scalar", 3.3, linear(-10, 10), linear(-10, 10), {0}, {0}},
      {k::UnaryOp::kRDivScalar, "rdiv", 1.7, log_signed(-30, 30), log_signed(-300, 300), {0}, {0}},
  };
  return cases;
}

struct GradCase {
  k::ActivationGrad op;
  const char* name;
  Range range_f, range_d;  // of v (x, or y for Sigmoid / Tanh)
  Tol tol_f, tol_d;
};

const std::vector<GradCase>& grad_cases() {
  static const std::vector<GradCase> cases = {
      {k::ActivationGrad::kGelu, "gelu", linear(-15, 10), linear(-40, 10), {4, 0, 4}, {4, 0, 4}},
      {k::ActivationGrad::kGeluTanh,
       "gelu_tanh",
       linear(-12, 10),
       linear(-25, 10),
       {4, 3, 4},
       {4, 3, 4}},
      {k::ActivationGrad::kSilu, "silu", linear(-110, 40), linear(-750, 50), {4, 0, 4}, {4, 0, 4}},
      {k::ActivationGrad::kRelu, "relu", linear(-5, 5), linear(-5, 5), {0}, {0}},
      {k::ActivationGrad::kSigmoid, "sigmoid", linear(0, 1), linear(0, 1), {2}, {2}},
      {k::ActivationGrad::kTanh, "tanh", linear(-1, 1), linear(-1, 1), {2}, {2}},
  };
  return cases;
}

struct BinaryCase {
  k::BinaryOp op;
  const char* name;
  Range range_a, range_b;  // same for float and double
  double ulps;
};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {k::BinaryOp::kAdd, "add", linear(-1e3, 1e3), linear(-1e3, 1e3), 0},
      {k::BinaryOp::kSub, "sub", linear(-1e3, 1e3), linear(-1e3, 1e3), 0},
      {k::BinaryOp::kMul, "mul", log_signed(-15, 15), log_signed(-15, 15), 0},
      {k::BinaryOp::kDiv, "div", log_signed(-15, 15), log_signed(-15, 15), 0},
      {k::BinaryOp::kMax, "max", linear(-5, 5), linear(-5, 5), 0},
      {k::BinaryOp::kMin, "min", linear(-5, 5), linear(-5, 5), 0},
      // double pow is std::pow itself; float runs exp(b log a) in double lanes.
      {k::BinaryOp::kPow, "pow", log_positive(-3, 3), linear(-6, 6), 1},
      {k::BinaryOp::kEq, "eq", linear(-2, 2), linear(-2, 2), 0},
      {k::BinaryOp::kLt, "lt", linear(-2, 2), linear(-2, 2), 0},
      {k::BinaryOp::kGt, "gt", linear(-2, 2), linear(-2, 2), 0},
  };
  return cases;
}

using taesan::testing::for_each_target;

template <typename T>
const Tol& tol_of(const UnaryCase& c) {
  if constexpr (sizeof(T) == 4) {
    return c.tol_f;
  } else {
    return c.tol_d;
  }
}
template <typename T>
const Range& range_of(const UnaryCase& c) {
  if constexpr (sizeof(T) == 4) {
    return c.range_f;
  } else {
    return c.range_d;
  }
}
template <typename T>
const Tol& tol_of(const GradCase& c) {
  if constexpr (sizeof(T) == 4) {
    return c.tol_f;
  } else {
    return c.tol_d;
  }
}
template <typename T>
const Range& range_of(const GradCase& c) {
  if constexpr (sizeof(T) == 4) {
    return c.range_f;
  } else {
    return c.range_d;
  }
}

template <typename T>
constexpr T kSentinel = T(-12345.25);

// ---- sweeps ------------------------------------------------------------------------------------

/// Every length 0..kMaxLen at input offsets 0..3 (and a different output offset), in place too.
template <typename T>
void sweep_unary(const char* target) {
  auto xs = hwy::AllocateAligned<T>(kMaxLen + 8);
  auto ys = hwy::AllocateAligned<T>(kMaxLen + 8 + kGuard);
  std::vector<T> ref(kMaxLen);
  uint32_t seed = 1;
  for (const UnaryCase& c : unary_cases()) {
    const std::vector<T> input = random_values<T>(range_of<T>(c), kMaxLen + 4, seed++);
    const Tol& tol = tol_of<T>(c);
    for (int n = 0; n <= kMaxLen; ++n) {
      for (int off = 0; off < 4; ++off) {
        T* x = xs.get() + off;
        T* y = ys.get() + (off + 1) % 4;
        std::copy(input.begin() + off, input.begin() + off + n, x);
        std::fill(ys.get(), ys.get() + kMaxLen + 8 + kGuard, kSentinel<T>);
        k::unary(c.op, c.param, x, 1, y, 1, n);
        k::unary_reference(c.op, c.param, x, ref.data(), n);
        for (int i = 0; i < n; ++i) {
          if (!within(tol, y[i], ref[i], x[i])) {
            FAIL_CHECK(target << " " << c.name << " n=" << n << " off=" << off << " x="
                              << show(x[i]) << " got " << show(y[i]) << " want " << show(ref[i]));
          }
        }
        for (T* p = ys.get(); p < y; ++p) REQUIRE(*p == kSentinel<T>);
        for (int i = n; i < n + kGuard; ++i) REQUIRE(y[i] == kSentinel<T>);
        // In place (x == y) gives the same values.
        k::unary(c.op, c.param, x, 1, x, 1, n);
        for (int i = 0; i < n; ++i) {
          REQUIRE((x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i]))));
        }
      }
    }
  }
}

template <typename T>
void sweep_grad(const char* target) {
  auto vs = hwy::AllocateAligned<T>(kMaxLen + 8);
  auto gs = hwy::AllocateAligned<T>(kMaxLen + 8);
  auto dxs = hwy::AllocateAligned<T>(kMaxLen + 8 + kGuard);
  std::vector<T> ref(kMaxLen);
  uint32_t seed = 100;
  for (const GradCase& c : grad_cases()) {
    const std::vector<T> vin = random_values<T>(range_of<T>(c), kMaxLen + 4, seed++);
    const std::vector<T> gin = random_values<T>(linear(-3, 3), kMaxLen + 4, seed++);
    for (int n = 0; n <= kMaxLen; ++n) {
      for (int off = 0; off < 4; ++off) {
        T* v = vs.get() + off;
        T* g = gs.get() + (off + 2) % 4;
        T* dx = dxs.get() + (off + 1) % 4;
        std::copy(vin.begin() + off, vin.begin() + off + n, v);
        std::copy(gin.begin() + off, gin.begin() + off + n, g);
        std::fill(dxs.get(), dxs.get() + kMaxLen + 8 + kGuard, kSentinel<T>);
        k::activation_grad(c.op, v, g, dx, n);
        k::activation_grad_reference(c.op, v, g, ref.data(), n);
        for (int i = 0; i < n; ++i) {
          if (!within(tol_of<T>(c), dx[i], ref[i], v[i], g[i])) {
            FAIL_CHECK(target << " grad " << c.name << " n=" << n << " v=" << show(v[i]) << " g="
                              << show(g[i]) << " got " << show(dx[i]) << " want " << show(ref[i]));
          }
        }
        for (T* p = dxs.get(); p < dx; ++p) REQUIRE(*p == kSentinel<T>);
        for (int i = n; i < n + kGuard; ++i) REQUIRE(dx[i] == kSentinel<T>);
      }
    }
  }
}

template <typename T>
void check_binary(const char* target, const BinaryCase& c, const T* a, int64_t sa, const T* b,
                  int64_t sb, int64_t so, int n) {
  std::vector<T> out(static_cast<size_t>(std::max(1, n) * 3 + kGuard), kSentinel<T>);
  std::vector<T> ref(static_cast<size_t>(std::max(n, 1)));
  k::binary(c.op, a, sa, b, sb, out.data(), so, n);
  k::binary_reference(c.op, a, sa, b, sb, ref.data(), n);
  for (int i = 0; i < n; ++i) {
    const T got = out[static_cast<size_t>(i * so)];
    if (!close(got, ref[i], c.ulps)) {
      FAIL_CHECK(target << " " << c.name << " n=" << n << " sa=" << sa << " sb=" << sb
                        << " so=" << so << " a=" << show(a[i * sa]) << " b=" << show(b[i * sb])
                        << " got " << show(got) << " want " << show(ref[i]));
    }
  }
  // Only the strided positions are written.
  for (size_t j = 0; j < out.size(); ++j) {
    const bool written = so > 0 && j % static_cast<size_t>(so) == 0 &&
                         j / static_cast<size_t>(so) < static_cast<size_t>(n);
    if (!written) REQUIRE(out[j] == kSentinel<T>);
  }
}

template <typename T>
void sweep_binary(const char* target) {
  auto as = hwy::AllocateAligned<T>(3 * 300 + 8);
  auto bs = hwy::AllocateAligned<T>(3 * 300 + 8);
  uint32_t seed = 200;
  for (const BinaryCase& c : binary_cases()) {
    std::vector<T> ain = random_values<T>(c.range_a, 3 * 300 + 4, seed++);
    std::vector<T> bin = random_values<T>(c.range_b, 3 * 300 + 4, seed++);
    if (c.op == k::BinaryOp::kEq) {  // make equality happen
      for (size_t i = 0; i < bin.size(); i += 3) bin[i] = ain[i];
    }
    // Contiguous and broadcast operands at every length and alignment.
    for (int n = 0; n <= kMaxLen; ++n) {
      for (int off = 0; off < 4; ++off) {
        T* a = as.get() + off;
        T* b = bs.get() + (off + 3) % 4;
        std::copy(ain.begin(), ain.begin() + n + 1, a);
        std::copy(bin.begin(), bin.begin() + n + 1, b);
        for (int sa = 0; sa <= 1; ++sa) {
          for (int sb = 0; sb <= 1; ++sb) check_binary(target, c, a, sa, b, sb, 1, n);
        }
      }
    }
    // Strided operands and output (3 crosses the 256-element gather blocks at n = 300).
    std::copy(ain.begin(), ain.end() - 4, as.get());
    std::copy(bin.begin(), bin.end() - 4, bs.get());
    for (int n : {0, 1, 5, 17, 64, 300}) {
      for (int64_t sa : {0, 1, 3}) {
        for (int64_t sb : {0, 1, 3}) {
          for (int64_t so : {1, 3}) check_binary(target, c, as.get(), sa, bs.get(), sb, so, n);
        }
      }
    }
    // In place: out == a.
    std::vector<T> a(ain.begin(), ain.begin() + kMaxLen), ref(kMaxLen);
    k::binary_reference(c.op, a.data(), 1, bin.data(), 1, ref.data(), kMaxLen);
    k::binary(c.op, a.data(), 1, bin.data(), 1, a.data(), 1, kMaxLen);
    for (int i = 0; i < kMaxLen; ++i) REQUIRE(close(a[i], ref[i], c.ulps));
  }
}

/// Strided unary (sx in {0, 1, 3}, sy in {1, 3}) gives the contiguous results.
template <typename T>
void sweep_unary_strided(const char* target) {
  uint32_t seed = 300;
  for (const UnaryCase& c : unary_cases()) {
    const std::vector<T> x = random_values<T>(range_of<T>(c), 3 * 300, seed++);
    for (int n : {0, 1, 7, 33, 300}) {
      for (int64_t sx : {0, 1, 3}) {
        for (int64_t sy : {1, 3}) {
          std::vector<T> packed(static_cast<size_t>(n)), want(static_cast<size_t>(n));
          for (int i = 0; i < n; ++i) packed[i] = x[i * sx];
          k::unary(c.op, c.param, packed.data(), 1, want.data(), 1, n);
          std::vector<T> y(static_cast<size_t>(n) * 3 + kGuard, kSentinel<T>);
          k::unary(c.op, c.param, x.data(), sx, y.data(), sy, n);
          for (int i = 0; i < n; ++i) {
            const T got = y[static_cast<size_t>(i * sy)];
            if (!(got == want[i] || (std::isnan(got) && std::isnan(want[i])))) {
              FAIL_CHECK(target << " " << c.name << " strided sx=" << sx << " sy=" << sy
                                << " i=" << i << " got " << show(got) << " want " << show(want[i]));
            }
          }
          for (size_t j = 0; j < y.size(); ++j) {
            if (j % static_cast<size_t>(sy) != 0 || j / static_cast<size_t>(sy) >= size_t(n)) {
              REQUIRE(y[j] == kSentinel<T>);
            }
          }
        }
      }
    }
  }
}

/// Special values through every unary op and gradient, compared with the reference.
template <typename T>
void check_special_values(const char* target) {
  const std::vector<T> x = special_values<T>();
  const int n = static_cast<int>(x.size());
  std::vector<T> y(n), ref(n), g(n, T(1.5));
  for (const UnaryCase& c : unary_cases()) {
    k::unary(c.op, c.param, x.data(), 1, y.data(), 1, n);
    k::unary_reference(c.op, c.param, x.data(), ref.data(), n);
    for (int i = 0; i < n; ++i) {
      if (!within(tol_of<T>(c), y[i], ref[i], x[i])) {
        FAIL_CHECK(target << " " << c.name << "(" << show(x[i]) << ") = " << show(y[i]) << ", want "
                          << show(ref[i]));
      }
    }
  }
  for (const GradCase& c : grad_cases()) {
    k::activation_grad(c.op, x.data(), g.data(), y.data(), n);
    k::activation_grad_reference(c.op, x.data(), g.data(), ref.data(), n);
    for (int i = 0; i < n; ++i) {
      if (!within(tol_of<T>(c), y[i], ref[i], x[i], g[i])) {
        FAIL_CHECK(target << " grad " << c.name << "(" << show(x[i]) << ") = " << show(y[i])
                          << ", want " << show(ref[i]));
      }
    }
  }
  for (const BinaryCase& c : binary_cases()) {
    for (int j = 0; j < n; ++j) {  // every pair: a = x[i], b = x[j]
      std::vector<T> b(n, x[j]);
      k::binary(c.op, x.data(), 1, b.data(), 1, y.data(), 1, n);
      k::binary_reference(c.op, x.data(), 1, b.data(), 1, ref.data(), n);
      for (int i = 0; i < n; ++i) {
        if (!close(y[i], ref[i], c.ulps)) {
          FAIL_CHECK(target << " " << c.name << "(" << show(x[i]) << ", " << show(x[j])
                            << ") = " << show(y[i]) << ", want " << show(ref[i]));
        }
      }
    }
  }
}

/// Dense sweep of one op over many inputs; returns the worst error in ulp (relative to the
/// tolerance's allowance when `tol` is given) and fails on the first input outside `tol`.
template <typename T>
void accuracy_sweep(const char* target, const UnaryCase& c, const Range& r, size_t count) {
  const std::vector<T> x = random_values<T>(r, count, 7);
  std::vector<T> y(count), ref(count);
  k::unary(c.op, c.param, x.data(), 1, y.data(), 1, static_cast<int64_t>(count));
  k::unary_reference(c.op, c.param, x.data(), ref.data(), static_cast<int64_t>(count));
  int failures = 0;
  for (size_t i = 0; i < count && failures < 5; ++i) {
    if (!within(tol_of<T>(c), y[i], ref[i], x[i])) {
      ++failures;
      FAIL_CHECK(target << " " << c.name << "(" << show(x[i]) << ") = " << show(y[i]) << ", want "
                        << show(ref[i]) << " (" << ulp_distance(y[i], ref[i]) << " ulp)");
    }
  }
}

/// Worst error in ulp of a unary op (or of a gradient with g = 1) over `count` inputs from r.
template <typename T>
double max_ulp_error(const UnaryCase* uc, const GradCase* gc, const Range& r, size_t count) {
  const std::vector<T> x = random_values<T>(r, count, 9);
  const std::vector<T> g(count, T(1));
  std::vector<T> y(count), ref(count);
  const auto n = static_cast<int64_t>(count);
  if (uc != nullptr) {
    k::unary(uc->op, uc->param, x.data(), 1, y.data(), 1, n);
    k::unary_reference(uc->op, uc->param, x.data(), ref.data(), n);
  } else {
    k::activation_grad(gc->op, x.data(), g.data(), y.data(), n);
    k::activation_grad_reference(gc->op, x.data(), g.data(), ref.data(), n);
  }
  double worst = 0;
  for (size_t i = 0; i < count; ++i) {
    if (std::isnan(ref[i]) != std::isnan(y[i])) return INFINITY;
    if (!std::isnan(ref[i])) worst = std::max(worst, ulp_distance(y[i], ref[i]));
  }
  return worst;
}

const UnaryCase& case_of(k::UnaryOp op) {
  for (const UnaryCase& c : unary_cases()) {
    if (c.op == op) return c;
  }
  FAIL("no case");
  return unary_cases()[0];
}

}  // namespace

TEST_CASE("unary kernels match the reference at every length and alignment", "[elementwise]") {
  for_each_target([](const char* target) {
    sweep_unary<float>(target);
    sweep_unary<double>(target);
  });
}

TEST_CASE("unary kernels on strided input and output", "[elementwise]") {
  for_each_target([](const char* target) {
    sweep_unary_strided<float>(target);
    sweep_unary_strided<double>(target);
  });
}

TEST_CASE("activation gradients match the reference", "[elementwise]") {
  for_each_target([](const char* target) {
    sweep_grad<float>(target);
    sweep_grad<double>(target);
  });
}

TEST_CASE("binary kernels: contiguous, broadcast and strided operands", "[elementwise]") {
  for_each_target([](const char* target) {
    sweep_binary<float>(target);
    sweep_binary<double>(target);
  });
}

TEST_CASE("special values follow std:: and PyTorch", "[elementwise]") {
  for_each_target([](const char* target) {
    check_special_values<float>(target);
    check_special_values<double>(target);
  });
  // A few semantics spelled out (they also follow from the reference).
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {nan, 0.f, -0.f, -3.f, inf, -inf}, y(6);
  k::unary(k::UnaryOp::kRelu, 0, x.data(), 1, y.data(), 1, 6);
  CHECK(std::isnan(y[0]));
  k::unary(k::UnaryOp::kSign, 0, x.data(), 1, y.data(), 1, 6);
  CHECK(y == std::vector<float>{0, 0, 0, -1, 1, -1});
  k::unary(k::UnaryOp::kExp, 0, x.data(), 1, y.data(), 1, 6);
  CHECK(std::isnan(y[0]));
  CHECK(y[4] == inf);
  CHECK(y[5] == 0);
  k::unary(k::UnaryOp::kLog, 0, x.data(), 1, y.data(), 1, 6);
  CHECK(y[1] == -inf);
  CHECK(std::isnan(y[3]));
  k::unary(k::UnaryOp::kSigmoid, 0, x.data(), 1, y.data(), 1, 6);
  CHECK(y[4] == 1);
  CHECK(y[5] == 0);
  std::vector<float> a = {nan, 1.f, 2.f}, b = {1.f, nan, 0.f}, out(3);
  k::binary(k::BinaryOp::kMax, a.data(), 1, b.data(), 1, out.data(), 1, 3);
  CHECK((std::isnan(out[0]) && std::isnan(out[1]) && out[2] == 2.f));
  k::binary(k::BinaryOp::kDiv, a.data(), 1, b.data(), 1, out.data(), 1, 3);
  CHECK(out[2] == inf);
  k::binary(k::BinaryOp::kGt, a.data(), 1, b.data(), 1, out.data(), 1, 3);
  CHECK(out == std::vector<float>{0, 0, 1});
}

TEST_CASE("erf, gelu, exp, log, tanh: dense accuracy sweeps", "[elementwise]") {
  for_each_target([](const char* target) {
    for (k::UnaryOp op :
         {k::UnaryOp::kErf, k::UnaryOp::kGelu, k::UnaryOp::kExp, k::UnaryOp::kLog,
          k::UnaryOp::kTanh, k::UnaryOp::kSigmoid, k::UnaryOp::kSilu, k::UnaryOp::kGeluTanh}) {
      const UnaryCase& c = case_of(op);
      accuracy_sweep<float>(target, c, c.range_f, 200000);
      accuracy_sweep<double>(target, c, c.range_d, 50000);
    }
    // erf near 0 (x P(x^2) down to denormals) and in its tails.
    const UnaryCase& erf = case_of(k::UnaryOp::kErf);
    accuracy_sweep<float>(target, erf, log_signed(-44, 1), 100000);
    accuracy_sweep<double>(target, erf, log_signed(-320, 1), 50000);
    accuracy_sweep<float>(target, erf, linear(-11, 11), 100000);
    accuracy_sweep<double>(target, erf, linear(-28, 28), 50000);
  });
}

TEST_CASE("axpy accumulates at every length and alignment", "[elementwise]") {
  for_each_target([](const char* target) {
    auto xs = hwy::AllocateAligned<double>(kMaxLen + 8);
    auto ys = hwy::AllocateAligned<double>(kMaxLen + 8 + kGuard);
    auto xf = hwy::AllocateAligned<float>(kMaxLen + 8);
    auto yf = hwy::AllocateAligned<float>(kMaxLen + 8 + kGuard);
    const std::vector<double> xin = random_values<double>(linear(-4, 4), kMaxLen + 4, 1);
    const std::vector<double> yin = random_values<double>(linear(-4, 4), kMaxLen + 4, 2);
    for (int n = 0; n <= kMaxLen; ++n) {
      for (int off = 0; off < 4; ++off) {
        double* x = xs.get() + off;
        double* y = ys.get() + (off + 1) % 4;
        float* x32 = xf.get() + off;
        float* y32 = yf.get() + (off + 1) % 4;
        std::fill(ys.get(), ys.get() + kMaxLen + 8 + kGuard, kSentinel<double>);
        std::fill(yf.get(), yf.get() + kMaxLen + 8 + kGuard, kSentinel<float>);
        for (int i = 0; i < n; ++i) {
          x[i] = xin[i];
          y[i] = yin[i];
          x32[i] = static_cast<float>(xin[i]);
          y32[i] = static_cast<float>(yin[i]);
        }
        k::axpy(-0.75, x, y, n);
        k::axpy(-0.75f, x32, y32, n);
        for (int i = 0; i < n; ++i) {
          // Fused or not (targets without FMA round twice): 2^-p (|y| + |alpha x|) at most.
          const double want = std::fma(-0.75, xin[i], yin[i]);
          const double scale = std::fabs(yin[i]) + std::fabs(0.75 * xin[i]);
          if (std::fabs(y[i] - want) > scale * 2.3e-16)
            FAIL_CHECK(target << " axpy double n=" << n);
          const double want32 = static_cast<double>(static_cast<float>(yin[i])) -
                                0.75 * static_cast<double>(static_cast<float>(xin[i]));
          if (std::fabs(y32[i] - want32) > scale * 2.4e-7)
            FAIL_CHECK(target << " axpy float n=" << n);
        }
        for (int i = n; i < n + kGuard; ++i) {
          REQUIRE(y[i] == kSentinel<double>);
          REQUIRE(y32[i] == kSentinel<float>);
        }
      }
    }
  });
}

TEST_CASE("results are bit-identical for 1 and 2 threads", "[elementwise]") {
  const int saved = ts::get_num_threads();
  // Long enough for several chunks even for the cheap ops (grain 32K).
  const int64_t n = (int64_t{1} << 18) + 37;
  const std::vector<float> x = random_values<float>(linear(-8, 8), static_cast<size_t>(n), 11);
  const std::vector<float> g = random_values<float>(linear(-2, 2), static_cast<size_t>(n), 12);
  const std::vector<double> xd = random_values<double>(linear(-8, 8), static_cast<size_t>(n), 13);
  // Runs `kernel` writing `out` with 1 and with 2 threads and compares the bytes.
  auto same_for_1_and_2 = [&](const std::string& what, auto& out, const auto& kernel) {
    using V = std::decay_t<decltype(out)>;
    ts::set_num_threads(1);
    kernel(out);
    const V one = out;
    ts::set_num_threads(2);
    kernel(out);
    INFO(what);
    CHECK(std::memcmp(one.data(), out.data(), out.size() * sizeof(out[0])) == 0);
  };
  std::vector<float> out(static_cast<size_t>(n));
  std::vector<double> out_d(static_cast<size_t>(n));
  for (const UnaryCase& c : unary_cases()) {
    same_for_1_and_2(c.name, out, [&](std::vector<float>& y) {
      k::unary(c.op, c.param, x.data(), 1, y.data(), 1, n);
    });
    same_for_1_and_2(c.name, out_d, [&](std::vector<double>& y) {
      k::unary(c.op, c.param, xd.data(), 1, y.data(), 1, n);
    });
  }
  same_for_1_and_2("strided gelu", out, [&](std::vector<float>& y) {
    k::unary(k::UnaryOp::kGelu, 0, x.data(), 2, y.data(), 1, n / 2);
  });
  for (const BinaryCase& c : binary_cases()) {
    same_for_1_and_2(c.name, out, [&](std::vector<float>& y) {
      k::binary(c.op, x.data(), 1, g.data(), 1, y.data(), 1, n);
    });
    same_for_1_and_2(c.name, out, [&](std::vector<float>& y) {
      k::binary(c.op, x.data(), 0, g.data(), 1, y.data(), 1, n);
    });
  }
  same_for_1_and_2("strided mul", out, [&](std::vector<float>& y) {
    k::binary(k::BinaryOp::kMul, x.data(), 3, g.data(), 1, y.data(), 1, n / 3);
  });
  for (const GradCase& c : grad_cases()) {
    same_for_1_and_2(c.name, out, [&](std::vector<float>& y) {
      k::activation_grad(c.op, x.data(), g.data(), y.data(), n);
    });
  }
  same_for_1_and_2("axpy", out, [&](std::vector<float>& y) {
    y = g;
    k::axpy(0.3f, x.data(), y.data(), n);
  });
  ts::set_num_threads(saved);
}

TEST_CASE("elementwise kernels reject bad arguments", "[elementwise]") {
  std::vector<float> x(4), y(4);
  CHECK_THROWS_AS(k::unary(k::UnaryOp::kExp, 0, x.data(), 1, y.data(), 1, -1), ts::Error);
  CHECK_THROWS_AS(k::unary(static_cast<k::UnaryOp>(200), 0, x.data(), 1, y.data(), 1, 4),
                  ts::Error);
  CHECK_THROWS_AS(k::binary(static_cast<k::BinaryOp>(99), x.data(), 1, x.data(), 1, y.data(), 1, 4),
                  ts::Error);
  CHECK_THROWS_AS(k::activation_grad(k::ActivationGrad::kGelu, x.data(), x.data(), y.data(), -5),
                  ts::Error);
  CHECK_THROWS_AS(k::axpy(1.f, x.data(), y.data(), -2), ts::Error);
  try {
    k::unary(k::UnaryOp::kExp, 0, x.data(), 1, y.data(), 1, -7);
  } catch (const ts::Error& e) {
    CHECK(std::string(e.what()).find("unary") != std::string::npos);
    CHECK(std::string(e.what()).find("-7") != std::string::npos);
  }
}

// Not run by default: prints the worst error of every op on every target (the numbers behind the
// tolerance tables). `test_kernels "[.measure]" -s`
TEST_CASE("measure elementwise accuracy", "[.measure]") {
  for_each_target([](const char* target) {
    for (const UnaryCase& c : unary_cases()) {
      const double f = max_ulp_error<float>(&c, nullptr, c.range_f, 400000);
      const double d = max_ulp_error<double>(&c, nullptr, c.range_d, 100000);
      std::printf("%-8s %-12s float %8.1f ulp   double %8.1f ulp\n", target, c.name, f, d);
    }
    for (const GradCase& c : grad_cases()) {
      const double f = max_ulp_error<float>(nullptr, &c, c.range_f, 400000);
      const double d = max_ulp_error<double>(nullptr, &c, c.range_d, 100000);
      std::printf("%-8s grad %-7s float %8.1f ulp   double %8.1f ulp\n", target, c.name, f, d);
    }
  });
}
