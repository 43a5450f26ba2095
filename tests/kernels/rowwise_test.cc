// Tests of the row kernels (ops/kernels/rowwise.h): every function against its scalar reference
// on every compiled Highway target, for row lengths 0..70 and a few large ones, misaligned
// pointers, masked (-inf) entries, all -inf rows, large inputs; cross entropy also against its
// direct formula; bit-identical results for 1, 2 and 3 threads.
#include "taesan/ops/kernels/rowwise.h"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iomanip>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/hwy_target_guard.h"
#include "hwy/highway.h"
#include "kernels/row_test_util.h"
#include "taesan/core/error.h"
#include "taesan/core/parallel.h"

namespace ts = taesan;
namespace k = taesan::kernels;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

using taesan::testing::Buf;
using taesan::testing::check_close;
using taesan::testing::fill_normal;
using taesan::testing::for_each_target;
using taesan::testing::test_lengths;
using taesan::testing::Tol;
using taesan::testing::tol;
using taesan::testing::where;

enum class Fill { kNormal, kMasked, kLargeOffset, kLargeSpread };
constexpr Fill kFills[] = {Fill::kNormal, Fill::kMasked, Fill::kLargeOffset, Fill::kLargeSpread};

const char* fill_name(Fill f) {
  switch (f) {
    case Fill::kNormal:
      return "normal";
    case Fill::kMasked:
      return "masked -inf (row 1 all -inf)";
    case Fill::kLargeOffset:
      return "1e4 + 3 randn";
    case Fill::kLargeSpread:
      return "uniform(-1e4, 1e4)";
  }
  return "?";
}

/// Inputs of a rows x cols matrix. kMasked: a quarter of the entries -inf, row 1 entirely -inf.
template <typename T>
void fill_rows(T* x, int64_t rows, int64_t cols, Fill kind, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::bernoulli_distribution masked(0.25);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      double v = 3 * normal(rng);
      if (kind == Fill::kMasked && (r == 1 || masked(rng))) v = -kInf;
      if (kind == Fill::kLargeOffset) v = 1e4 + v;
      if (kind == Fill::kLargeSpread) v = 1e4 * uniform(rng);
      x[r * cols + c] = static_cast<T>(v);
    }
}

}  // namespace

TEMPLATE_TEST_CASE("softmax_rows / log_softmax_rows / logsumexp_rows match the scalar reference",
                   "[kernels][rowwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(1);
  for_each_target([&] {
    for (int64_t cols : test_lengths()) {
      for (int64_t rows : {int64_t{1}, int64_t{3}}) {
        if (cols > 70 && rows > 1) continue;  // keep long rows cheap
        const int64_t rows_eff = cols > 70 ? 2 : rows;
        const size_t n = static_cast<size_t>(rows_eff * cols);
        for (Fill fill : kFills) {
          INFO(where(rows_eff, cols, fill_name(fill)));
          Buf<T> x(n, static_cast<size_t>(cols % 3));
          fill_rows(x.p(), rows_eff, cols, fill, rng);
          Buf<T> y(n, static_cast<size_t>((cols + 1) % 3)), want(n, 0);
          k::softmax_rows(x.p(), y.p(), rows_eff, cols);
          k::reference::softmax_rows(x.p(), want.p(), rows_eff, cols);
          check_close(y.p(), want.p(), static_cast<int64_t>(n), tol<T>({2e-6, 1e-30}, {1e-13, 0}),
                      "softmax");

          k::log_softmax_rows(x.p(), y.p(), rows_eff, cols);
          k::reference::log_softmax_rows(x.p(), want.p(), rows_eff, cols);
          check_close(y.p(), want.p(), static_cast<int64_t>(n),
                      tol<T>({1e-6, 2e-6}, {1e-13, 1e-13}), "log_softmax");

          Buf<T> lse(static_cast<size_t>(rows_eff), 1), lse_want(static_cast<size_t>(rows_eff), 0);
          k::logsumexp_rows(x.p(), lse.p(), rows_eff, cols);
          k::reference::logsumexp_rows(x.p(), lse_want.p(), rows_eff, cols);
          check_close(lse.p(), lse_want.p(), rows_eff, tol<T>({1e-6, 2e-6}, {1e-13, 1e-13}),
                      "logsumexp");
          if (fill == Fill::kMasked && rows_eff > 1 && cols > 0) {  // row 1 is all -inf
            for (int64_t c = 0; c < cols; ++c) REQUIRE(y[static_cast<size_t>(cols + c)] == -kInf);
            REQUIRE(lse[1] == -kInf);
          }
        }
      }
    }
  });
}

