// matmul / linear and their backward rules:
//   C = A B;  dA = g Bᵀ,  dB = Aᵀ g   (transposes are views: the GEMM reads them with flags)
// linear is one GEMM with the bias added in its epilogue (kernels::gemm_fused), one node.
// Inside an autocast region both run on bf16-rounded operands (ops/autocast.h); the native
// AVX512_BF16 GEMM that would replace the rounding is described in ops/kernels/convert.h.
#include "taesan/ops/linalg.h"

#include <string>
#include <utility>

#include "taesan/autograd/autocast.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/autocast.h"
#include "taesan/ops/kernels/gemm.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

using autograd::BackwardContext;
using autograd::record;
using autograd::SavedTensor;

// A matrix operand as the GEMM sees it: pointer, transpose flag and leading dimension.
struct GemmOperand {
  Tensor keep;  // holds the data alive (a copy when the layout needed one)
  bool trans;
  int64_t ld;
};

// rows x cols matrix with strides (rs, cs): usable directly when one stride is 1.
GemmOperand as_gemm_operand(const Tensor& t, int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cs == 1 && rs >= std::max<int64_t>(cols, 1)) return {t, false, rs};
  if (rs == 1 && cs >= std::max<int64_t>(rows, 1)) return {t, true, cs};
  if (cols <= 1 && rs >= 1) return {t, false, std::max<int64_t>(rs, 1)};  // a column vector
  if (rows <= 1 && cs >= 1) return {t, true, std::max<int64_t>(cs, 1)};   // a row vector
  return {Tensor(), false, 0};
}

void check_matmul_dtypes(const Tensor& a, const Tensor& b, const char* fn) {
  if (a.dtype() == kBFloat16 || b.dtype() == kBFloat16) refuse_bfloat16(fn);
  TS_CHECK(is_floating(a.dtype()) && a.dtype() == b.dtype(),
           "{}: expected two floating-point tensors of the same dtype, got {} and {}", fn,
           a.describe(), b.describe());
}

// c (batch, m, n) = a (batch|1, m, k) @ b (batch|1, k, n), all as 3-d tensors.
Tensor batched_product(const Tensor& a, const Tensor& b) {
  const int64_t ba = a.shape()[0], bb = b.shape()[0], m = a.shape()[1], k = a.shape()[2],
                n = b.shape()[2];
  const int64_t batch = std::max(ba, bb);
  Tensor c = empty({batch, m, n}, a.dtype());
  if (c.numel() == 0) return c;
  if (k == 0) return c.zero_();
  auto operand = [](const Tensor& t, int64_t rows, int64_t cols) {
    GemmOperand op = as_gemm_operand(t, rows, cols, t.strides()[1], t.strides()[2]);
    if (!op.keep.defined()) {
      Tensor tc = t.contiguous();
      op = {tc, false, cols};
    }
    return op;
  };
  GemmOperand A = operand(a, m, k), B = operand(b, k, n);
  const int64_t sa = ba == 1 ? 0 : A.keep.strides()[0], sb = bb == 1 ? 0 : B.keep.strides()[0];
  dispatch_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ap = static_cast<const T*>(A.keep.raw_data());
    const T* bp = static_cast<const T*>(B.keep.raw_data());
    T* cp = c.data<T>();
    if (batch == 1)
      kernels::gemm(A.trans, B.trans, m, n, k, T(1), ap, A.ld, bp, B.ld, T(0), cp, n);
    else
      kernels::gemm_strided_batched(batch, A.trans, B.trans, m, n, k, T(1), ap, A.ld, sa, bp, B.ld,
                                    sb, T(0), cp, n, m * n);
  });
  return c;
}

}  // namespace

