// scaled_dot_product_attention: argument checks, the reference composition, and the fused op
// with its backward rule.
//   S = scale q kᵀ + M,  P = softmax(S),  O = P v
//   dv = Pᵀ g,  dP = g vᵀ,  dS = P (dP - rowsum(dP P)),  dq = scale dS k,  dk = scale dSᵀ q
#include "taesan/ops/attention.h"

#include <cmath>
#include <limits>

#include "taesan/autograd/autocast.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/fused_backward.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/autocast.h"
#include "taesan/ops/kernels/attention.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

using autograd::BackwardContext;
using autograd::record;
using autograd::SavedTensor;

constexpr double kInf = std::numeric_limits<double>::infinity();

// (Tq, Tk) bool: true where key j comes after query i.
Tensor causal_future(int64_t tq, int64_t tk) {
  return gt(unsqueeze(arange(tk, kInt64), 0), unsqueeze(arange(tq, kInt64), 1));
}

// The mask as additive float (0 / -inf for bool masks), not recorded.
Tensor additive_mask(const Tensor& mask, DType dtype) {
  if (mask.dtype() == kBool) return where(mask, zeros({}, dtype), full({}, -kInf, dtype));
  return mask;
}

Tensor reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                           double dropout_p, bool causal, double scale) {
  const int64_t tq = q.size(-2), tk = k.size(-2);
  Tensor s = mul(matmul(q, transpose(k, -2, -1)), scale);
  if (causal) s = masked_fill(s, causal_future(tq, tk), -kInf);
  if (mask.defined()) {
    s = mask.dtype() == kBool ? masked_fill(s, expand(logical_not(mask), s.shape()), -kInf)
                              : add(s, mask);
  }
  Tensor p = softmax(s, -1);
  if (dropout_p > 0) p = dropout(p, dropout_p, true);
  return matmul(p, v);
}

// The backward of the fused op written with ops (used when the backward must be differentiable).
TensorList composed_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                             bool causal, double scale, const Tensor& g) {
  const int64_t tq = q.size(-2), tk = k.size(-2);
  Tensor s = mul(matmul(q, transpose(k, -2, -1)), scale);
  if (causal) s = masked_fill(s, causal_future(tq, tk), -kInf);
  if (mask.defined()) s = add(s, mask);
  Tensor p = softmax(s, -1);
  Tensor dv = matmul(transpose(p, -2, -1), g);
  Tensor dp = matmul(g, transpose(v, -2, -1));
  Tensor ds = mul(p, sub(dp, sum(mul(dp, p), -1, true)));
  return {mul(matmul(ds, k), scale), mul(matmul(transpose(ds, -2, -1), q), scale), dv};
}

// A (B, H, T, w) operand as the kernel reads it: in place (its strides become the layout) when
// its rows are contiguous and do not overlap, as the head views of multi-head attention's
// (B, T, H, w) projections are; else a contiguous copy.
Tensor kernel_operand(const Tensor& t, kernels::AttentionLayout* layout) {
  Tensor x = t.detach();
  const bool rows_ok = (x.size(3) <= 1 || x.stride(3) == 1) && x.stride(0) >= 0 &&
                       x.stride(1) >= 0 && (x.size(2) <= 1 || x.stride(2) >= x.size(3));
  if (!rows_ok) x = x.contiguous();
  *layout = {x.stride(0), x.stride(1), x.stride(2)};
  return x;
}

// A new (B, H, T, w) output laid out like `like`: token-major, (B, T, H, w) memory viewed as
// (B, H, T, w), when like's heads are interleaved within a token (so that merging the heads back
// into (B, T, H * w) is free), else contiguous.
Tensor new_output(const Tensor& like, Shape shape, kernels::AttentionLayout* layout) {
  const bool token_major = like.size(1) > 1 && like.size(2) > 1 && like.stride(1) < like.stride(2);
  Tensor out = token_major
                   ? transpose(empty({shape[0], shape[2], shape[1], shape[3]}, like.dtype()), 1, 2)
                   : empty(shape, like.dtype());
  *layout = {out.stride(0), out.stride(1), out.stride(2)};
  return out;
}