TEMPLATE_TEST_CASE("softmax_rows: special rows and in-place use", "[kernels][rowwise]", float,
                   double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  for_each_target([&] {
    // Row 0 all -inf, row 1 one finite entry among -inf, row 2 a NaN, row 3 a +inf.
    const int64_t cols = 19;
    std::vector<T> x(4 * cols, -inf);
    x[cols + 7] = T(3);
    for (int64_t c = 0; c < cols; ++c) x[2 * cols + c] = x[3 * cols + c] = T(c);
    x[2 * cols + 11] = nan;
    x[3 * cols + 5] = inf;
    std::vector<T> y(x.size()), ly(x.size()), lse(4);
    k::softmax_rows(x.data(), y.data(), 4, cols);
    k::log_softmax_rows(x.data(), ly.data(), 4, cols);
    k::logsumexp_rows(x.data(), lse.data(), 4, cols);
    for (int64_t c = 0; c < cols; ++c) {
      CHECK(y[c] == T(0));
      CHECK(ly[c] == -inf);
      CHECK(y[cols + c] == (c == 7 ? T(1) : T(0)));
      CHECK(ly[cols + c] == (c == 7 ? T(0) : -inf));
      CHECK(std::isnan(y[2 * cols + c]));
      CHECK(std::isnan(ly[2 * cols + c]));
      CHECK(std::isnan(y[3 * cols + c]));
    }
    CHECK(lse[0] == -inf);
    CHECK(lse[1] == T(3));
    CHECK(std::isnan(lse[2]));
    CHECK(lse[3] == inf);

    // In place (y == x) gives the same bits as out of place.
    std::mt19937 rng(2);
    std::vector<T> z(5 * 37);
    fill_normal(z.data(), z.size(), rng, 3.0);
    std::vector<T> out(z.size());
    k::softmax_rows(z.data(), out.data(), 5, 37);
    k::softmax_rows(z.data(), z.data(), 5, 37);
    CHECK(std::memcmp(z.data(), out.data(), z.size() * sizeof(T)) == 0);
  });
}

TEMPLATE_TEST_CASE("softmax and log_softmax backward match the scalar reference",
                   "[kernels][rowwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(3);
  for_each_target([&] {
    for (int64_t cols : test_lengths()) {
      const int64_t rows = cols > 70 ? 2 : 3;
      const size_t n = static_cast<size_t>(rows * cols);
      for (Fill fill : {Fill::kNormal, Fill::kMasked}) {
        INFO(where(rows, cols, fill_name(fill)));
        std::vector<T> x(n);
        fill_rows(x.data(), rows, cols, fill, rng);
        Buf<T> y(n, static_cast<size_t>(cols % 2)), g(n, static_cast<size_t>(cols % 3));
        fill_normal(g.p(), n, rng);
        Buf<T> dx(n, 1), want(n, 0);

        k::reference::softmax_rows(x.data(), y.p(), rows, cols);
        k::softmax_backward_rows(y.p(), g.p(), dx.p(), rows, cols);
        k::reference::softmax_backward_rows(y.p(), g.p(), want.p(), rows, cols);
        check_close(dx.p(), want.p(), static_cast<int64_t>(n), tol<T>({1e-5, 1e-6}, {1e-12, 1e-14}),
                    "softmax_backward");

        k::reference::log_softmax_rows(x.data(), y.p(), rows, cols);
        k::log_softmax_backward_rows(y.p(), g.p(), dx.p(), rows, cols);
        k::reference::log_softmax_backward_rows(y.p(), g.p(), want.p(), rows, cols);
        const double scale = 1e-5 * std::sqrt(static_cast<double>(cols) + 1);
        check_close(dx.p(), want.p(), static_cast<int64_t>(n),
                    tol<T>({1e-5, scale}, {1e-12, 1e-12 * scale}), "log_softmax_backward");
      }
    }
  });
}

