// MultiheadAttention (see multihead_attention.h). The heads run in one call of
// ts::scaled_dot_product_attention (fused kernel) unless the weights are asked for.
#include "taesan/nn/multihead_attention.h"

#include <cmath>
#include <limits>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/nn/init.h"
#include "taesan/ops/ops.h"

namespace taesan::nn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// (B, T, E) -> (B, H, T, E / H)
Tensor split_heads(const Tensor& x, int64_t heads) {
  return transpose(reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads}), 1, 2);
}

// A torch-style mask (bool: true = masked; float: additive) as an additive float mask.
Tensor to_additive(const Tensor& mask, DType dtype) {
  if (mask.dtype() == kBool) return where(mask, full({}, -kInf, dtype), zeros({}, dtype));
  TS_CHECK(mask.dtype() == dtype, "MultiheadAttention: a float mask must have the input's dtype {}, got {}",
           dtype, mask.describe());
  return mask;
}

}  // namespace

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads,
                                       const MultiheadAttentionOptions& options)
    : embed_dim_(embed_dim), num_heads_(num_heads), options_(options) {
  TS_CHECK(embed_dim > 0 && num_heads > 0, "MultiheadAttention: embed_dim ({}) and num_heads ({}) must be positive",
           embed_dim, num_heads);
  TS_CHECK(embed_dim % num_heads == 0,
           "MultiheadAttention: embed_dim {} is not divisible by num_heads {}", embed_dim, num_heads);
  TS_CHECK(options.dropout >= 0 && options.dropout < 1,
           "MultiheadAttention: dropout must be in [0, 1), got {}", options.dropout);
  TS_CHECK(options.kdim >= 0 && options.vdim >= 0,
           "MultiheadAttention: kdim ({}) and vdim ({}) must be positive, or 0 for embed_dim",
           options.kdim, options.vdim);
  const int64_t kdim = options.kdim > 0 ? options.kdim : embed_dim;
  const int64_t vdim = options.vdim > 0 ? options.vdim : embed_dim;
  options_.kdim = kdim;
  options_.vdim = vdim;
  q_proj = register_module("q_proj", std::make_shared<Linear>(embed_dim, embed_dim, options.bias));
  k_proj = register_module("k_proj", std::make_shared<Linear>(kdim, embed_dim, options.bias));
  v_proj = register_module("v_proj", std::make_shared<Linear>(vdim, embed_dim, options.bias));
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, options.bias));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  // As torch: xavier_uniform over the packed (3E, E) in_proj_weight when kdim == vdim == E (so
  // the bound is sqrt(6 / (E + 3E))), else per projection; zero in_proj and out_proj biases;
  // out_proj.weight keeps Linear's default.
  const bool packed = options_.kdim == embed_dim_ && options_.vdim == embed_dim_;
  for (const auto& proj : {q_proj, k_proj, v_proj}) {
    if (packed) {
      double bound = std::sqrt(6.0 / static_cast<double>(embed_dim_ + 3 * embed_dim_));
      init::uniform_(proj->weight, -bound, bound);
    } else {
      init::xavier_uniform_(proj->weight);
    }
    if (proj->bias.defined()) init::zeros_(proj->bias);
  }
  if (out_proj->bias.defined()) init::zeros_(out_proj->bias);
}

std::string MultiheadAttention::extra_repr() const {
  return fmt::format("embed_dim={}, num_heads={}, dropout={}", embed_dim_, num_heads_, options_.dropout);
}

