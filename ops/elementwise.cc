// Elementwise ops and their backward rules (see elementwise.h). Floating-point work runs in
// the SIMD kernels of ops/kernels/elementwise.h over coalesced rows; int64/bool use plain loops.
// Backward rules of activations use the fused kernel when no graph of the backward is needed,
// and the same formula written with ops when it is (create_graph), so higher derivatives work.
#include "taesan/ops/elementwise.h"

#include <cmath>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/fused_backward.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/copy.h"
#include "taesan/ops/iterate.h"
#include "taesan/ops/kernels/elementwise.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

using autograd::BackwardContext;
using autograd::record;
using autograd::SavedTensor;
using kernels::ActivationGrad;
using kernels::BinaryOp;
using kernels::UnaryOp;

constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kInvSqrt2Pi = 0.3989422804014327;

Tensor as_dtype(const Tensor& t, DType d) { return t.dtype() == d ? t : ops::materialize(t, d); }

// out = a (op) b for floating dtypes, broadcast. Comparison ops give kBool.
Tensor binary_kernel(const Tensor& a, const Tensor& b, BinaryOp op, const char* name) {
  const DType dt = promote_types(a.dtype(), b.dtype());
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  const bool compare = op == BinaryOp::kEq || op == BinaryOp::kLt || op == BinaryOp::kGt;
  if (dt == kBFloat16) refuse_bfloat16(name);
  if (!is_floating(dt)) {
    // int64 / bool: plain loops in int64.
    Tensor ai = as_dtype(a, kInt64), bi = as_dtype(b, kInt64);
    Tensor out = empty(shape, kInt64);
    ops::RowPlan plan = ops::plan_rows(shape, {out.strides(), ops::broadcast_strides(ai, shape),
                                     ops::broadcast_strides(bi, shape)});
    const int64_t* ap = static_cast<const int64_t*>(ai.raw_data());
    const int64_t* bp = static_cast<const int64_t*>(bi.raw_data());
    int64_t* op_ = out.data<int64_t>();
    const int64_t n = plan.inner, so = plan.inner_stride[0], sa = plan.inner_stride[1],
                  sb = plan.inner_stride[2];
    ops::for_each_row(plan, ops::row_grain(n), [&](const int64_t* off) {
      for (int64_t i = 0; i < n; ++i) {
        int64_t x = ap[off[1] + i * sa], y = bp[off[2] + i * sb], r = 0;
        switch (op) {
          case BinaryOp::kAdd:
            r = x + y;
            break;
          case BinaryOp::kSub:
            r = x - y;
            break;
          case BinaryOp::kMul:
            r = x * y;
            break;
          case BinaryOp::kDiv:
            TS_CHECK(y != 0, "{}: integer division by zero", name);
            r = x / y;
            break;
          case BinaryOp::kMax:
            r = std::max(x, y);
            break;
          case BinaryOp::kMin:
            r = std::min(x, y);
            break;
          case BinaryOp::kPow:
            r = static_cast<int64_t>(std::pow(x, y));
            break;
          case BinaryOp::kEq:
            r = x == y;
            break;
          case BinaryOp::kLt:
            r = x < y;
            break;
          case BinaryOp::kGt:
            r = x > y;
            break;
        }
        op_[off[0] + i * so] = r;
      }
    });
    if (compare || (a.dtype() == kBool && b.dtype() == kBool && op != BinaryOp::kAdd &&
                    op != BinaryOp::kSub && op != BinaryOp::kDiv))
      return ops::materialize(out, kBool);
    return out;
  }
  Tensor ac = as_dtype(a, dt), bc = as_dtype(b, dt);
  Tensor out = empty(shape, dt);
  ops::RowPlan plan = ops::plan_rows(shape, {out.strides(), ops::broadcast_strides(ac, shape),
                                   ops::broadcast_strides(bc, shape)});
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const T* ap = static_cast<const T*>(ac.raw_data());
    const T* bp = static_cast<const T*>(bc.raw_data());
    T* op_ = out.data<T>();
    const int64_t n = plan.inner, so = plan.inner_stride[0], sa = plan.inner_stride[1],
                  sb = plan.inner_stride[2];
    ops::for_each_row(plan, ops::row_grain(n), [&](const int64_t* off) {
      kernels::binary(op, ap + off[1], sa, bp + off[2], sb, op_ + off[0], so, n);
    });
  });
  return compare ? ops::materialize(out, kBool) : out;
}