TEMPLATE_TEST_CASE("layer_norm_forward matches the scalar reference", "[kernels][rowwise]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(4);
  const double eps = 1e-5;
  for_each_target([&] {
    for (int64_t cols : test_lengths()) {
      const int64_t rows = cols > 70 ? 2 : 3;
      const size_t n = static_cast<size_t>(rows * cols), ucols = static_cast<size_t>(cols);
      for (double offset : {0.0, 1e4}) {
        Buf<T> x(n, static_cast<size_t>(cols % 3));
        fill_normal(x.p(), n, rng, 2.0, offset);
        Buf<T> w(ucols, 1), b(ucols, 2);
        fill_normal(w.p(), ucols, rng, 1.0, 1.0);
        fill_normal(b.p(), ucols, rng);
        for (int affine = 0; affine < 4; ++affine) {
          const T* wp = (affine & 1) ? w.p() : nullptr;
          const T* bp = (affine & 2) ? b.p() : nullptr;
          INFO(where(rows, cols) << "offset " << offset << " w " << (wp != nullptr) << " b "
                                 << (bp != nullptr));
          Buf<T> y(n, 1), mean(static_cast<size_t>(rows), 1), rstd(static_cast<size_t>(rows), 0);
          Buf<T> y_ref(n, 0), mean_ref(static_cast<size_t>(rows), 0),
              rstd_ref(static_cast<size_t>(rows), 0);
          k::layer_norm_forward(x.p(), wp, bp, y.p(), mean.p(), rstd.p(), rows, cols, eps);
          k::reference::layer_norm_forward(x.p(), wp, bp, y_ref.p(), mean_ref.p(), rstd_ref.p(),
                                           rows, cols, eps);
          // The mean near 1e4 is itself rounded by up to ulp(1e4) / 2 (5e-4 in float), which
          // y carries times rstd * |w|: the absolute tolerance scales with offset and rstd.
          for (int64_t r = 0; r < rows; ++r) {
            const double scale = static_cast<double>(rstd_ref[static_cast<size_t>(r)]) * 4.0;
            const double eps = std::numeric_limits<T>::epsilon();
            const Tol ty = {sizeof(T) == 4 ? 1e-4 : 1e-10, eps * (offset + 8.0) * scale};
            check_close(y.p() + r * cols, y_ref.p() + r * cols, cols, ty, "layer_norm y");
          }
          check_close(mean.p(), mean_ref.p(), rows, tol<T>({1e-6, 1e-5}, {1e-13, 1e-13}),
                      "layer_norm mean");
          check_close(rstd.p(), rstd_ref.p(), rows, tol<T>({2e-4, 0}, {1e-10, 0}),
                      "layer_norm rstd");
        }
      }
    }
  });
}

TEMPLATE_TEST_CASE("layer_norm_backward matches the scalar reference", "[kernels][rowwise]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(5);
  for_each_target([&] {
    for (int64_t cols : test_lengths()) {
      // 1 row, a partial block, several blocks of kLayerNormRowBlock (32) rows.
      for (int64_t rows : {int64_t{1}, int64_t{5}, int64_t{70}}) {
        if (cols > 70 && rows != 5) continue;
        if (cols > 4097) continue;
        const size_t n = static_cast<size_t>(rows * cols), ucols = static_cast<size_t>(cols);
        Buf<T> x(n, static_cast<size_t>(cols % 3)), g(n, 1), w(ucols, 2);
        fill_normal(x.p(), n, rng, 2.0, 0.5);
        fill_normal(g.p(), n, rng);
        fill_normal(w.p(), ucols, rng, 1.0, 1.0);
        std::vector<T> y(n), mean(static_cast<size_t>(rows)), rstd(static_cast<size_t>(rows));
        k::reference::layer_norm_forward(x.p(), w.p(), nullptr, y.data(), mean.data(), rstd.data(),
                                         rows, cols, 1e-5);
        const double sum_scale = std::sqrt(static_cast<double>(rows));
        for (int variant = 0; variant < 4; ++variant) {
          // 0: everything; 1: no affine weight; 2: dx only; 3: dw/db only.
          const T* wp = variant == 1 ? nullptr : w.p();
          const bool want_dx = variant != 3, want_dwdb = variant != 2;
          INFO(where(rows, cols) << "variant " << variant);
          Buf<T> dx(n, 2, T(7)), dw(ucols, 1, T(7)), db(ucols, 0, T(7));
          Buf<T> dx_ref(n, 0), dw_ref(ucols, 0), db_ref(ucols, 0);
          k::layer_norm_backward(x.p(), g.p(), wp, mean.data(), rstd.data(),
                                 want_dx ? dx.p() : nullptr, want_dwdb ? dw.p() : nullptr,
                                 want_dwdb ? db.p() : nullptr, rows, cols);
          k::reference::layer_norm_backward(x.p(), g.p(), wp, mean.data(), rstd.data(), dx_ref.p(),
                                            dw_ref.p(), db_ref.p(), rows, cols);
          if (want_dx) {
            // dx = rstd * (...): rounding of g * w (and fused multiply-adds) scales with rstd,
            // which is 1/sqrt(eps) ~ 316 for one-column rows.
            for (int64_t r = 0; r < rows; ++r) {
              const double scale = static_cast<double>(rstd[static_cast<size_t>(r)]);
              check_close(dx.p() + r * cols, dx_ref.p() + r * cols, cols,
                          tol<T>({1e-4, 2e-5 * scale}, {1e-10, 1e-13 * scale}), "layer_norm dx");
            }
          } else if (n > 0) {
            CHECK(dx[0] == T(7));
          }
          if (want_dwdb) {
            check_close(dw.p(), dw_ref.p(), cols, tol<T>({1e-4, 1e-5 * sum_scale}, {1e-10, 1e-12}),
                        "layer_norm dw");
            check_close(db.p(), db_ref.p(), cols, tol<T>({1e-4, 1e-5 * sum_scale}, {1e-10, 1e-12}),
                        "layer_norm db");
          } else if (cols > 0) {
            CHECK(dw[0] == T(7));
          }
        }
      }
    }
  });
}

