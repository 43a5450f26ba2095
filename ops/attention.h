// Scaled dot-product attention: softmax(q kᵀ · scale + mask) v, with boolean or additive masks
// that broadcast, causal masking without a T x T mask, dropout on the attention weights, and two
// implementations behind one op: a reference composed of batched matmul + masked softmax, and a
// fused kernel (online softmax, memory linear in T) chosen automatically when it applies.
#pragma once

#include <optional>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// Which implementation scaled_dot_product_attention uses.
enum class AttentionBackend {
  Auto,       ///< fused unless dropout is on or the mask requires grad
  Reference,  ///< matmul + masked softmax + matmul (materialises the T x T weights)
  Fused,      ///< the tiled online-softmax kernel (throws where it does not apply)
};

/// q (B, H, Tq, d) or (B, Tq, d); k (.., Tk, d); v (.., Tk, dv) -> (.., Tq, dv).
/// attn_mask: bool (true = may attend, as in PyTorch) or additive float, broadcastable to
/// (.., Tq, Tk). is_causal masks key j > query i. scale defaults to 1/sqrt(d).
/// A query row with every key masked gives zeros (not NaN).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0,
                                    bool is_causal = false,
                                    std::optional<double> scale = std::nullopt,
                                    AttentionBackend backend = AttentionBackend::Auto);

}  // namespace taesan
