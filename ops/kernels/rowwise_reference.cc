// Scalar references of the row kernels (rowwise.h): plain loops in double precision (sums in long
// double, so that double kernels are checked against something more accurate), one row at a
// time, no SIMD and no threads. Tests compare the Highway kernels with these; benchmarks show
// both. Same contracts for all -inf rows (softmax 0, log-softmax/logsumexp -inf) and NaN rows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "taesan/core/error.h"
#include "taesan/ops/kernels/rowwise.h"

namespace taesan::kernels::reference {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Accumulator of every sum.
using Acc = long double;

/// Max of a row in double; NaN if any element is NaN; -inf for an empty row.
template <typename T>
double row_max(const T* x, int64_t cols) {
  double m = -kInf;
  for (int64_t c = 0; c < cols; ++c) {
    const double v = static_cast<double>(x[c]);
    if (std::isnan(v)) return kNaN;
    m = std::max(m, v);
  }
  return m;
}

/// log(sum(exp(x))) of a row: m for a non-finite max m (-inf, +inf, NaN).
template <typename T>
double row_logsumexp(const T* x, int64_t cols) {
  const double m = row_max(x, cols);
  if (!std::isfinite(m)) return m;
  Acc s = 0;
  for (int64_t c = 0; c < cols; ++c) s += std::exp(static_cast<double>(x[c]) - m);
  return m + std::log(static_cast<double>(s));
}

template <typename T>
void softmax(const T* x, T* y, int64_t rows, int64_t cols, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const double m = row_max(xr, cols);
    if (!std::isfinite(m)) {
      const double fill = m == -kInf ? (log ? -kInf : 0.0) : kNaN;
      for (int64_t c = 0; c < cols; ++c) yr[c] = static_cast<T>(fill);
      continue;
    }
    Acc acc = 0;
    for (int64_t c = 0; c < cols; ++c) acc += std::exp(static_cast<double>(xr[c]) - m);
    const double s = static_cast<double>(acc), log_s = std::log(s);
    for (int64_t c = 0; c < cols; ++c) {
      const double v = static_cast<double>(xr[c]) - m;
      yr[c] = static_cast<T>(log ? v - log_s : std::exp(v) / s);
    }
  }
}

template <typename T>
void softmax_backward(const T* y, const T* g, T* dx, int64_t rows, int64_t cols, bool log) {
  for (int64_t r = 0; r < rows; ++r) {
    const T *yr = y + r * cols, *gr = g + r * cols;
    T* dxr = dx + r * cols;
    Acc acc = 0;  // softmax: sum(g * y); log_softmax: sum(g)
    for (int64_t c = 0; c < cols; ++c)
      acc += static_cast<double>(gr[c]) * (log ? 1.0 : static_cast<double>(yr[c]));
    const double s = static_cast<double>(acc);
    for (int64_t c = 0; c < cols; ++c) {
      const double yv = static_cast<double>(yr[c]), gv = static_cast<double>(gr[c]);
      dxr[c] = static_cast<T>(log ? gv - std::exp(yv) * s : yv * (gv - s));
    }
  }
}

template <typename T>
void logsumexp(const T* x, T* out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) out[r] = static_cast<T>(row_logsumexp(x + r * cols, cols));
}

template <typename T>
void layer_norm_fwd(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows,
                    int64_t cols, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    Acc sum = 0, sum_sq = 0;
    for (int64_t c = 0; c < cols; ++c) sum += static_cast<Acc>(xr[c]);
    const double mu = cols > 0 ? static_cast<double>(sum / static_cast<Acc>(cols)) : 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      const Acc v = static_cast<Acc>(xr[c]) - static_cast<Acc>(mu);
      sum_sq += v * v;
    }
    const double var = cols > 0 ? static_cast<double>(sum_sq / static_cast<Acc>(cols)) : 0.0;
    const double rs = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c) {
      double v = (static_cast<double>(xr[c]) - mu) * rs;
      if (w != nullptr) v *= static_cast<double>(w[c]);
      if (b != nullptr) v += static_cast<double>(b[c]);
      y[r * cols + c] = static_cast<T>(v);
    }
    mean[r] = static_cast<T>(mu);
    rstd[r] = static_cast<T>(rs);
  }
}