TEMPLATE_TEST_CASE("cross_entropy forward and backward match the reference and the formula",
                   "[kernels][rowwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(6);
  const int64_t ignore = -100;
  for_each_target([&] {
    for (int64_t cols : test_lengths()) {
      if (cols == 0) continue;  // no class: see the next test
      const int64_t rows = cols > 70 ? 3 : 5;
      const size_t n = static_cast<size_t>(rows * cols);
      for (double ls : {0.0, 0.1}) {
        for (Fill fill : {Fill::kNormal, Fill::kLargeSpread}) {
          INFO(where(rows, cols, fill_name(fill)) << "label_smoothing " << ls);
          Buf<T> x(n, static_cast<size_t>(cols % 3));
          fill_rows(x.p(), rows, cols, fill, rng);
          std::vector<int64_t> targets(static_cast<size_t>(rows));
          std::uniform_int_distribution<int64_t> cls(0, cols - 1);
          for (auto& t : targets) t = cls(rng);
          targets[1] = ignore;
          Buf<T> loss(static_cast<size_t>(rows), 1), lse(static_cast<size_t>(rows), 0);
          Buf<T> loss_ref(static_cast<size_t>(rows), 0), lse_ref(static_cast<size_t>(rows), 0);
          k::cross_entropy_forward(x.p(), targets.data(), loss.p(), lse.p(), rows, cols, ignore,
                                   ls);
          k::reference::cross_entropy_forward(x.p(), targets.data(), loss_ref.p(), lse_ref.p(),
                                              rows, cols, ignore, ls);
          const Tol tl = tol<T>({2e-6, 2e-5}, {1e-12, 1e-11});
          check_close(loss.p(), loss_ref.p(), rows, tl, "cross_entropy loss");
          check_close(lse.p(), lse_ref.p(), rows, tl, "cross_entropy lse");
          CHECK(loss[1] == T(0));

          // Direct formula: loss = -sum_c q_c log p_c with q = (1 - ls) onehot(t) + ls / cols.
          for (int64_t r = 0; r < rows; ++r) {
            if (targets[static_cast<size_t>(r)] == ignore) continue;
            const T* xr = x.p() + r * cols;
            double m = -kInf, s = 0, want = 0;
            for (int64_t c = 0; c < cols; ++c) m = std::max(m, static_cast<double>(xr[c]));
            for (int64_t c = 0; c < cols; ++c) s += std::exp(static_cast<double>(xr[c]) - m);
            for (int64_t c = 0; c < cols; ++c) {
              const double q = (c == targets[static_cast<size_t>(r)] ? 1.0 - ls : 0.0) +
                               ls / static_cast<double>(cols);
              want -= q * (static_cast<double>(xr[c]) - m - std::log(s));
            }
            CHECK(close(static_cast<double>(loss[static_cast<size_t>(r)]), want,
                        tol<T>({1e-5, 1e-4}, {1e-10, 1e-9})));
          }

          // Backward: reference and dx = grow * (softmax - q).
          Buf<T> grow(static_cast<size_t>(rows), 2), dx(n, 1, T(7)), dx_ref(n, 0);
          fill_normal(grow.p(), static_cast<size_t>(rows), rng);
          k::cross_entropy_backward(x.p(), targets.data(), lse.p(), grow.p(), dx.p(), rows, cols,
                                    ignore, ls);
          k::reference::cross_entropy_backward(x.p(), targets.data(), lse.p(), grow.p(), dx_ref.p(),
                                               rows, cols, ignore, ls);
          check_close(dx.p(), dx_ref.p(), static_cast<int64_t>(n),
                      tol<T>({1e-5, 1e-7}, {1e-12, 1e-15}), "cross_entropy dx");
          std::vector<T> p(n);
          k::reference::softmax_rows(x.p(), p.data(), rows, cols);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
              const size_t i = static_cast<size_t>(r * cols + c);
              const int64_t t = targets[static_cast<size_t>(r)];
              const double q =
                  t == ignore ? 0.0 : (c == t ? 1.0 - ls : 0.0) + ls / static_cast<double>(cols);
              const double want = t == ignore ? 0.0
                                              : static_cast<double>(grow[static_cast<size_t>(r)]) *
                                                    (static_cast<double>(p[i]) - q);
              // lse is stored in T: its rounding (|lse| * eps / 2) moves p = exp(x - lse) by
              // that much relative, which matters for float logits of size 1e4.
              const double eps = std::numeric_limits<T>::epsilon();
              const double lse_err = std::abs(static_cast<double>(lse[static_cast<size_t>(r)])) *
                                     eps * std::abs(static_cast<double>(p[i]));
              const double g_abs = std::abs(static_cast<double>(grow[static_cast<size_t>(r)]));
              const Tol t_formula = {sizeof(T) == 4 ? 1e-4 : 1e-10,
                                     g_abs * (lse_err + (sizeof(T) == 4 ? 1e-6 : 1e-13))};
              if (!close(static_cast<double>(dx[i]), want, t_formula)) {
                FAIL_CHECK("dx formula at row " << r << " col " << c << ": got "
                                                << std::setprecision(10) << dx[i] << " expected "
                                                << want);
                return;
              }
            }
        }
      }
    }
  });
}