// y = f(x) for floating x (any layout).
Tensor unary_kernel(const Tensor& x, UnaryOp op, double param, const char* name) {
  if (x.dtype() == kBFloat16) refuse_bfloat16(name);
  TS_CHECK(is_floating(x.dtype()), "{}: expected a floating-point tensor, got {}", name, x.describe());
  Tensor y = empty(x.shape(), x.dtype());
  ops::RowPlan plan = ops::plan_rows(x.shape(), {y.strides(), x.strides()});
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.raw_data());
    T* yp = y.data<T>();
    const int64_t n = plan.inner, sx = plan.inner_stride[1];
    ops::for_each_row(plan, ops::row_grain(n), [&](const int64_t* off) {
      kernels::unary(op, param, xp + off[1], sx, yp + off[0], 1, n);
    });
  });
  return y;
}

// Reduces a broadcast gradient to an input's shape and dtype.
Tensor grad_for(const Tensor& g, const autograd::InputMeta& meta) {
  Tensor r = ops::sum_to(g, meta.shape);
  return r.dtype() == meta.dtype ? r : r.to(meta.dtype);
}

// dx = g * f'(v) with the fused kernel (no graph needed), or `composed` when a graph is needed.
template <typename Composed>
Tensor activation_backward(ActivationGrad op, const Tensor& v, const Tensor& g, Composed composed) {
  auto fused = [&] {
    Tensor vc = v.contiguous(), gc = as_dtype(g, v.dtype()).contiguous();
    Tensor dx = empty(v.shape(), v.dtype());
    dispatch_float(v.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::activation_grad(op, vc.data<T>(), gc.data<T>(), dx.data<T>(), v.numel());
    });
    return dx;
  };
  return autograd::fused_backward({v, g}, fused, composed);
}

struct Meta2 {
  autograd::InputMeta a, b;
};
Meta2 metas(const Tensor& a, const Tensor& b) { return {{a.shape(), a.dtype()}, {b.shape(), b.dtype()}}; }

}  // namespace

DType promote_types(DType a, DType b) {
  if (a == kFloat64 || b == kFloat64) return kFloat64;
  if (a == kFloat32 || b == kFloat32) return kFloat32;
  if (a == kBFloat16 || b == kBFloat16) return kBFloat16;  // then refused, unless only selected
  if (a == kInt64 || b == kInt64) return kInt64;
  return kBool;
}