template <typename T>
void layer_norm_bwd(const T* x, const T* g, const T* w, const T* mean, const T* rstd, T* dx, T* dw,
                    T* db, int64_t rows, int64_t cols) {
  std::vector<Acc> sw(static_cast<size_t>(cols), 0.0), sb(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T *xr = x + r * cols, *gr = g + r * cols;
    const double mu = static_cast<double>(mean[r]), rs = static_cast<double>(rstd[r]);
    auto xhat = [&](int64_t c) { return (static_cast<double>(xr[c]) - mu) * rs; };
    auto gh = [&](int64_t c) {
      return static_cast<double>(gr[c]) * (w != nullptr ? static_cast<double>(w[c]) : 1.0);
    };
    Acc sum_gh = 0, sum_ghx = 0;
    for (int64_t c = 0; c < cols; ++c) {
      sum_gh += gh(c);
      sum_ghx += gh(c) * xhat(c);
      sw[static_cast<size_t>(c)] += static_cast<double>(gr[c]) * xhat(c);
      sb[static_cast<size_t>(c)] += static_cast<double>(gr[c]);
    }
    if (dx == nullptr) continue;
    const double n = static_cast<double>(cols), a = static_cast<double>(sum_gh),
                 bsum = static_cast<double>(sum_ghx);
    for (int64_t c = 0; c < cols; ++c)
      dx[r * cols + c] = static_cast<T>(rs * (gh(c) - a / n - xhat(c) * bsum / n));
  }
  for (int64_t c = 0; c < cols; ++c) {
    if (dw != nullptr) dw[c] = static_cast<T>(sw[static_cast<size_t>(c)]);
    if (db != nullptr) db[c] = static_cast<T>(sb[static_cast<size_t>(c)]);
  }
}

template <typename T>
void rms_norm_fwd(const T* x, const T* w, T* y, T* rstd, int64_t rows, int64_t cols, double eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    Acc sum_sq = 0;
    for (int64_t c = 0; c < cols; ++c) sum_sq += static_cast<Acc>(xr[c]) * static_cast<Acc>(xr[c]);
    const double ms = cols > 0 ? static_cast<double>(sum_sq / static_cast<Acc>(cols)) : 0.0;
    const double rs = 1.0 / std::sqrt(ms + eps);
    for (int64_t c = 0; c < cols; ++c) {
      double v = static_cast<double>(xr[c]) * rs;
      if (w != nullptr) v *= static_cast<double>(w[c]);
      y[r * cols + c] = static_cast<T>(v);
    }
    rstd[r] = static_cast<T>(rs);
  }
}

template <typename T>
void rms_norm_bwd(const T* x, const T* g, const T* w, const T* rstd, T* dx, T* dw, int64_t rows,
                  int64_t cols) {
  std::vector<Acc> sw(static_cast<size_t>(cols), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    const T *xr = x + r * cols, *gr = g + r * cols;
    const double rs = static_cast<double>(rstd[r]);
    auto xhat = [&](int64_t c) { return static_cast<double>(xr[c]) * rs; };
    auto gh = [&](int64_t c) {
      return static_cast<double>(gr[c]) * (w != nullptr ? static_cast<double>(w[c]) : 1.0);
    };
    Acc sum_ghx = 0;
    for (int64_t c = 0; c < cols; ++c) {
      sum_ghx += gh(c) * xhat(c);
      sw[static_cast<size_t>(c)] += static_cast<double>(gr[c]) * xhat(c);
    }
    if (dx == nullptr) continue;
    const double m = static_cast<double>(sum_ghx) / static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c)
      dx[r * cols + c] = static_cast<T>(rs * (gh(c) - xhat(c) * m));
  }
  if (dw != nullptr)
    for (int64_t c = 0; c < cols; ++c) dw[c] = static_cast<T>(sw[static_cast<size_t>(c)]);
}