namespace ops {

Tensor mm(const Tensor& a, const Tensor& b) {
  check_matmul_dtypes(a, b, "mm");
  TS_CHECK(a.dim() == 2 && b.dim() == 2 && a.shape()[1] == b.shape()[0],
           "mm: shapes {} and {} cannot be multiplied (expected (m, k) and (k, n))",
           shape_str(a.shape()), shape_str(b.shape()));
  Tensor c = batched_product(unsqueeze(a.detach(), 0), unsqueeze(b.detach(), 0));
  c = reshape(c, {a.shape()[0], b.shape()[1]});
  // C = A B;  dA = g Bᵀ, dB = Aᵀ g
  return record("mm", {a, b}, c, [sa = SavedTensor(a), sb = SavedTensor(b)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{ctx.needs_grad(0) ? mm(g, transpose(sb.unpack(ctx), 0, 1)) : Tensor(),
                      ctx.needs_grad(1) ? mm(transpose(sa.unpack(ctx), 0, 1), g) : Tensor()};
  });
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_matmul_dtypes(a, b, "bmm");
  TS_CHECK(a.dim() == 3 && b.dim() == 3 && a.shape()[2] == b.shape()[1] &&
               (a.shape()[0] == b.shape()[0] || a.shape()[0] == 1 || b.shape()[0] == 1),
           "bmm: shapes {} and {} cannot be multiplied (expected (B, m, k) and (B, k, n))",
           shape_str(a.shape()), shape_str(b.shape()));
  Tensor c = batched_product(a.detach(), b.detach());
  // C_i = A_i B_i;  dA_i = g_i B_iᵀ, dB_i = A_iᵀ g_i  (summed over the batch when broadcast)
  return record("bmm", {a, b}, c, [sa = SavedTensor(a), sb = SavedTensor(b)](const Tensor& g, const BackwardContext& ctx) {
    Tensor av = sa.unpack(ctx), bv = sb.unpack(ctx);
    Tensor da, db;
    if (ctx.needs_grad(0)) {
      da = bmm(g, transpose(bv, 1, 2));
      if (av.shape()[0] == 1 && da.shape()[0] != 1) da = sum(da, 0, true);
    }
    if (ctx.needs_grad(1)) {
      db = bmm(transpose(av, 1, 2), g);
      if (bv.shape()[0] == 1 && db.shape()[0] != 1) db = sum(db, 0, true);
    }
    return TensorList{da, db};
  });
}

}  // namespace ops

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (ops::autocast_applies({a, b})) {  // bf16 products, fp32 accumulation (ops/autocast.h)
    AutocastGuard off(false);
    return ops::autocast_output(matmul(ops::autocast_operand(a), ops::autocast_operand(b)));
  }
  check_matmul_dtypes(a, b, "matmul");
  TS_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both arguments need at least 1 dim, got {} and {}",
           a.describe(), b.describe());
  const int64_t k_a = a.shape().back(), k_b = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  TS_CHECK(k_a == k_b, "matmul: shapes {} and {} cannot be multiplied ({} != {})",
           shape_str(a.shape()), shape_str(b.shape()), k_a, k_b);
  if (a.dim() == 1 && b.dim() == 1) return sum(mul(a, b));
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  if (a.dim() == 2 && b.dim() == 2) return ops::mm(a, b);
  if (b.dim() == 2) {
    // (..., m, k) x (k, n): fold the batch into m, one GEMM.
    Shape out = a.shape();
    out.back() = b.shape()[1];
    // The row count spelled out: with k = 0, {-1, 0} would not say how many rows there are.
    const int64_t rows = shape_numel(Shape(a.shape().begin(), a.shape().end() - 1));
    return reshape(ops::mm(reshape(a, {rows, k_a}), b), out);
  }
  // Broadcast the batch dims, then one strided-batched GEMM.
  Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  const int64_t m = a.shape()[a.dim() - 2], n = b.shape().back(), nb = shape_numel(batch);
  auto as3 = [&](const Tensor& t, const Shape& tb, int64_t r, int64_t c) {
    if (shape_numel(tb) == 1 && nb != 1) return reshape(t, {1, r, c});  // broadcast one matrix
    Shape full_shape = batch;
    full_shape.push_back(r);
    full_shape.push_back(c);
    return reshape(expand(t, full_shape), {nb, r, c});
  };
  Tensor c3 = ops::bmm(as3(a, batch_a, m, k_a), as3(b, batch_b, k_b, n));
  Shape out = batch;
  out.push_back(m);
  out.push_back(n);
  return reshape(c3, out);
}