// ---- binary arithmetic ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = binary_kernel(a, b, BinaryOp::kAdd, "add");
  // y = a + b;  da = g, db = g  (summed over broadcast dims)
  return record("add", {a, b}, y, [m = metas(a, b)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{ctx.needs_grad(0) ? grad_for(g, m.a) : Tensor(),
                      ctx.needs_grad(1) ? grad_for(g, m.b) : Tensor()};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = binary_kernel(a, b, BinaryOp::kSub, "sub");
  // y = a - b;  da = g, db = -g
  return record("sub", {a, b}, y, [m = metas(a, b)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{ctx.needs_grad(0) ? grad_for(g, m.a) : Tensor(),
                      ctx.needs_grad(1) ? grad_for(neg(g), m.b) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = binary_kernel(a, b, BinaryOp::kMul, "mul");
  // y = a * b;  da = g * b, db = g * a
  return record("mul", {a, b}, y,
                [m = metas(a, b), sa = SavedTensor(a), sb = SavedTensor(b)](
                    const Tensor& g, const BackwardContext& ctx) {
                  return TensorList{
                      ctx.needs_grad(0) ? grad_for(mul(g, sb.unpack(ctx)), m.a) : Tensor(),
                      ctx.needs_grad(1) ? grad_for(mul(g, sa.unpack(ctx)), m.b) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = binary_kernel(a, b, BinaryOp::kDiv, "div");
  // y = a / b;  da = g / b, db = -g * a / b^2
  return record("div", {a, b}, y,
                [m = metas(a, b), sa = SavedTensor(a), sb = SavedTensor(b)](
                    const Tensor& g, const BackwardContext& ctx) {
                  Tensor bv = sb.unpack(ctx);
                  Tensor ga = div(g, bv);
                  return TensorList{
                      ctx.needs_grad(0) ? grad_for(ga, m.a) : Tensor(),
                      ctx.needs_grad(1) ? grad_for(neg(mul(ga, div(sa.unpack(ctx), bv))), m.b)
                                        : Tensor()};
                });
}

namespace {
// y = max(a, b) / min(a, b);  the gradient goes to the selected input (a on ties).
Tensor extremum(const Tensor& a, const Tensor& b, bool is_max) {
  Tensor y =
      binary_kernel(a, b, is_max ? BinaryOp::kMax : BinaryOp::kMin, is_max ? "maximum" : "minimum");
  return record(is_max ? "maximum" : "minimum", {a, b}, y,
                [m = metas(a, b), sa = SavedTensor(a), sb = SavedTensor(b), is_max](
                    const Tensor& g, const BackwardContext& ctx) {
                  Tensor av = sa.unpack(ctx), bv = sb.unpack(ctx);
                  Tensor pick_a = is_max ? logical_not(lt(av, bv)) : logical_not(gt(av, bv));
                  Tensor zero = zeros({}, g.dtype());
                  return TensorList{
                      ctx.needs_grad(0) ? grad_for(where(pick_a, g, zero), m.a) : Tensor(),
                      ctx.needs_grad(1) ? grad_for(where(pick_a, zero, g), m.b) : Tensor()};
                });
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum(a, b, false); }

// ---- with a scalar ----

Tensor add(const Tensor& a, double b) {
  if (!is_floating(a.dtype())) {
    bool integral = std::floor(b) == b;
    return add(a, scalar_tensor(b, integral ? kInt64 : kFloat32));
  }
  Tensor y = unary_kernel(a, UnaryOp::kAddScalar, b, "add");
  // y = a + s;  da = g
  return record("add_scalar", {a}, y, [](const Tensor& g, const BackwardContext&) { return TensorList{g}; });
}

Tensor mul(const Tensor& a, double b) {
  if (!is_floating(a.dtype())) {
    bool integral = std::floor(b) == b;
    return mul(a, scalar_tensor(b, integral ? kInt64 : kFloat32));
  }
  Tensor y = unary_kernel(a, UnaryOp::kMulScalar, b, "mul");
  // y = a * s;  da = g * s
  return record("mul_scalar", {a}, y, [b](const Tensor& g, const BackwardContext&) { return TensorList{mul(g, b)}; });
}

namespace {
// y = s - a;  da = -g
Tensor rsub(double s, const Tensor& a) {
  if (!is_floating(a.dtype())) return sub(scalar_tensor(s, std::floor(s) == s ? kInt64 : kFloat32), a);
  Tensor y = unary_kernel(a, UnaryOp::kRSubScalar, s, "sub");
  return record("rsub_scalar", {a}, y, [](const Tensor& g, const BackwardContext&) { return TensorList{neg(g)}; });
}
// y = s / a;  da = -g * y / a
Tensor rdiv(double s, const Tensor& a) {
  if (!is_floating(a.dtype())) return div(scalar_tensor(s, kFloat32), a.to(kFloat32));
  Tensor y = unary_kernel(a, UnaryOp::kRDivScalar, s, "div");
  return record("rdiv_scalar", {a}, y,
                [sa = SavedTensor(a), sy = SavedTensor(y, true)](const Tensor& g, const BackwardContext& ctx) {
                  return TensorList{neg(div(mul(g, sy.unpack(ctx)), sa.unpack(ctx)))};
                });
}
}  // namespace

// ---- unary ----

Tensor neg(const Tensor& x) {
  if (!is_floating(x.dtype())) return mul(x, -1.0);
  Tensor y = unary_kernel(x, UnaryOp::kNeg, 0, "neg");
  // y = -x;  dx = -g
  return record("neg", {x}, y, [](const Tensor& g, const BackwardContext&) { return TensorList{neg(g)}; });
}

Tensor exp(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kExp, 0, "exp");
  // y = exp(x);  dx = g * y
  return record("exp", {x}, y, [sy = SavedTensor(y, true)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{mul(g, sy.unpack(ctx))};
  });
}

Tensor log(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kLog, 0, "log");
  // y = log(x);  dx = g / x
  return record("log", {x}, y, [sx = SavedTensor(x)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{div(g, sx.unpack(ctx))};
  });
}

Tensor sqrt(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kSqrt, 0, "sqrt");
  // y = sqrt(x);  dx = g / (2 y)
  return record("sqrt", {x}, y, [sy = SavedTensor(y, true)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{div(mul(g, 0.5), sy.unpack(ctx))};
  });
}

Tensor rsqrt(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kRsqrt, 0, "rsqrt");
  // y = x^(-1/2);  dx = -0.5 g y^3
  return record("rsqrt", {x}, y, [sy = SavedTensor(y, true)](const Tensor& g, const BackwardContext& ctx) {
    Tensor yv = sy.unpack(ctx);
    return TensorList{mul(mul(g, -0.5), mul(yv, square(yv)))};
  });
}

Tensor abs(const Tensor& x) {
  if (!is_floating(x.dtype())) return where(lt(x, zeros({}, x.dtype())), neg(x), x);
  Tensor y = unary_kernel(x, UnaryOp::kAbs, 0, "abs");
  // y = |x|;  dx = g * sign(x)
  return record("abs", {x}, y, [sx = SavedTensor(x)](const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = sx.unpack(ctx);
    return TensorList{mul(g, unary_kernel(xv, UnaryOp::kSign, 0, "sign"))};
  });
}

Tensor square(const Tensor& x) {
  if (!is_floating(x.dtype())) return mul(x, x);
  Tensor y = unary_kernel(x, UnaryOp::kSquare, 0, "square");
  // y = x^2;  dx = 2 g x
  return record("square", {x}, y, [sx = SavedTensor(x)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{mul(mul(g, sx.unpack(ctx)), 2.0)};
  });
}

Tensor erf(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kErf, 0, "erf");
  // y = erf(x);  dx = g * 2/sqrt(pi) * exp(-x^2)
  return record("erf", {x}, y, [sx = SavedTensor(x)](const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = sx.unpack(ctx);
    return TensorList{mul(g, mul(exp(neg(square(xv))), 1.1283791670955126))};
  });
}

Tensor pow(const Tensor& x, double p) {
  if (!is_floating(x.dtype())) return pow(x.to(kFloat32), p);
  Tensor y = unary_kernel(x, UnaryOp::kPow, p, "pow");
  // y = x^p;  dx = g * p * x^(p-1)
  return record("pow", {x}, y, [sx = SavedTensor(x), p](const Tensor& g, const BackwardContext& ctx) {
    if (p == 0) return TensorList{zeros_like(g)};
    return TensorList{mul(g, mul(pow(sx.unpack(ctx), p - 1), p))};
  });
}

Tensor tanh(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kTanh, 0, "tanh");
  // y = tanh(x);  dx = g * (1 - y^2)
  return record("tanh", {x}, y, [sy = SavedTensor(y, true)](const Tensor& g, const BackwardContext& ctx) {
    Tensor yv = sy.unpack(ctx);
    return TensorList{activation_backward(ActivationGrad::kTanh, yv, g,
                                          [&] { return mul(g, rsub(1.0, square(yv))); })};
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kSigmoid, 0, "sigmoid");
  // y = sigmoid(x);  dx = g * y * (1 - y)
  return record("sigmoid", {x}, y, [sy = SavedTensor(y, true)](const Tensor& g, const BackwardContext& ctx) {
    Tensor yv = sy.unpack(ctx);
    return TensorList{activation_backward(ActivationGrad::kSigmoid, yv, g,
                                          [&] { return mul(g, mul(yv, rsub(1.0, yv))); })};
  });
}

Tensor relu(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kRelu, 0, "relu");
  return record("relu", {x}, y, [sx = SavedTensor(x)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{ops::activation_grad("relu", sx.unpack(ctx), g)};
  });
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  TS_CHECK(approximate == "none" || approximate == "tanh",
           "gelu: approximate must be \"none\" or \"tanh\", got \"{}\"", approximate);
  const bool tanh_form = approximate == "tanh";
  Tensor y = unary_kernel(x, tanh_form ? UnaryOp::kGeluTanh : UnaryOp::kGelu, 0, "gelu");
  return record("gelu", {x}, y, [sx = SavedTensor(x), tanh_form](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{ops::activation_grad(tanh_form ? "gelu_tanh" : "gelu", sx.unpack(ctx), g)};
  });
}

namespace ops {

Tensor activation(const std::string& name, const Tensor& x) {
  if (name == "relu") return relu(x);
  if (name == "gelu") return gelu(x);
  if (name == "gelu_tanh") return gelu(x, "tanh");
  fail("activation: expected \"relu\", \"gelu\" or \"gelu_tanh\", got \"{}\"", name);
}

Tensor activation_grad(const std::string& name, const Tensor& x, const Tensor& g) {
  // relu:   y = max(x, 0);                 dx = g (x > 0)
  if (name == "relu")
    return activation_backward(ActivationGrad::kRelu, x, g,
                               [&] { return mul(g, gt(x, zeros({}, x.dtype())).to(g.dtype())); });
  // exact:  y = x Phi(x);                  dx = g (Phi(x) + x phi(x))
  if (name == "gelu")
    return activation_backward(ActivationGrad::kGelu, x, g, [&] {
      Tensor cdf = mul(add(erf(mul(x, 0.7071067811865476)), 1.0), 0.5);
      Tensor pdf = mul(exp(mul(square(x), -0.5)), kInvSqrt2Pi);
      return mul(g, add(cdf, mul(x, pdf)));
    });
  // tanh:   y = 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3), c = sqrt(2/pi);
  //         dx = g (0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2)),  t = tanh(u)
  if (name == "gelu_tanh")
    return activation_backward(ActivationGrad::kGeluTanh, x, g, [&] {
      Tensor x2 = square(x);
      Tensor t = tanh(mul(add(mul(mul(x2, x), 0.044715), x), kSqrt2OverPi));
      Tensor left = mul(add(t, 1.0), 0.5);
      Tensor right = mul(mul(mul(x, rsub(1.0, square(t))), 0.5),
                         mul(add(mul(x2, 3 * 0.044715), 1.0), kSqrt2OverPi));
      return mul(g, add(left, right));
    });
  fail("activation_grad: expected \"relu\", \"gelu\" or \"gelu_tanh\", got \"{}\"", name);
}

}  // namespace ops

Tensor silu(const Tensor& x) {
  Tensor y = unary_kernel(x, UnaryOp::kSilu, 0, "silu");
  // y = x s(x), s = sigmoid;  dx = g s (1 + x (1 - s))
  return record("silu", {x}, y, [sx = SavedTensor(x)](const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = sx.unpack(ctx);
    return TensorList{activation_backward(ActivationGrad::kSilu, xv, g, [&] {
      Tensor s = sigmoid(xv);
      return mul(g, mul(s, add(mul(xv, rsub(1.0, s)), 1.0)));
    })};
  });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  TS_CHECK(!(lo > hi), "clamp: min {} is greater than max {}", lo, hi);
  Tensor lo_t = scalar_tensor(lo, x.dtype()), hi_t = scalar_tensor(hi, x.dtype());
  Tensor y =
      binary_kernel(binary_kernel(x, lo_t, BinaryOp::kMax, "clamp"), hi_t, BinaryOp::kMin, "clamp");
  // y = clamp(x, lo, hi);  dx = g where lo <= x <= hi, else 0
  return record("clamp", {x}, y, [sx = SavedTensor(x), lo, hi](const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = sx.unpack(ctx);
    Tensor inside = logical_not(logical_or(lt(xv, scalar_tensor(lo, xv.dtype())),
                                           gt(xv, scalar_tensor(hi, xv.dtype()))));
    return TensorList{where(inside, g, zeros({}, g.dtype()))};
  });
}

// ---- comparisons and logic (no gradient) ----

Tensor lt(const Tensor& a, const Tensor& b) {
  return binary_kernel(a.detach(), b.detach(), BinaryOp::kLt, "lt");
}
Tensor gt(const Tensor& a, const Tensor& b) {
  return binary_kernel(a.detach(), b.detach(), BinaryOp::kGt, "gt");
}
Tensor eq(const Tensor& a, const Tensor& b) {
  return binary_kernel(a.detach(), b.detach(), BinaryOp::kEq, "eq");
}

namespace {
void check_bool(const Tensor& t, const char* fn) {
  TS_CHECK(t.dtype() == kBool, "{}: expected a bool tensor, got {}", fn, t.describe());
}
}  // namespace

Tensor logical_not(const Tensor& x) {
  check_bool(x, "logical_not");
  return eq(x, zeros({}, kBool));
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  check_bool(a, "logical_and");
  check_bool(b, "logical_and");
  return binary_kernel(a, b, BinaryOp::kMin, "logical_and");
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  check_bool(a, "logical_or");
  check_bool(b, "logical_or");
  return binary_kernel(a, b, BinaryOp::kMax, "logical_or");
}

// ---- masking ----

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  TS_CHECK(cond.dtype() == kBool, "where: condition must be bool, got {}", cond.describe());
  const DType dt = promote_types(a.dtype(), b.dtype());
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor ac = as_dtype(a, dt), bc = as_dtype(b, dt);
  Tensor y = empty(shape, dt);
  ops::RowPlan plan = ops::plan_rows(shape, {y.strides(), ops::broadcast_strides(cond, shape),
                                   ops::broadcast_strides(ac, shape), ops::broadcast_strides(bc, shape)});
  dispatch_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    const bool* cp = static_cast<const bool*>(cond.raw_data());
    const T* ap = static_cast<const T*>(ac.raw_data());
    const T* bp = static_cast<const T*>(bc.raw_data());
    T* yp = static_cast<T*>(y.raw_data());
    const int64_t n = plan.inner, sy = plan.inner_stride[0], sc = plan.inner_stride[1],
                  sa = plan.inner_stride[2], sb = plan.inner_stride[3];
    ops::for_each_row(plan, ops::row_grain(n), [&](const int64_t* off) {
      for (int64_t i = 0; i < n; ++i)
        yp[off[0] + i * sy] = cp[off[1] + i * sc] ? ap[off[2] + i * sa] : bp[off[3] + i * sb];
    });
  });
  if (!is_floating(dt)) return y;
  // y = where(c, a, b);  da = g where c, db = g where !c
  return record("where", {a, b}, y,
                [m = metas(a, b), c = cond.detach()](const Tensor& g, const BackwardContext& ctx) {
                  Tensor zero = zeros({}, g.dtype());
                  return TensorList{ctx.needs_grad(0) ? grad_for(where(c, g, zero), m.a) : Tensor(),
                                    ctx.needs_grad(1) ? grad_for(where(c, zero, g), m.b) : Tensor()};
                });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  TS_CHECK(mask.dtype() == kBool, "masked_fill: mask must be bool, got {}", mask.describe());
  Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  TS_CHECK(shape == x.shape(), "masked_fill: mask {} does not broadcast to input {}",
           mask.describe(), x.describe());
  return where(mask, scalar_tensor(value, x.dtype()), x);
}