void check_target(const char* fn, int64_t r, int64_t t, int64_t cols, int64_t ignore_index) {
  TS_CHECK(t == ignore_index || (t >= 0 && t < cols),
           "{}: target {} of row {} is out of range: expected a class in [0, {}) or "
           "ignore_index {}",
           fn, t, r, cols, ignore_index);
}

template <typename T>
void ce_fwd(const T* x, const int64_t* targets, T* loss, T* lse, int64_t rows, int64_t cols,
            int64_t ignore_index, double ls) {
  for (int64_t r = 0; r < rows; ++r)
    check_target("reference::cross_entropy_forward", r, targets[r], cols, ignore_index);
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    const double l = row_logsumexp(xr, cols);
    lse[r] = static_cast<T>(l);
    const int64_t t = targets[r];
    if (t == ignore_index) {
      loss[r] = T(0);
      continue;
    }
    double v = (1.0 - ls) * (l - static_cast<double>(xr[t]));
    if (ls != 0.0) {
      Acc sx = 0;
      for (int64_t c = 0; c < cols; ++c) sx += static_cast<double>(xr[c]);
      v += ls * (l - static_cast<double>(sx / static_cast<Acc>(cols)));
    }
    loss[r] = static_cast<T>(v);
  }
}

template <typename T>
void ce_bwd(const T* x, const int64_t* targets, const T* lse, const T* grow, T* dx, int64_t rows,
            int64_t cols, int64_t ignore_index, double ls) {
  for (int64_t r = 0; r < rows; ++r)
    check_target("reference::cross_entropy_backward", r, targets[r], cols, ignore_index);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = targets[r];
    const double l = static_cast<double>(lse[r]), gr = static_cast<double>(grow[r]);
    for (int64_t c = 0; c < cols; ++c) {
      double v = 0;
      if (t != ignore_index) {
        const double p = std::exp(static_cast<double>(x[r * cols + c]) - l);
        v = gr * (p - (c == t ? 1.0 - ls : 0.0) - ls / static_cast<double>(cols));
      }
      dx[r * cols + c] = static_cast<T>(v);
    }
  }
}

template <typename T>
void sum(const T* x, T* out, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      Acc s = 0;
      for (int64_t j = 0; j < n; ++j) s += static_cast<double>(x[(o * n + j) * inner + i]);
      out[o * inner + i] = static_cast<T>(s);
    }
}

template <typename T>
void max(const T* x, T* out, int64_t* index, int64_t outer, int64_t n, int64_t inner) {
  TS_CHECK(n > 0 || outer * inner == 0,
           "reference::max_reduce: cannot take the max over an empty dimension");
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < n; ++j) {
        const T v = x[(o * n + j) * inner + i], cur = x[(o * n + best) * inner + i];
        if (std::isnan(cur)) break;
        if (std::isnan(v) || v > cur) best = j;
      }
      out[o * inner + i] = x[(o * n + best) * inner + i];
      index[o * inner + i] = best;
    }
}

}  // namespace