namespace ops {

kernels::GemmActivation gemm_activation(const std::string& activation) {
  if (activation == "none") return kernels::GemmActivation::kNone;
  if (activation == "relu") return kernels::GemmActivation::kRelu;
  if (activation == "gelu") return kernels::GemmActivation::kGelu;
  if (activation == "gelu_tanh") return kernels::GemmActivation::kGeluTanh;
  fail("linear: activation must be \"none\", \"relu\", \"gelu\" or \"gelu_tanh\", got \"{}\"",
       activation);
}

Tensor linear_gemm(const Tensor& x2, const Tensor& weight, const Tensor& bias,
                   const std::string& activation, Tensor* pre_activation) {
  TS_CHECK(x2.dim() == 2 && x2.is_contiguous() && x2.numel() > 0 && weight.dim() == 2 &&
               weight.shape()[1] == x2.shape()[1] && weight.shape()[0] > 0,
           "linear_gemm: expected a contiguous non-empty (M, K) input and an (N, K) weight, got {} "
           "and {}", x2.describe(), weight.describe());
  const int64_t M = x2.shape()[0], K = x2.shape()[1], N = weight.shape()[0];
  const kernels::GemmActivation act = gemm_activation(activation);
  GemmOperand W = as_gemm_operand(weight, N, K, weight.strides()[0], weight.strides()[1]);
  if (!W.keep.defined()) W = {weight.contiguous(), false, K};
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = empty({M, N}, x2.dtype());
  if (pre_activation != nullptr) *pre_activation = empty({M, N}, x2.dtype());
  dispatch_float(x2.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::GemmEpilogue<T> epilogue;
    epilogue.bias = bc.defined() ? bc.data<T>() : nullptr;
    epilogue.activation = act;
    if (pre_activation != nullptr) {
      epilogue.pre_activation = pre_activation->data<T>();
      epilogue.ld_pre_activation = N;
    }
    // op(B) = wᵀ: a row-major (N, K) weight is read transposed; a transposed view is not.
    kernels::gemm_fused(false, !W.trans, M, N, K, T(1), x2.data<T>(), K,
                        static_cast<const T*>(W.keep.raw_data()), W.ld, T(0), y.data<T>(), N,
                        epilogue);
  });
  return y;
}

}  // namespace ops

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (ops::autocast_applies({x, weight, bias})) {
    // bf16 products, fp32 accumulation (ops/autocast.h); the bias is added in float32.
    AutocastGuard off(false);
    Tensor b = bias.defined() && bias.dtype() == kBFloat16 ? bias.to(kFloat32) : bias;
    return ops::autocast_output(linear(ops::autocast_operand(x), ops::autocast_operand(weight), b));
  }
  TS_CHECK(weight.dim() == 2, "linear: weight must be 2-d (out, in), got {}", weight.describe());
  TS_CHECK(x.dim() >= 1 && x.shape().back() == weight.shape()[1],
           "linear: input {} does not end in in_features = {} of weight {}", x.describe(),
           weight.shape()[1], weight.describe());
  if (bias.defined())
    TS_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0],
             "linear: bias {} must have shape [{}]", bias.describe(), weight.shape()[0]);
  check_matmul_dtypes(x, weight, "linear");
  if (bias.defined())
    TS_CHECK(bias.dtype() == x.dtype(), "linear: bias {} must have the input's dtype {}",
             bias.describe(), x.dtype());
  const int64_t K = weight.shape()[1], N = weight.shape()[0];
  const int64_t M = K == 0 ? 0 : x.numel() / K;
  Shape out_shape = x.shape();
  out_shape.back() = N;
  if (M == 0 || N == 0 || K == 0) {
    // Degenerate sizes: the composed form (matmul with a transposed view, then a broadcast add).
    Tensor y = matmul(x, transpose(weight, 0, 1));
    return bias.defined() ? add(y, bias) : y;
  }
  // y (M, N) = x2 (M, K) wᵀ + b in one GEMM; the bias is added in the GEMM's epilogue.
  Tensor y = reshape(ops::linear_gemm(reshape(x.detach().contiguous(), {M, K}), weight.detach(),
                                      bias.defined() ? bias.detach() : Tensor()),
                     out_shape);
  // y = x wᵀ + b;  dx = g w,  dw = gᵀ x,  db = sum of g over the rows  (x, g as (M, ·) matrices)
  auto backward = [sx = SavedTensor(x), sw = SavedTensor(weight), M, N, K](
                      const Tensor& g, const BackwardContext& ctx) {
    Tensor g2 = reshape(g, {M, N});
    Tensor dx, dw, db;
    if (ctx.needs_grad(0)) {
      Tensor xv = sx.unpack(ctx);
      dx = reshape(ops::mm(g2, sw.unpack(ctx)), xv.shape());
    }
    if (ctx.needs_grad(1)) dw = ops::mm(transpose(g2, 0, 1), reshape(sx.unpack(ctx), {M, K}));
    if (ctx.needs_grad(2)) db = sum(g2, {0});
    return TensorList{dx, dw, db};
  };
  return record("linear", {x, weight, bias}, y, std::move(backward));
}

Tensor Tensor::matmul(const Tensor& other) const { return taesan::matmul(*this, other); }

}  // namespace taesan
