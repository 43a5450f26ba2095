// The list of differentiable ops (an X-macro). The generic gradcheck test walks this list and
// a static_assert there fails when an op is added here without its test entry.
#pragma once

#include <cstddef>

// X(name): one entry per public differentiable op.
// clang-format off
#define TS_FOR_EACH_OP(X)                                                                         \
  X(reshape) X(view) X(flatten) X(transpose) X(permute) X(unsqueeze) X(squeeze) X(expand)         \
  X(slice) X(index_select) X(gather) X(cat) X(stack) X(split) X(to) X(clone) X(contiguous)        \
  X(add) X(sub) X(mul) X(div) X(maximum) X(minimum) X(add_scalar) X(mul_scalar) X(rsub_scalar)    \
  X(rdiv_scalar) X(neg) X(exp) X(log) X(sqrt) X(rsqrt) X(abs) X(square) X(erf) X(pow)             \
  X(tanh) X(sigmoid) X(relu) X(gelu) X(gelu_tanh) X(silu) X(clamp) X(masked_fill) X(where)        \
  X(sum) X(mean) X(max) X(logsumexp) X(var) X(matmul) X(linear) X(softmax) X(log_softmax)         \
  X(layer_norm) X(rms_norm) X(dropout) X(embedding) X(cross_entropy) X(nll_loss) X(mse_loss)      \
  X(binary_cross_entropy_with_logits) X(scaled_dot_product_attention) X(feed_forward)
// clang-format on

namespace taesan::ops {

/// Names of all differentiable ops, in list order.
inline constexpr const char* kOpNames[] = {
#define TS_OP_NAME(name) #name,
    TS_FOR_EACH_OP(TS_OP_NAME)
#undef TS_OP_NAME
};
inline constexpr size_t kNumOps = sizeof(kOpNames) / sizeof(kOpNames[0]);

}  // namespace taesan::ops