void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  softmax(x, y, rows, cols, false);
}
void softmax_rows(const double* x, double* y, int64_t rows, int64_t cols) {
  softmax(x, y, rows, cols, false);
}
void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  softmax(x, y, rows, cols, true);
}
void log_softmax_rows(const double* x, double* y, int64_t rows, int64_t cols) {
  softmax(x, y, rows, cols, true);
}
void softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows, int64_t cols) {
  softmax_backward(y, g, dx, rows, cols, false);
}
void softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows,
                           int64_t cols) {
  softmax_backward(y, g, dx, rows, cols, false);
}
void log_softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows,
                               int64_t cols) {
  softmax_backward(y, g, dx, rows, cols, true);
}
void log_softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows,
                               int64_t cols) {
  softmax_backward(y, g, dx, rows, cols, true);
}
void logsumexp_rows(const float* x, float* out, int64_t rows, int64_t cols) {
  logsumexp(x, out, rows, cols);
}
void logsumexp_rows(const double* x, double* out, int64_t rows, int64_t cols) {
  logsumexp(x, out, rows, cols);
}
void layer_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                        float* rstd, int64_t rows, int64_t cols, double eps) {
  layer_norm_fwd(x, w, b, y, mean, rstd, rows, cols, eps);
}
void layer_norm_forward(const double* x, const double* w, const double* b, double* y, double* mean,
                        double* rstd, int64_t rows, int64_t cols, double eps) {
  layer_norm_fwd(x, w, b, y, mean, rstd, rows, cols, eps);
}
void layer_norm_backward(const float* x, const float* g, const float* w, const float* mean,
                         const float* rstd, float* dx, float* dw, float* db, int64_t rows,
                         int64_t cols) {
  layer_norm_bwd(x, g, w, mean, rstd, dx, dw, db, rows, cols);
}
void layer_norm_backward(const double* x, const double* g, const double* w, const double* mean,
                         const double* rstd, double* dx, double* dw, double* db, int64_t rows,
                         int64_t cols) {
  layer_norm_bwd(x, g, w, mean, rstd, dx, dw, db, rows, cols);
}
void rms_norm_forward(const float* x, const float* w, float* y, float* rstd, int64_t rows,
                      int64_t cols, double eps) {
  rms_norm_fwd(x, w, y, rstd, rows, cols, eps);
}
void rms_norm_forward(const double* x, const double* w, double* y, double* rstd, int64_t rows,
                      int64_t cols, double eps) {
  rms_norm_fwd(x, w, y, rstd, rows, cols, eps);
}
void rms_norm_backward(const float* x, const float* g, const float* w, const float* rstd, float* dx,
                       float* dw, int64_t rows, int64_t cols) {
  rms_norm_bwd(x, g, w, rstd, dx, dw, rows, cols);
}
void rms_norm_backward(const double* x, const double* g, const double* w, const double* rstd,
                       double* dx, double* dw, int64_t rows, int64_t cols) {
  rms_norm_bwd(x, g, w, rstd, dx, dw, rows, cols);
}
void cross_entropy_forward(const float* x, const int64_t* targets, float* loss, float* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls) {
  ce_fwd(x, targets, loss, lse, rows, cols, ignore_index, ls);
}
void cross_entropy_forward(const double* x, const int64_t* targets, double* loss, double* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls) {
  ce_fwd(x, targets, loss, lse, rows, cols, ignore_index, ls);
}
void cross_entropy_backward(const float* x, const int64_t* targets, const float* lse,
                            const float* grow, float* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls) {
  ce_bwd(x, targets, lse, grow, dx, rows, cols, ignore_index, ls);
}
void cross_entropy_backward(const double* x, const int64_t* targets, const double* lse,
                            const double* grow, double* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls) {
  ce_bwd(x, targets, lse, grow, dx, rows, cols, ignore_index, ls);
}
void sum_reduce(const float* x, float* out, int64_t outer, int64_t n, int64_t inner) {
  sum(x, out, outer, n, inner);
}
void sum_reduce(const double* x, double* out, int64_t outer, int64_t n, int64_t inner) {
  sum(x, out, outer, n, inner);
}
void max_reduce(const float* x, float* out, int64_t* index, int64_t outer, int64_t n,
                int64_t inner) {
  max(x, out, index, outer, n, inner);
}
void max_reduce(const double* x, double* out, int64_t* index, int64_t outer, int64_t n,
                int64_t inner) {
  max(x, out, index, outer, n, inner);
}

}  // namespace taesan::kernels::reference
