// nn::MultiheadAttention: multi-head scaled dot-product attention with separate q/k/v input
// projections (PyTorch's in_proj_weight split into q_proj, k_proj, v_proj so weights map one to
// one) and an output projection. Inputs are batch-first: (B, T, E). Masks follow
// torch.nn.MultiheadAttention: in attn_mask and key_padding_mask, true means "masked out".
// A key/value cache supports incremental decoding.
#pragma once

#include <memory>

#include "taesan/nn/dropout.h"
#include "taesan/nn/linear.h"
#include "taesan/nn/module.h"

namespace taesan::nn {

/// Options of MultiheadAttention (torch names).
struct MultiheadAttentionOptions {
  double dropout = 0.0;  ///< on the attention weights, in training
  bool bias = true;      ///< biases of the four projections
  int64_t kdim = 0;      ///< key feature size (0: embed_dim)
  int64_t vdim = 0;      ///< value feature size (0: embed_dim)
};

/// Keys and values of past positions for incremental decoding, (B, H, T_past, head_dim).
/// A static cache (cross-attention) is filled once from the memory and then reused as is.
struct KVCache {
  Tensor k, v;
  bool is_static = false;
  int64_t length() const { return k.defined() ? k.size(2) : 0; }
};

/// Per-call arguments of MultiheadAttention::forward.
struct AttentionForwardOptions {
  Tensor attn_mask;         ///< (Tq, Tk) or (B*H, Tq, Tk); bool (true = masked) or additive float
  Tensor key_padding_mask;  ///< (B, Tk) bool, true = padding (ignored); or additive float
  bool is_causal = false;   ///< query i may not see key j > i (+ cached length)
  bool need_weights = false;        ///< also return the attention weights
  bool average_attn_weights = true;  ///< average the weights over heads
  KVCache* cache = nullptr;  ///< incremental decoding: extended (or reused, if static) in place
};

/// The output and, when asked for, the attention weights ((B, Tq, Tk), or (B, H, Tq, Tk)).
struct AttentionOutput {
  Tensor output;
  Tensor weights;
};

/// Multi-head attention (Vaswani et al.): softmax(Q Kᵀ / sqrt(d)) V per head.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, const MultiheadAttentionOptions& options = {});

  /// query (B, Tq, E), key (B, Tk, kdim), value (B, Tk, vdim) -> output (B, Tq, E).
  AttentionOutput forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const AttentionForwardOptions& options = {}) const;
  void reset_parameters();
  std::string extra_repr() const override;

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  int64_t head_dim() const { return embed_dim_ / num_heads_; }

  std::shared_ptr<Linear> q_proj, k_proj, v_proj, out_proj;

 private:
  int64_t embed_dim_, num_heads_;
  MultiheadAttentionOptions options_;
};

}  // namespace taesan::nn
