// Tests of the RMS norm kernels (rms_norm_forward / rms_norm_backward in ops/kernels/rowwise.h)
// against their scalar references on every compiled Highway target: row lengths 0..70 and a few
// long ones, misaligned pointers, with and without weight, special values (zeros, NaN, inf,
// denormals), in-place use, and bit-identical results for 1, 2 and 3 threads.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/hwy_target_guard.h"
#include "kernels/row_test_util.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/rowwise.h"

namespace ts = taesan;
namespace k = taesan::kernels;

namespace {

using taesan::testing::Buf;
using taesan::testing::check_close;
using taesan::testing::fill_normal;
using taesan::testing::for_each_target;
using taesan::testing::test_lengths;
using taesan::testing::tol;
using taesan::testing::where;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEMPLATE_TEST_CASE("rms_norm_forward matches the scalar reference", "[kernels][rms_norm]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(11);
  for_each_target([&] {
    for (int64_t cols : test_lengths()) {
      const int64_t rows = cols > 70 ? 2 : 3;
      const size_t n = static_cast<size_t>(rows * cols), ucols = static_cast<size_t>(cols);
      for (double offset : {0.0, 1e4}) {
        Buf<T> x(n, static_cast<size_t>(cols % 3));
        fill_normal(x.p(), n, rng, 2.0, offset);
        Buf<T> w(ucols, 1);
        fill_normal(w.p(), ucols, rng, 1.0, 1.0);
        for (const T* wp : {static_cast<const T*>(nullptr), static_cast<const T*>(w.p())}) {
          for (double eps : {1e-5, 0.0}) {
            INFO(where(rows, cols)
                 << "offset " << offset << " weight " << (wp != nullptr) << " eps " << eps);
            Buf<T> y(n, 1, T(7)), rstd(static_cast<size_t>(rows), 2, T(7));
            Buf<T> y_ref(n, 0), rstd_ref(static_cast<size_t>(rows), 0);
            k::rms_norm_forward(x.p(), wp, y.p(), rstd.p(), rows, cols, eps);
            k::reference::rms_norm_forward(x.p(), wp, y_ref.p(), rstd_ref.p(), rows, cols, eps);
            check_close(y.p(), y_ref.p(), static_cast<int64_t>(n),
                        tol<T>({2e-6, 1e-7}, {1e-14, 1e-15}), "rms_norm y");
            check_close(rstd.p(), rstd_ref.p(), rows, tol<T>({2e-6, 0}, {1e-14, 0}),
                        "rms_norm rstd");
          }
        }
      }
    }
  });
}

TEMPLATE_TEST_CASE("rms_norm_forward: special values and in-place use", "[kernels][rms_norm]",
                   float, double) {
  using T = TestType;
  const T denormal = std::numeric_limits<T>::denorm_min() * T(3);
  const int64_t cols = 37;
  // Rows: zeros, a NaN, an inf, denormals, huge values whose squares overflow, normal values.
  const std::vector<std::vector<double>> specials = {
      {0.0},           {1.0, kNaN}, {1.0, kInf}, {static_cast<double>(denormal)},
      {1e300, -1e300}, {1.5, -2.0}};
  const int64_t rows = static_cast<int64_t>(specials.size());
  std::vector<T> x(static_cast<size_t>(rows * cols)), w(cols, T(0.5));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const std::vector<double>& v = specials[static_cast<size_t>(r)];
      x[static_cast<size_t>(r * cols + c)] = static_cast<T>(v[static_cast<size_t>(c) % v.size()]);
    }
  // eps > 0: with eps = 0 a float row of denormals has rstd = inf in float (its squares underflow)
  // but a finite one in the reference's long double.
  for_each_target([&] {
    for (double eps : {1e-6, 0.5}) {
      INFO("eps " << eps);
      std::vector<T> y(x.size()), rstd(rows), y_ref(x.size()), rstd_ref(rows);
      k::rms_norm_forward(x.data(), w.data(), y.data(), rstd.data(), rows, cols, eps);
      k::reference::rms_norm_forward(x.data(), w.data(), y_ref.data(), rstd_ref.data(), rows, cols,
                                     eps);
      check_close(y.data(), y_ref.data(), rows * cols, tol<T>({2e-6, 0}, {1e-14, 0}), "y");
      check_close(rstd.data(), rstd_ref.data(), rows, tol<T>({2e-6, 0}, {1e-14, 0}), "rstd");
      CHECK(y[0] == T(0));                              // zeros stay zeros
      CHECK(std::isnan(static_cast<double>(y[cols])));  // NaN spreads over its row
      // In place: y written over x gives the same values.
      std::vector<T> inplace = x;
      k::rms_norm_forward(inplace.data(), w.data(), inplace.data(), rstd.data(), rows, cols, eps);
      CHECK(std::memcmp(inplace.data(), y.data(), y.size() * sizeof(T)) == 0);
    }
  });
}