TEMPLATE_TEST_CASE("cross_entropy_forward checks targets before computing", "[kernels][rowwise]",
                   float, double) {
  using T = TestType;
  const int64_t rows = 4, cols = 5;
  std::vector<T> x(rows * cols, T(1)), loss(rows, T(42)), lse(rows, T(42));
  for (int64_t bad : {int64_t{5}, int64_t{-1}, int64_t{1000}}) {
    std::vector<int64_t> targets = {0, 4, bad, -100};
    REQUIRE_THROWS_AS(k::cross_entropy_forward(x.data(), targets.data(), loss.data(), lse.data(),
                                               rows, cols, -100, 0.0),
                      ts::Error);
    REQUIRE_THROWS_WITH(k::cross_entropy_forward(x.data(), targets.data(), loss.data(), lse.data(),
                                                 rows, cols, -100, 0.0),
                        Catch::Contains("cross_entropy_forward") &&
                            Catch::Contains("target " + std::to_string(bad) + " of row 2"));
    REQUIRE_THROWS_AS(k::cross_entropy_backward(x.data(), targets.data(), lse.data(), loss.data(),
                                                x.data(), rows, cols, -100, 0.0),
                      ts::Error);
    for (int64_t r = 0; r < rows; ++r) CHECK(loss[static_cast<size_t>(r)] == T(42));  // untouched
  }
  // Every row ignored, even with no class at all: loss 0.
  std::vector<int64_t> ignored = {-100, -100};
  std::vector<T> l2(2, T(42)), e2(2);
  k::cross_entropy_forward(x.data(), ignored.data(), l2.data(), e2.data(), 2, 0, -100, 0.1);
  CHECK(l2[0] == T(0));
  CHECK(l2[1] == T(0));
}

