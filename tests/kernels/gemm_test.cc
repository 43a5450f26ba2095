// Tests of kernels::gemm / gemm_strided_batched / gemm_fused against the double-accumulating
// gemm_reference: edge sizes in every dimension, all transpose combinations, padded leading
// dimensions, alpha/beta, the fused epilogue, batches with stride 0, every compiled Highway
// target, and bit-identical results for 1 and 2 threads.
#include "taesan/ops/kernels/gemm.h"

#include <hwy/targets.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/hwy_target_guard.h"
#include "taesan/core/error.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/elementwise.h"

namespace {

namespace k = taesan::kernels;
using taesan::testing::for_each_target;

struct Case {
  bool ta, tb;
  int64_t m, n, k;
  int64_t lda, ldb, ldc;
  double alpha, beta;
};

std::string describe(const Case& c) {
  return std::string("ta=") + std::to_string(c.ta) + " tb=" + std::to_string(c.tb) +
         " m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " lda=" + std::to_string(c.lda) + " ldb=" + std::to_string(c.ldb) +
         " ldc=" + std::to_string(c.ldc) + " alpha=" + std::to_string(c.alpha) +
         " beta=" + std::to_string(c.beta);
}

template <typename T>
std::vector<T> random_vector(size_t size, std::mt19937& rng) {
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(size);
  for (auto& x : v) x = T(dist(rng));
  return v;
}

// Operands of one case; C starts random, or NaN when beta == 0 (it must not be read), and the
// padding columns of C hold a sentinel that must survive.
template <typename T>
struct Operands {
  std::vector<T> a, b, c;
  explicit Operands(const Case& cs, std::mt19937& rng) {
    a = random_vector<T>(size_t((cs.ta ? cs.k : cs.m) * cs.lda), rng);
    b = random_vector<T>(size_t((cs.tb ? cs.n : cs.k) * cs.ldb), rng);
    c = random_vector<T>(size_t(cs.m * cs.ldc), rng);
    for (int64_t i = 0; i < cs.m; ++i) {
      for (int64_t j = 0; j < cs.ldc; ++j) {
        T& x = c[size_t(i * cs.ldc + j)];
        if (j >= cs.n) {
          x = T(12345);
        } else if (cs.beta == 0.0) {
          x = std::numeric_limits<T>::quiet_NaN();
        }
      }
    }
  }
};

// Worst-case bound of a length-k dot product: |err| <= (k + 2) eps sum |alpha a b| + ...
template <typename T>
std::vector<double> error_bound(const Case& cs, const Operands<T>& o) {
  std::vector<double> bound(size_t(cs.m * cs.n));
  const double eps = std::numeric_limits<T>::epsilon();
  for (int64_t i = 0; i < cs.m; ++i) {
    for (int64_t j = 0; j < cs.n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < cs.k; ++p) {
        const double av = cs.ta ? o.a[size_t(p * cs.lda + i)] : o.a[size_t(i * cs.lda + p)];
        const double bv = cs.tb ? o.b[size_t(j * cs.ldb + p)] : o.b[size_t(p * cs.ldb + j)];
        s += std::abs(av * bv);
      }
      const double cv = cs.beta == 0.0 ? 0.0 : std::abs(cs.beta * o.c[size_t(i * cs.ldc + j)]);
      bound[size_t(i * cs.n + j)] = 2.0 * double(cs.k + 4) * eps * (std::abs(cs.alpha) * s + cv) +
                                    std::numeric_limits<T>::min();
    }
  }
  return bound;
}

template <typename T>
void expect_close(const Case& cs, const std::vector<T>& got, const std::vector<T>& want,
                  const std::vector<double>& bound, const char* target) {
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < cs.m; ++i) {
    for (int64_t j = 0; j < cs.ldc; ++j) {
      const size_t at = size_t(i * cs.ldc + j);
      const bool ok =
          j >= cs.n ? got[at] == T(12345)
                    : std::abs(double(got[at]) - double(want[at])) <= bound[size_t(i * cs.n + j)];
      if (!ok && bad++ == 0) {
        first = "(" + std::to_string(i) + "," + std::to_string(j) + ") got " +
                std::to_string(got[at]) + " want " + std::to_string(want[at]);
      }
    }
  }
  INFO(describe(cs) << " target=" << target << " first mismatch " << first);
  CHECK(bad == 0);
}