// ---- operators and methods ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) {
  return is_floating(a.dtype()) ? mul(a, 1.0 / b) : div(a.to(kFloat32), scalar_tensor(b, kFloat32));
}
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(a, b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(a, b); }
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_tensor(b, is_floating(a.dtype()) ? a.dtype() : kFloat64)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_tensor(b, is_floating(a.dtype()) ? a.dtype() : kFloat64)); }
Tensor operator==(const Tensor& a, double b) { return eq(a, scalar_tensor(b, is_floating(a.dtype()) ? a.dtype() : kFloat64)); }

Tensor Tensor::neg() const { return taesan::neg(*this); }
Tensor Tensor::exp() const { return taesan::exp(*this); }
Tensor Tensor::log() const { return taesan::log(*this); }
Tensor Tensor::sqrt() const { return taesan::sqrt(*this); }
Tensor Tensor::rsqrt() const { return taesan::rsqrt(*this); }
Tensor Tensor::abs() const { return taesan::abs(*this); }
Tensor Tensor::tanh() const { return taesan::tanh(*this); }
Tensor Tensor::sigmoid() const { return taesan::sigmoid(*this); }
Tensor Tensor::relu() const { return taesan::relu(*this); }
Tensor Tensor::pow(double e) const { return taesan::pow(*this, e); }
Tensor Tensor::masked_fill(const Tensor& m, double v) const { return taesan::masked_fill(*this, m, v); }
Tensor Tensor::clamp(double lo, double hi) const { return taesan::clamp(*this, lo, hi); }

}  // namespace taesan