TEMPLATE_TEST_CASE("rms_norm_backward matches the scalar reference", "[kernels][rms_norm]", float,
                   double) {
  using T = TestType;
  std::mt19937 rng(12);
  for_each_target([&] {
    for (int64_t cols : test_lengths()) {
      // 1 row, a partial block, several blocks of kRmsNormRowBlock (32) rows.
      for (int64_t rows : {int64_t{1}, int64_t{5}, int64_t{70}}) {
        if (cols > 70 && rows != 5) continue;
        if (cols > 4097) continue;
        const size_t n = static_cast<size_t>(rows * cols), ucols = static_cast<size_t>(cols);
        Buf<T> x(n, static_cast<size_t>(cols % 3)), g(n, 1), w(ucols, 2);
        fill_normal(x.p(), n, rng, 2.0, 0.5);
        fill_normal(g.p(), n, rng);
        fill_normal(w.p(), ucols, rng, 1.0, 1.0);
        std::vector<T> y(n), rstd(static_cast<size_t>(rows));
        k::reference::rms_norm_forward(x.p(), w.p(), y.data(), rstd.data(), rows, cols, 1e-5);
        const double sum_scale = std::sqrt(static_cast<double>(rows));
        for (int variant = 0; variant < 4; ++variant) {
          // 0: everything; 1: no weight; 2: dx only; 3: dw only.
          const T* wp = variant == 1 ? nullptr : w.p();
          const bool want_dx = variant != 3, want_dw = variant != 2;
          INFO(where(rows, cols) << "variant " << variant);
          Buf<T> dx(n, 2, T(7)), dw(ucols, 1, T(7));
          Buf<T> dx_ref(n, 0), dw_ref(ucols, 0);
          k::rms_norm_backward(x.p(), g.p(), wp, rstd.data(), want_dx ? dx.p() : nullptr,
                               want_dw ? dw.p() : nullptr, rows, cols);
          k::reference::rms_norm_backward(x.p(), g.p(), wp, rstd.data(), dx_ref.p(), dw_ref.p(),
                                          rows, cols);
          if (want_dx) {
            // dx = rstd * (...): the rounding of g * w scales with rstd.
            for (int64_t r = 0; r < rows; ++r) {
              const double scale = static_cast<double>(rstd[static_cast<size_t>(r)]);
              check_close(dx.p() + r * cols, dx_ref.p() + r * cols, cols,
                          tol<T>({1e-4, 2e-5 * scale}, {1e-10, 1e-13 * scale}), "rms_norm dx");
            }
          } else if (n > 0) {
            CHECK(dx[0] == T(7));
          }
          if (want_dw) {
            check_close(dw.p(), dw_ref.p(), cols, tol<T>({1e-4, 1e-5 * sum_scale}, {1e-10, 1e-12}),
                        "rms_norm dw");
          } else if (cols > 0) {
            CHECK(dw[0] == T(7));
          }
        }
        // dx may alias g.
        if (n > 0) {
          std::vector<T> gx(g.p(), g.p() + n), dx(n);
          k::rms_norm_backward(x.p(), gx.data(), w.p(), rstd.data(), dx.data(), nullptr, rows,
                               cols);
          k::rms_norm_backward(x.p(), gx.data(), w.p(), rstd.data(), gx.data(), nullptr, rows,
                               cols);
          CHECK(std::memcmp(gx.data(), dx.data(), n * sizeof(T)) == 0);
        }
      }
    }
  });
}

TEMPLATE_TEST_CASE("rms_norm kernels are bit-identical for 1 / 2 / 3 threads",
                   "[kernels][rms_norm]", float, double) {
  using T = TestType;
  std::mt19937 rng(13);
  const int64_t rows = 300, cols = 500;  // several tasks of RowGrain rows, 10 dw blocks
  const size_t n = static_cast<size_t>(rows * cols);
  std::vector<T> x(n), g(n), w(cols);
  fill_normal(x.data(), n, rng, 2.0, 0.3);
  fill_normal(g.data(), n, rng);
  fill_normal(w.data(), w.size(), rng, 1.0, 1.0);
  auto run_all = [&] {
    std::vector<T> y(n), rstd(rows), dx(n), dw(cols);
    k::rms_norm_forward(x.data(), w.data(), y.data(), rstd.data(), rows, cols, 1e-6);
    k::rms_norm_backward(x.data(), g.data(), w.data(), rstd.data(), dx.data(), dw.data(), rows,
                         cols);
    std::vector<T> all = y;
    for (const std::vector<T>* v : {&rstd, &dx, &dw}) all.insert(all.end(), v->begin(), v->end());
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