// Runs one case on every compiled target against one reference.
template <typename T>
void check_case(const Case& cs, std::mt19937& rng) {
  const Operands<T> o(cs, rng);
  std::vector<T> want = o.c;
  k::gemm_reference(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, o.a.data(), cs.lda, o.b.data(),
                    cs.ldb, cs.beta, want.data(), cs.ldc);
  const std::vector<double> bound = error_bound(cs, o);
  for_each_target([&](const char* target) {
    std::vector<T> got = o.c;
    k::gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, T(cs.alpha), o.a.data(), cs.lda, o.b.data(), cs.ldb,
            T(cs.beta), got.data(), cs.ldc);
    expect_close(cs, got, want, bound, target);
  });
}

const int64_t kDims[] = {1, 2, 3, 7, 8, 15, 16, 17, 31, 63, 64, 65, 127, 129, 255, 257, 1000};

// For every size in kDims and every dimension, a case with that size there and random sizes
// from kDims elsewhere (keeping m*n*k <= 4M), with all four transpose combinations.
std::vector<Case> edge_cases(std::mt19937& rng) {
  std::vector<Case> cases;
  std::uniform_int_distribution<size_t> pick(0, std::size(kDims) - 1);
  std::uniform_int_distribution<int64_t> pad(0, 5);
  const double alphas[] = {1.0, -0.5, 2.0};
  const double betas[] = {0.0, 1.0, 0.25};
  int counter = 0;
  for (int64_t d : kDims) {
    for (int dim = 0; dim < 3; ++dim) {
      int64_t s[3];
      do {
        s[0] = kDims[pick(rng)];
        s[1] = kDims[pick(rng)];
        s[2] = kDims[pick(rng)];
        s[dim] = d;
      } while (s[0] * s[1] * s[2] > 4'000'000);
      for (int t = 0; t < 4; ++t, ++counter) {
        Case c;
        c.ta = t & 1;
        c.tb = t & 2;
        c.m = s[0];
        c.n = s[1];
        c.k = s[2];
        c.lda = (c.ta ? c.m : c.k) + pad(rng);
        c.ldb = (c.tb ? c.k : c.n) + pad(rng);
        c.ldc = c.n + pad(rng);
        c.alpha = alphas[counter % 3];
        c.beta = betas[(counter / 3) % 3];
        cases.push_back(c);
      }
    }
  }
  return cases;
}

}  // namespace

TEMPLATE_TEST_CASE("gemm matches the reference on edge sizes, all transposes, all targets",
                   "[gemm]", float, double) {
  std::mt19937 rng(1234);
  for (const Case& c : edge_cases(rng)) check_case<TestType>(c, rng);
}

TEMPLATE_TEST_CASE("gemm handles k == 0, alpha == 0 and empty outputs", "[gemm]", float, double) {
  std::mt19937 rng(7);
  for (int64_t m : {1, 20}) {
    for (int64_t n : {3, 40}) {
      check_case<TestType>({false, false, m, n, 0, 1, n, n + 1, 1.0, 0.5}, rng);
      check_case<TestType>({false, true, m, n, 0, 1, 1, n, 1.0, 0.0}, rng);
      check_case<TestType>({true, false, m, n, 9, m, n, n, 0.0, 2.0}, rng);
    }
  }
  TestType c = 5;
  k::gemm(false, false, 0, 1, 1, TestType(1), nullptr, 1, nullptr, 1, TestType(0), &c, 1);
  CHECK(c == 5);
}