// Fused forward on 4-d (B, H, T, d) inputs; mask is additive (4-d broadcastable) or undefined.
Tensor fused_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                       bool causal, double scale) {
  kernels::AttentionParams p;
  Tensor qc = kernel_operand(q, &p.q_layout), kc = kernel_operand(k, &p.k_layout),
         vc = kernel_operand(v, &p.v_layout);
  p.batch = q.size(0);
  p.heads = q.size(1);
  p.tq = q.size(2);
  p.tk = k.size(2);
  p.d = q.size(3);
  p.dv = v.size(3);
  p.scale = scale;
  p.causal = causal;
  Tensor m;
  if (mask.defined()) {
    m = expand(mask.detach(), {p.batch, p.heads, p.tq, p.tk});
    p.mask = m.raw_data();
    p.mask_sb = m.stride(0);
    p.mask_sh = m.stride(1);
    p.mask_si = m.stride(2);
    p.mask_sj = m.stride(3);
  }
  Tensor out = new_output(q, {p.batch, p.heads, p.tq, p.dv}, &p.out_layout);
  Tensor lse = empty({p.batch, p.heads, p.tq}, q.dtype());
  dispatch_float(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Strided operands: raw pointers, the layouts in p say where the rows are.
    auto ptr = [](const Tensor& t) { return static_cast<T*>(t.raw_data()); };
    kernels::attention_forward(p, ptr(qc), ptr(kc), ptr(vc), ptr(out), lse.data<T>());
  });
  return record("scaled_dot_product_attention", {q, k, v}, out,
                [sq = SavedTensor(q), sk = SavedTensor(k), sv = SavedTensor(v),
                 so = SavedTensor(out, true), lse, m, p, mask](const Tensor& g, const BackwardContext& ctx) {
    Tensor qv = sq.unpack(ctx), kv = sk.unpack(ctx), vv = sv.unpack(ctx);
    auto composed = [&] { return composed_backward(qv, kv, vv, mask, p.causal, p.scale, g); };
    auto fused = [&] {
      kernels::AttentionParams pb = p;
      Tensor qc = kernel_operand(qv, &pb.q_layout), kc = kernel_operand(kv, &pb.k_layout),
             vc = kernel_operand(vv, &pb.v_layout);
      Tensor oc = kernel_operand(so.unpack(ctx), &pb.out_layout);
      Tensor gc = kernel_operand(g.dtype() == qc.dtype() ? g : g.to(qc.dtype()), &pb.dout_layout);
      // The gradients take their inputs' layouts, so they flow back into the projections in place.
      Tensor dq = new_output(qc, qc.shape(), &pb.dq_layout),
             dk = new_output(kc, kc.shape(), &pb.dk_layout),
             dv = new_output(vc, vc.shape(), &pb.dv_layout);
      if (m.defined()) pb.mask = m.raw_data();
      dispatch_float(qc.dtype(), [&](auto tag) {
        using T = decltype(tag);
        auto ptr = [](const Tensor& t) { return static_cast<T*>(t.raw_data()); };
        kernels::attention_backward(pb, ptr(qc), ptr(kc), ptr(vc), ptr(oc), ptr(gc), lse.data<T>(),
                                    ptr(dq), ptr(dk), ptr(dv));
      });
      return TensorList{dq, dk, dv};
    };
    return autograd::fused_backward({qv, kv, vv, g}, fused, composed);
  });
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal,
                                    std::optional<double> scale, AttentionBackend backend) {
  const char* fn = "scaled_dot_product_attention";
  if (ops::autocast_applies({q, k, v})) {
    // q, k, v rounded to bf16, fp32 accumulation (ops/autocast.h); the softmax and its
    // probabilities stay float32, as softmax does everywhere under autocast.
    AutocastGuard off(false);
    Tensor mask =
        attn_mask.defined() && attn_mask.dtype() == kBFloat16 ? attn_mask.to(kFloat32) : attn_mask;
    return ops::autocast_output(scaled_dot_product_attention(
        ops::autocast_operand(q), ops::autocast_operand(k), ops::autocast_operand(v), mask,
        dropout_p, is_causal, scale, backend));
  }
  if (q.dtype() == kBFloat16 || k.dtype() == kBFloat16 || v.dtype() == kBFloat16)
    refuse_bfloat16(fn);
  TS_CHECK(is_floating(q.dtype()) && k.dtype() == q.dtype() && v.dtype() == q.dtype(),
           "{}: q, k, v must share one floating-point dtype, got {}, {}, {}", fn, q.describe(),
           k.describe(), v.describe());
  TS_CHECK((q.dim() == 3 || q.dim() == 4) && k.dim() == q.dim() && v.dim() == q.dim(),
           "{}: expected q, k, v of shape (B, H, T, d) or (B, T, d), got {}, {}, {}", fn,
           shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  for (int64_t d = 0; d < q.dim() - 2; ++d)
    TS_CHECK(q.size(d) == k.size(d) && q.size(d) == v.size(d),
             "{}: batch dims of q {}, k {}, v {} differ", fn, shape_str(q.shape()),
             shape_str(k.shape()), shape_str(v.shape()));
  TS_CHECK(q.size(-1) == k.size(-1), "{}: q {} and k {} must have the same head dim", fn,
           shape_str(q.shape()), shape_str(k.shape()));
  TS_CHECK(k.size(-2) == v.size(-2), "{}: k {} and v {} must have the same sequence length", fn,
           shape_str(k.shape()), shape_str(v.shape()));
  TS_CHECK(dropout_p >= 0 && dropout_p < 1, "{}: dropout_p must be in [0, 1), got {}", fn, dropout_p);
  const double s = scale.value_or(1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  Shape score_shape(q.shape().begin(), q.shape().end() - 1);
  score_shape.push_back(k.size(-2));
  if (attn_mask.defined()) {
    TS_CHECK(attn_mask.dtype() == kBool || attn_mask.dtype() == q.dtype(),
             "{}: attn_mask must be bool or {} (like q), got {}", fn, q.dtype(), attn_mask.describe());
    bool broadcasts = attn_mask.dim() <= q.dim();
    for (int64_t i = 1; broadcasts && i <= attn_mask.dim(); ++i) {
      int64_t have = attn_mask.size(-i), want = score_shape[score_shape.size() - i];
      broadcasts = have == want || have == 1;
    }
    TS_CHECK(broadcasts, "{}: attn_mask {} does not broadcast to the attention scores {}", fn,
             shape_str(attn_mask.shape()), shape_str(score_shape));
  }
  const bool mask_grad = attn_mask.defined() && attn_mask.requires_grad();
  const bool fused_ok = dropout_p == 0 && !mask_grad;
  if (backend == AttentionBackend::Fused)
    TS_CHECK(fused_ok, "{}: the fused backend supports neither dropout nor a mask that requires grad", fn);
  if (backend == AttentionBackend::Reference || !fused_ok)
    return reference_attention(q, k, v, attn_mask, dropout_p, is_causal, s);
  Tensor mask = attn_mask.defined() ? additive_mask(attn_mask.detach(), q.dtype()) : Tensor();
  if (q.dim() == 3) {
    if (mask.defined() && mask.dim() == 3) mask = unsqueeze(mask, 1);  // (B, Tq, Tk) -> (B, 1, Tq, Tk)
    return squeeze(fused_attention(unsqueeze(q, 1), unsqueeze(k, 1), unsqueeze(v, 1), mask, is_causal, s), 1);
  }
  return fused_attention(q, k, v, mask, is_causal, s);
}

}  // namespace taesan