TEMPLATE_TEST_CASE("sum_reduce matches the scalar reference", "[kernels][rowwise]", float, double) {
  using T = TestType;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> positive(0.5, 1.5);
  std::vector<std::array<int64_t, 3>> shapes;
  for (int64_t n : test_lengths()) shapes.push_back({3, n, 1});                       // row sums
  for (int64_t n : {int64_t{100000}, int64_t{1} << 20}) shapes.push_back({1, n, 1});  // few rows
  for (int64_t inner : {2, 3, 7, 8, 9, 17, 64, 513, 1030})
    for (int64_t n : {0, 1, 5, 64, 65, 130}) shapes.push_back({2, n, inner});
  shapes.push_back({0, 5, 3});
  for_each_target([&] {
    for (const auto& [outer, n, inner] : shapes) {
      INFO("outer " << outer << " n " << n << " inner " << inner);
      const size_t size = static_cast<size_t>(outer * n * inner);
      const size_t out_size = static_cast<size_t>(outer * inner);
      Buf<T> x(size, static_cast<size_t>(n % 3));
      for (size_t i = 0; i < size; ++i) x[i] = static_cast<T>(positive(rng));
      Buf<T> out(out_size, 1, T(7)), want(out_size, 0);
      k::sum_reduce(x.p(), out.p(), outer, n, inner);
      k::reference::sum_reduce(x.p(), want.p(), outer, n, inner);
      check_close(out.p(), want.p(), static_cast<int64_t>(out_size),
                  tol<T>({n > 10000 ? 1e-5 : 3e-6, 0}, {1e-13, 0}), "sum_reduce");
    }
  });
}

TEMPLATE_TEST_CASE("max_reduce returns the first maximum and propagates NaN", "[kernels][rowwise]",
                   float, double) {
  using T = TestType;
  std::mt19937 rng(8);
  std::uniform_int_distribution<int> small(-3, 3);  // many ties
  std::bernoulli_distribution rare(0.02);
  std::vector<std::array<int64_t, 3>> shapes;
  for (int64_t n : test_lengths())
    if (n > 0) shapes.push_back({3, n, 1});
  for (int64_t inner : {2, 9, 513, 1030})
    for (int64_t n : {1, 5, 65}) shapes.push_back({2, n, inner});
  for_each_target([&] {
    for (const auto& [outer, n, inner] : shapes) {
      for (int nan_mode = 0; nan_mode < 2; ++nan_mode) {
        INFO("outer " << outer << " n " << n << " inner " << inner << " nan " << nan_mode);
        const size_t size = static_cast<size_t>(outer * n * inner);
        const size_t out_size = static_cast<size_t>(outer * inner);
        Buf<T> x(size, static_cast<size_t>(n % 3));
        for (size_t i = 0; i < size; ++i) {
          x[i] = static_cast<T>(small(rng));
          if (rare(rng)) x[i] = -std::numeric_limits<T>::infinity();
          if (nan_mode == 1 && rare(rng)) x[i] = std::numeric_limits<T>::quiet_NaN();
        }
        if (n > 0 && inner == 1)  // row 0 all -inf: index 0
          for (int64_t j = 0; j < n; ++j)
            x[static_cast<size_t>(j)] = -std::numeric_limits<T>::infinity();
        Buf<T> out(out_size, 1), want(out_size, 0);
        Buf<int64_t> index(out_size, 1, -1), want_index(out_size, 0);
        k::max_reduce(x.p(), out.p(), index.p(), outer, n, inner);
        k::reference::max_reduce(x.p(), want.p(), want_index.p(), outer, n, inner);
        bool same = true;
        for (size_t i = 0; i < out_size && same; ++i) {
          same = index[i] == want_index[i] &&
                 (out[i] == want[i] || (std::isnan(out[i]) && std::isnan(want[i])));
          if (!same)
            FAIL_CHECK("element " << i << ": got " << out[i] << " at " << index[i] << ", expected "
                                  << want[i] << " at " << want_index[i]);
        }
        CHECK(same);
      }
    }
  });
  // Direct cases: ties keep the first index; NaN wins over +inf and the first NaN is kept.
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  std::vector<T> a = {1, 5, 2, 5, 5, inf, 0, inf, nan, 3, nan};
  T out[3];
  int64_t idx[3];
  k::max_reduce(a.data(), out, idx, 1, 5, 1);
  CHECK(out[0] == T(5));
  CHECK(idx[0] == 1);
  k::max_reduce(a.data(), out, idx, 1, 11, 1);
  CHECK(std::isnan(out[0]));
  CHECK(idx[0] == 8);
  k::max_reduce(a.data(), out, idx, 1, 8, 1);
  CHECK(out[0] == inf);
  CHECK(idx[0] == 5);
  REQUIRE_THROWS_AS(k::max_reduce(a.data(), out, idx, 2, 0, 1), ts::Error);
}