TEMPLATE_TEST_CASE("gemm_strided_batched: stride 0 broadcasts, every target", "[gemm]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(99);
  struct Shape {
    int64_t batch, m, n, k;
    bool ta, tb;
  };
  for (const Shape s : {Shape{5, 33, 40, 17, false, true}, Shape{3, 128, 64, 65, false, false},
                        Shape{4, 9, 70, 31, true, false}, Shape{2, 100, 5, 20, true, true}}) {
    const int64_t lda = (s.ta ? s.m : s.k) + 1, ldb = s.tb ? s.k : s.n, ldc = s.n + 2;
    const int64_t sa = 0;  // one A for the whole batch (a weight)
    const int64_t sb = (s.tb ? s.n : s.k) * ldb + 3, sc = s.m * ldc + 1;
    const auto a = random_vector<T>(size_t((s.ta ? s.k : s.m) * lda), rng);
    const auto b = random_vector<T>(size_t(s.batch * sb), rng);
    const auto c0 = random_vector<T>(size_t(s.batch * sc), rng);
    std::vector<T> want = c0;
    for (int64_t i = 0; i < s.batch; ++i) {
      k::gemm_reference(s.ta, s.tb, s.m, s.n, s.k, 0.5, a.data(), lda, b.data() + i * sb, ldb, -1.0,
                        want.data() + i * sc, ldc);
    }
    for_each_target([&] {
      std::vector<T> got = c0;
      k::gemm_strided_batched(s.batch, s.ta, s.tb, s.m, s.n, s.k, T(0.5), a.data(), lda, sa,
                              b.data(), ldb, sb, T(-1), got.data(), ldc, sc);
      double worst = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        worst = std::max(worst, std::abs(double(got[i]) - double(want[i])));
      }
      INFO("batch " << s.batch << " m " << s.m << " n " << s.n << " k " << s.k);
      CHECK(worst <= (sizeof(T) == 4 ? 2e-5 : 1e-13) * double(s.k));
    });
  }
}