AttentionOutput MultiheadAttention::forward(const Tensor& query, const Tensor& key,
                                            const Tensor& value,
                                            const AttentionForwardOptions& o) const {
  TS_CHECK(query.dim() == 3 && query.size(2) == embed_dim_,
           "MultiheadAttention: query must be (B, Tq, {}), got {}", embed_dim_, query.describe());
  const int64_t B = query.size(0), Tq = query.size(1), H = num_heads_;
  const bool static_cache_ready = o.cache && o.cache->is_static && o.cache->k.defined();
  if (!static_cache_ready) {
    TS_CHECK(key.dim() == 3 && key.size(2) == options_.kdim && key.size(0) == B,
             "MultiheadAttention: key must be ({}, Tk, {}), got {}", B, options_.kdim, key.describe());
    TS_CHECK(value.dim() == 3 && value.size(2) == options_.vdim && value.size(0) == B &&
                 value.size(1) == key.size(1),
             "MultiheadAttention: value must be ({}, {}, {}), got {}", B, key.size(1), options_.vdim,
             value.describe());
  }
  Tensor q = split_heads(q_proj->forward(query), H);
  Tensor k, v;
  int64_t past = 0;
  if (static_cache_ready) {
    k = o.cache->k;
    v = o.cache->v;
  } else {
    k = split_heads(k_proj->forward(key), H);
    v = split_heads(v_proj->forward(value), H);
    if (o.cache) {
      past = o.cache->is_static ? 0 : o.cache->length();
      if (past > 0) {
        k = cat({o.cache->k, k}, 2);
        v = cat({o.cache->v, v}, 2);
      }
      o.cache->k = k;
      o.cache->v = v;
    }
  }
  const int64_t Tk = k.size(2);

  // One additive mask broadcastable to (B, H, Tq, Tk), or none.
  Tensor mask;
  auto add_mask = [&](const Tensor& m) { mask = mask.defined() ? add(mask, m) : m; };
  if (o.attn_mask.defined()) {
    const Tensor& am = o.attn_mask;
    if (am.dim() == 2) {
      TS_CHECK(am.size(0) == Tq && am.size(1) == Tk,
               "MultiheadAttention: attn_mask {} must be ({}, {})", am.describe(), Tq, Tk);
      add_mask(to_additive(am, query.dtype()));
    } else {
      TS_CHECK(am.dim() == 3 && am.size(0) == B * H && am.size(1) == Tq && am.size(2) == Tk,
               "MultiheadAttention: attn_mask {} must be ({}, {}) or ({}, {}, {})", am.describe(),
               Tq, Tk, B * H, Tq, Tk);
      add_mask(reshape(to_additive(am, query.dtype()), {B, H, Tq, Tk}));
    }
  }
  if (o.key_padding_mask.defined()) {
    const Tensor& kpm = o.key_padding_mask;
    TS_CHECK(kpm.dim() == 2 && kpm.size(0) == B && kpm.size(1) == Tk,
             "MultiheadAttention: key_padding_mask {} must be ({}, {})", kpm.describe(), B, Tk);
    add_mask(reshape(to_additive(kpm, query.dtype()), {B, 1, 1, Tk}));
  }
  bool causal = o.is_causal;
  if (causal && past > 0) {
    // Query i sits at absolute position past + i: it may see keys j <= past + i.
    Tensor future = gt(unsqueeze(arange(Tk, kInt64), 0), unsqueeze(add(arange(Tq, kInt64), static_cast<double>(past)), 1));
    add_mask(to_additive(future, query.dtype()));
    causal = false;
  }
  const double p = is_training() ? options_.dropout : 0.0;

  AttentionOutput result;
  Tensor heads;  // (B, H, Tq, hd)
  if (o.need_weights) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim()));
    Tensor s = mul(matmul(q, transpose(k, -2, -1)), scale);
    if (causal) s = masked_fill(s, gt(unsqueeze(arange(Tk, kInt64), 0), unsqueeze(arange(Tq, kInt64), 1)), -kInf);
    if (mask.defined()) s = add(s, mask);
    Tensor w = dropout(softmax(s, -1), p, is_training());
    heads = matmul(w, v);
    result.weights = o.average_attn_weights ? mean(w, 1) : w;
  } else {
    heads = scaled_dot_product_attention(q, k, v, mask, p, causal);
  }
  Tensor merged = reshape(transpose(heads, 1, 2), {B, Tq, embed_dim_});
  result.output = out_proj->forward(merged);
  return result;
}

}  // namespace taesan::nn