TEMPLATE_TEST_CASE("row kernels are bit-identical for 1 / 2 / 3 threads", "[kernels][rowwise]",
                   float, double) {
  using T = TestType;
  std::mt19937 rng(9);
  const int64_t rows = 300, cols = 500;  // several tasks of RowGrain rows, 10 layer-norm blocks
  const size_t n = static_cast<size_t>(rows * cols);
  std::vector<T> x(n), g(n), w(cols), mean(rows), rstd(rows);
  fill_rows(x.data(), rows, cols, Fill::kMasked, rng);
  std::vector<T> xn(n);
  fill_normal(xn.data(), n, rng, 2.0, 0.3);
  fill_normal(g.data(), n, rng);
  fill_normal(w.data(), w.size(), rng, 1.0, 1.0);
  k::reference::layer_norm_forward(xn.data(), w.data(), nullptr, g.data() /*scratch*/, mean.data(),
                                   rstd.data(), rows, cols, 1e-5);
  fill_normal(g.data(), n, rng);
  std::vector<int64_t> targets(rows);
  for (int64_t r = 0; r < rows; ++r) targets[static_cast<size_t>(r)] = (r * 7) % cols;
  targets[3] = -100;
  std::vector<T> big(static_cast<size_t>(1) << 20);
  fill_normal(big.data(), big.size(), rng);

  // Runs every kernel and returns all outputs concatenated.
  auto run_all = [&] {
    std::vector<T> all;
    auto append = [&](const std::vector<T>& v) { all.insert(all.end(), v.begin(), v.end()); };
    std::vector<T> y(n), dx(n), dw(cols), db(cols), m(rows), s(rows), lse(rows), loss(rows);
    k::softmax_rows(x.data(), y.data(), rows, cols);
    append(y);
    k::log_softmax_rows(x.data(), y.data(), rows, cols);
    append(y);
    k::softmax_backward_rows(y.data(), g.data(), dx.data(), rows, cols);
    append(dx);
    k::log_softmax_backward_rows(y.data(), g.data(), dx.data(), rows, cols);
    append(dx);
    k::logsumexp_rows(x.data(), lse.data(), rows, cols);
    append(lse);
    k::layer_norm_forward(xn.data(), w.data(), w.data(), y.data(), m.data(), s.data(), rows, cols,
                          1e-5);
    append(y);
    append(m);
    append(s);
    k::layer_norm_backward(xn.data(), g.data(), w.data(), mean.data(), rstd.data(), dx.data(),
                           dw.data(), db.data(), rows, cols);
    append(dx);
    append(dw);
    append(db);
    k::cross_entropy_forward(xn.data(), targets.data(), loss.data(), lse.data(), rows, cols, -100,
                             0.1);
    append(loss);
    append(lse);
    k::cross_entropy_backward(xn.data(), targets.data(), lse.data(), loss.data(), dx.data(), rows,
                              cols, -100, 0.1);
    append(dx);
    std::vector<T> sums(rows * 2);
    k::sum_reduce(big.data(), sums.data(), 1, static_cast<int64_t>(big.size()), 1);  // few rows
    k::sum_reduce(xn.data(), sums.data() + 1, rows, cols, 1);
    append(sums);
    std::vector<T> col_sums(10 * 300);
    k::sum_reduce(xn.data(), col_sums.data(), 10, 50, 300);
    append(col_sums);
    std::vector<int64_t> idx(rows);
    k::max_reduce(xn.data(), m.data(), idx.data(), rows, cols, 1);
    append(m);
    for (int64_t i : idx) all.push_back(static_cast<T>(i));
    std::vector<int64_t> col_idx(10 * 300);
    k::max_reduce(xn.data(), col_sums.data(), col_idx.data(), 10, 50, 300);
    append(col_sums);
    for (int64_t i : col_idx) all.push_back(static_cast<T>(i));
    return all;
  };

  const int saved = ts::get_num_threads();
  ts::set_num_threads(1);
  const std::vector<T> one = run_all();
  for (int threads : {2, 3}) {
    ts::set_num_threads(threads);
    const std::vector<T> many = run_all();
    INFO(threads << " threads");
    REQUIRE(many.size() == one.size());
    CHECK(std::memcmp(many.data(), one.data(), one.size() * sizeof(T)) == 0);
  }
  ts::set_num_threads(saved);
}