namespace {

double activate(double x, k::GemmActivation act) {
  switch (act) {
    case k::GemmActivation::kNone:
      return x;
    case k::GemmActivation::kRelu:
      return x < 0 ? 0 : x;
    case k::GemmActivation::kGelu:
      return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case k::GemmActivation::kGeluTanh:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}

// The shape of one gemm_fused test product.
struct FusedShape {
  int64_t m, n, k;
  bool ta, tb;
};

// An epilogue that adds bias, applies act and saves the value before it to pre (row stride n).
template <typename T>
k::GemmEpilogue<T> epilogue(const std::vector<T>& bias, k::GemmActivation act, std::vector<T>& pre,
                            int64_t n) {
  k::GemmEpilogue<T> epi;
  epi.bias = bias.data();
  epi.activation = act;
  epi.pre_activation = pre.data();
  epi.ld_pre_activation = n;
  return epi;
}

}  // namespace

TEMPLATE_TEST_CASE("gemm_fused adds the bias and applies the activation on every path", "[gemm]",
                   float, double) {
  using T = TestType;
  std::mt19937 rng(5);
  const k::GemmActivation acts[] = {k::GemmActivation::kNone, k::GemmActivation::kRelu,
                                    k::GemmActivation::kGelu, k::GemmActivation::kGeluTanh};
  // Packed (with edge tiles), small m, small n (both orientations), matrix-vector, and few
  // rows / columns wide enough for the 4-vector tiles.
  for (const FusedShape s :
       {FusedShape{70, 45, 300, false, true}, FusedShape{3, 50, 40, false, false},
        FusedShape{3, 50, 40, true, true}, FusedShape{60, 5, 33, true, false},
        FusedShape{60, 5, 33, false, false}, FusedShape{40, 1, 64, false, false},
        FusedShape{3, 130, 40, false, false}, FusedShape{130, 3, 40, true, true}}) {
    for (const auto act : acts) {
      const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n, ldc = s.n + 1;
      // Inputs scaled so that the pre-activations cover [-6, 6], both tails of GELU.
      auto a = random_vector<T>(size_t((s.ta ? s.k : s.m) * lda), rng);
      for (auto& x : a) x *= T(6.0 / std::sqrt(double(s.k)));
      const auto b = random_vector<T>(size_t((s.tb ? s.n : s.k) * ldb), rng);
      const auto bias = random_vector<T>(size_t(s.n), rng);
      const auto c0 = random_vector<T>(size_t(s.m * ldc), rng);
      std::vector<T> want = c0;
      k::gemm_reference(s.ta, s.tb, s.m, s.n, s.k, 1.0, a.data(), lda, b.data(), ldb, 0.5,
                        want.data(), ldc);
      for_each_target([&] {
        std::vector<T> got = c0, pre(size_t(s.m * s.n));
        const k::GemmEpilogue<T> epi = epilogue(bias, act, pre, s.n);
        k::gemm_fused(s.ta, s.tb, s.m, s.n, s.k, T(1), a.data(), lda, b.data(), ldb, T(0.5),
                      got.data(), ldc, epi);
        int64_t bad = 0;
        for (int64_t i = 0; i < s.m; ++i) {
          for (int64_t j = 0; j < s.n; ++j) {
            const double h = double(want[size_t(i * ldc + j)]) + double(bias[size_t(j)]);
            const double tol = sizeof(T) == 4 ? 2e-5 : 1e-12;
            if (std::abs(double(pre[size_t(i * s.n + j)]) - h) > tol * (1 + std::abs(h))) ++bad;
            const double y = activate(h, act);
            if (std::abs(double(got[size_t(i * ldc + j)]) - y) > tol * (1 + std::abs(y))) ++bad;
          }
        }
        INFO("act " << int(act) << " m " << s.m << " n " << s.n << " k " << s.k << " ta " << s.ta
                    << " tb " << s.tb);
        CHECK(bad == 0);
      });
    }
  }
}

// The feed-forward layer's backward differentiates the elementwise activation (its fused
// activation_grad kernel) of the pre-activation the epilogue saved: the epilogue must compute
// that very function, not an approximation of it.
TEMPLATE_TEST_CASE("gemm_fused's activations are the elementwise kernels' ones, bit for bit",
                   "[gemm]", float, double) {
  using T = TestType;
  std::mt19937 rng(7);
  const std::pair<k::GemmActivation, k::UnaryOp> acts[] = {
      {k::GemmActivation::kRelu, k::UnaryOp::kRelu},
      {k::GemmActivation::kGelu, k::UnaryOp::kGelu},
      {k::GemmActivation::kGeluTanh, k::UnaryOp::kGeluTanh}};
  // Packed with edge tiles, the broadcast kernel (also transposed), dot products, and k = 0
  // (the epilogue alone).
  for (const FusedShape s :
       {FusedShape{70, 45, 300, false, true}, FusedShape{3, 130, 40, false, false},
        FusedShape{60, 5, 33, true, false}, FusedShape{40, 1, 64, false, false},
        FusedShape{9, 7, 0, false, false}}) {
    for (const auto& [act, op] : acts) {
      const int64_t lda = std::max<int64_t>(1, s.ta ? s.m : s.k);
      const int64_t ldb = std::max<int64_t>(1, s.tb ? s.k : s.n);
      // Pre-activations over [-12, 12]: both tails of GELU, where erf is nearly +-1.
      auto a = random_vector<T>(size_t((s.ta ? s.k : s.m) * lda), rng);
      for (auto& x : a) x *= T(12.0 / std::sqrt(double(std::max<int64_t>(s.k, 1))));
      const auto b = random_vector<T>(size_t((s.tb ? s.n : s.k) * ldb), rng);
      auto bias = random_vector<T>(size_t(s.n), rng);
      for (auto& x : bias) x *= T(4);
      for_each_target([&] {
        std::vector<T> got(size_t(s.m * s.n)), pre(got.size()), want(got.size());
        const k::GemmEpilogue<T> epi = epilogue(bias, act, pre, s.n);
        k::gemm_fused(s.ta, s.tb, s.m, s.n, s.k, T(1), a.data(), lda, b.data(), ldb, T(0),
                      got.data(), s.n, epi);
        k::unary(op, 0, pre.data(), 1, want.data(), 1, int64_t(want.size()));
        INFO("act " << int(act) << " m " << s.m << " n " << s.n << " k " << s.k);
        CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(T)) == 0);
      });
    }
  }
}

