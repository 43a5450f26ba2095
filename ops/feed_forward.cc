// feed_forward: two fused-epilogue GEMMs forward, recompute-the-activation backward (see the
// header). The gradient formulas are above the backward.
#include "taesan/ops/feed_forward.h"

#include <utility>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/fused_backward.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/autocast.h"
#include "taesan/ops/ops.h"

namespace taesan {

using autograd::BackwardContext;
using autograd::record;
using autograd::SavedTensor;

namespace {

void check_bias(const Tensor& b, int64_t n, const Tensor& x, const char* name) {
  if (!b.defined()) return;
  TS_CHECK(b.dim() == 1 && b.shape()[0] == n && b.dtype() == x.dtype(),
           "feed_forward: {} {} must have shape [{}] and the input's dtype {}", name, b.describe(),
           n, x.dtype());
}

Tensor detached(const Tensor& t) { return t.defined() ? t.detach() : Tensor(); }

}  // namespace

Tensor feed_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                    const Tensor& b2, const std::string& activation) {
  TS_CHECK(activation == "relu" || activation == "gelu" || activation == "gelu_tanh",
           "feed_forward: activation must be \"relu\", \"gelu\" or \"gelu_tanh\", got \"{}\"",
           activation);
  TS_CHECK(w1.dim() == 2 && w2.dim() == 2 && w2.shape()[1] == w1.shape()[0],
           "feed_forward: expected w1 (d_ff, d_in) and w2 (d_out, d_ff), got {} and {}",
           w1.describe(), w2.describe());
  TS_CHECK(x.dim() >= 1 && x.shape().back() == w1.shape()[1],
           "feed_forward: input {} does not end in d_in = {} of w1 {}", x.describe(),
           w1.shape()[1], w1.describe());
  if (ops::autocast_applies({x, w1, b1, w2, b2})) {
    // Autocast: the composed ops, whose linears round their operands (the activation's output
    // included, as the unfused module would) and accumulate in fp32; the activation stays fp32.
    return linear(ops::activation(activation, linear(x, w1, b1)), w2, b2);
  }
  if (x.dtype() == kBFloat16 || w1.dtype() == kBFloat16 || w2.dtype() == kBFloat16)
    refuse_bfloat16("feed_forward");
  TS_CHECK(is_floating(x.dtype()) && w1.dtype() == x.dtype() && w2.dtype() == x.dtype(),
           "feed_forward: expected floating-point tensors of one dtype, got {}, {} and {}",
           x.describe(), w1.describe(), w2.describe());
  const int64_t D = w1.shape()[1], F = w1.shape()[0], N = w2.shape()[0];
  check_bias(b1, F, x, "b1");
  check_bias(b2, N, x, "b2");
  const int64_t M = D == 0 ? 0 : x.numel() / D;
  if (M == 0 || D == 0 || F == 0 || N == 0)  // degenerate sizes: the composed ops handle them
    return linear(ops::activation(activation, linear(x, w1, b1)), w2, b2);

  Shape out_shape = x.shape();
  out_shape.back() = N;
  const bool graph = autograd::needs_graph({x, w1, b1, w2, b2});
  // z (M, F) = x w1ᵀ + b1 (kept only for backward), y = act(z) from the same epilogue,
  // out (M, N) = y w2ᵀ + b2; y is freed when this function returns.
  Tensor z;
  Tensor y = ops::linear_gemm(reshape(x.detach().contiguous(), {M, D}), w1.detach(), detached(b1),
                              activation, graph ? &z : nullptr);
  Tensor out = reshape(ops::linear_gemm(y, w2.detach(), detached(b2)), out_shape);
  y = Tensor();

  // With x, g as (M, ·) matrices:
  //   dy = g w2,  dz = dy ⊙ act'(z),
  //   dx = dz w1,  dw1 = dzᵀ x,  db1 = Σ_rows dz,  dw2 = gᵀ act(z),  db2 = Σ_rows g.
  // act(z) is recomputed from z: the forward's epilogue and ops::activation are the same
  // function (math-inl.h), so the gradient is that of the function the forward computed. Under
  // create_graph z is recomputed from the inputs too, so that every gradient is differentiable.
  auto backward = [sx = SavedTensor(x), sw1 = SavedTensor(w1), sb1 = SavedTensor(b1),
                   sw2 = SavedTensor(w2), z = std::move(z), activation, M, D, N](
                      const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = reshape(sx.unpack(ctx), {M, D});
    Tensor w1v = sw1.unpack(ctx), w2v = sw2.unpack(ctx);
    // b1 is read (and its version checked) only by the composed form, which runs in grad mode.
    const Tensor b1v = GradMode::is_enabled() ? sb1.unpack(ctx) : Tensor();
    Tensor zv = autograd::fused_backward(
        {xv, w1v, b1v, w2v, g}, [&] { return z; }, [&] { return linear(xv, w1v, b1v); });
    Tensor g2 = reshape(g, {M, N});
    Tensor dx, dw1, db1, dw2, db2;
    if (ctx.needs_grad(0) || ctx.needs_grad(1) || ctx.needs_grad(2)) {
      Tensor dz = ops::activation_grad(activation, zv, ops::mm(g2, w2v));
      if (ctx.needs_grad(0)) dx = reshape(ops::mm(dz, w1v), sx.unpack(ctx).shape());
      if (ctx.needs_grad(1)) dw1 = ops::mm(transpose(dz, 0, 1), xv);
      if (ctx.needs_grad(2)) db1 = sum(dz, {0});
    }
    if (ctx.needs_grad(3)) dw2 = ops::mm(transpose(g2, 0, 1), ops::activation(activation, zv));
    if (ctx.needs_grad(4)) db2 = sum(g2, {0});
    return TensorList{dx, dw1, db1, dw2, db2};
  };
  return record("feed_forward", {x, w1, b1, w2, b2}, out, std::move(backward));
}

}  // namespace taesan