TEMPLATE_TEST_CASE("gemm results are bit-identical for 1 and 2 threads", "[gemm]", float, double) {
  using T = TestType;
  const int saved_threads = taesan::get_num_threads();
  std::mt19937 rng(3);
  struct Shape {
    int64_t batch, m, n, k;
    bool ta, tb;
  };
  // Packed (both split directions), the three small-shape paths, a batch of 3, and the
  // no-packing path for a small B with many rows (split in 2-D like the packed path).
  for (const Shape s :
       {Shape{1, 301, 203, 700, false, false}, Shape{1, 517, 60, 300, false, true},
        Shape{1, 40, 900, 333, true, false}, Shape{1, 5, 4000, 300, false, false},
        Shape{1, 4000, 7, 300, true, false}, Shape{1, 4000, 7, 300, false, false},
        Shape{1, 9, 3000, 200, false, true}, Shape{3, 100, 130, 120, false, true},
        Shape{1, 1000, 64, 200, false, false}, Shape{1, 999, 70, 150, true, false}}) {
    const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n, ldc = s.n;
    const int64_t sa = (s.ta ? s.k : s.m) * lda, sb = (s.tb ? s.n : s.k) * ldb, sc = s.m * ldc;
    const auto a = random_vector<T>(size_t(s.batch * sa), rng);
    const auto b = random_vector<T>(size_t(s.batch * sb), rng);
    const auto c0 = random_vector<T>(size_t(s.batch * sc), rng);
    std::vector<T> one = c0, two = c0;
    taesan::set_num_threads(1);
    k::gemm_strided_batched(s.batch, s.ta, s.tb, s.m, s.n, s.k, T(1.5), a.data(), lda, sa, b.data(),
                            ldb, sb, T(0.5), one.data(), ldc, sc);
    taesan::set_num_threads(2);
    k::gemm_strided_batched(s.batch, s.ta, s.tb, s.m, s.n, s.k, T(1.5), a.data(), lda, sa, b.data(),
                            ldb, sb, T(0.5), two.data(), ldc, sc);
    INFO("batch " << s.batch << " m " << s.m << " n " << s.n << " k " << s.k);
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(T)) == 0);
    // And the result is right, not just reproducible.
    std::vector<T> want = c0;
    for (int64_t i = 0; i < s.batch; ++i) {
      k::gemm_reference(s.ta, s.tb, s.m, s.n, s.k, 1.5, a.data() + i * sa, lda, b.data() + i * sb,
                        ldb, 0.5, want.data() + i * sc, ldc);
    }
    double worst = 0;
    for (size_t i = 0; i < one.size(); ++i) {
      worst = std::max(worst, std::abs(double(one[i]) - double(want[i])));
    }
    CHECK(worst <= (sizeof(T) == 4 ? 1e-5 : 1e-13) * double(s.k));
  }
  taesan::set_num_threads(saved_threads);
}

TEST_CASE("gemm rejects bad arguments with ts::Error", "[gemm]") {
  std::vector<float> a(64), b(64), c(64);
  CHECK_THROWS_AS(k::gemm(false, false, 4, 4, 4, 1.f, a.data(), 3, b.data(), 4, 0.f, c.data(), 4),
                  taesan::Error);
  CHECK_THROWS_AS(k::gemm(false, true, 4, 4, 4, 1.f, a.data(), 4, b.data(), 3, 0.f, c.data(), 4),
                  taesan::Error);
  CHECK_THROWS_AS(k::gemm(false, false, 4, 4, 4, 1.f, a.data(), 4, b.data(), 4, 0.f, c.data(), 3),
                  taesan::Error);
  CHECK_THROWS_AS(k::gemm(false, false, -1, 4, 4, 1.f, a.data(), 4, b.data(), 4, 0.f, c.data(), 4),
                  taesan::Error);
  CHECK_THROWS_AS(k::gemm_strided_batched(2, false, false, 4, 4, 4, 1.f, a.data(), 4, 0, b.data(),
                                          4, 0, 0.f, c.data(), 4, 8),
                  taesan::Error);
  CHECK_NOTHROW(k::gemm(true, false, 4, 4, 4, 1.f, a.data(), 4, b.data(), 4, 0.f, c.data(), 4));
}
