// Fused scaled dot-product attention on raw buffers (no Tensor here), tiled with an
// online softmax so memory grows linearly with sequence length (FlashAttention-style):
//   out[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:]·k[b,h,j,:] + mask[b,h,i,j]) v[b,h,j,:]
// Forward saves only lse[b,h,i] = logsumexp_j(scores); backward recomputes the score tiles.
// Causal masking (j > i is masked, top-left aligned as in PyTorch) needs no mask buffer.
// Rows with every key masked give out = 0 and lse = -inf (never NaN), and zero gradients.
// Work is split over (b, h, query tiles) forward; backward over (b, h) in one pass, or, when
// there are too few (b, h) for the threads, over key tiles (dk, dv) then query tiles (dq). Each
// output is summed by one thread in a fixed order that both schedules share: results are
// bit-identical for any thread count. Implementation: attention-inl.h (tiled, Highway).
// Every operand may have its own row layout (AttentionLayout: batch, head and row strides, rows
// contiguous), so the heads of a (B, T, H, d) projection are read and written in place.
// Workspace (from the caching allocator, so allocator_stats counts it): a transposed copy of k
// (forward) or of q and dout (backward), padded copies of rows whose length is not a multiple of
// the vector width, and O(64 x 128) per thread: linear in T, never T x T.
#pragma once

#include <cstdint>

namespace taesan::kernels {

/// Where the rows of a (batch, heads, t, width) operand live: row (b, h, t) starts at element
/// b * sb + h * sh + t * st and its `width` elements are contiguous. All zero (the default) means
/// contiguous (batch, heads, t, width). A (batch, t, heads, width) buffer, as the projections of
/// multi-head attention produce it, is {t * heads * width, width, heads * width}.
struct AttentionLayout {
  int64_t sb = 0, sh = 0, st = 0;
  bool is_default() const { return sb == 0 && sh == 0 && st == 0; }
};

/// Sizes and options of one attention call. q: (batch, heads, tq, d), k: (batch, heads, tk, d),
/// v: (batch, heads, tk, dv), out: (batch, heads, tq, dv), each laid out as its AttentionLayout
/// says (contiguous by default); lse: (batch, heads, tq) contiguous. Outputs must not overlap
/// each other or the inputs.
struct AttentionParams {
  int64_t batch = 1, heads = 1, tq = 0, tk = 0, d = 0, dv = 0;
  AttentionLayout q_layout, k_layout, v_layout, out_layout;       ///< forward and backward
  AttentionLayout dout_layout, dq_layout, dk_layout, dv_layout;  ///< backward only
  double scale = 1.0;
  bool causal = false;
  /// Optional additive mask (same float type as q; -inf masks), element (b, h, i, j) at
  /// mask[b * mask_sb + h * mask_sh + i * mask_si + j * mask_sj] (strides may be 0: broadcast).
  const void* mask = nullptr;
  int64_t mask_sb = 0, mask_sh = 0, mask_si = 0, mask_sj = 0;
};

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v,
                       float* out, float* lse);
void attention_forward(const AttentionParams& p, const double* q, const double* k, const double* v,
                       double* out, double* lse);

/// The element offset of row t of head (b, h) of an operand with `t_len` rows of `width`.
inline int64_t row_offset(const AttentionLayout& l, int64_t heads, int64_t t_len, int64_t width,
                          int64_t b, int64_t h, int64_t t) {
  if (l.is_default()) return ((b * heads + h) * t_len + t) * width;
  return b * l.sb + h * l.sh + t * l.st;
}

/// dq, dk, dv (shapes of q, k, v; overwritten) from dout and the forward's out and lse.
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v,
                        const float* out, const float* dout, const float* lse, float* dq, float* dk,
                        float* dv);
void attention_backward(const AttentionParams& p, const double* q, const double* k,
                        const double* v, const double* out, const double* dout, const double* lse,
                        double* dq, double* dk, double* dv);

namespace reference {

/// The plain scalar version (one query row at a time, a score buffer of tk elements), the
/// reference of the tests and benchmarks. Same contract as kernels::attention_forward.
void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v,
                       float* out, float* lse);
void attention_forward(const AttentionParams& p, const double* q, const double* k, const double* v,
                       double* out, double* lse);

/// Scalar reference of kernels::attention_backward (same contract).
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v,
                        const float* out, const float* dout, const float* lse, float* dq, float* dk,
                        float* dv);
void attention_backward(const AttentionParams& p, const double* q, const double* k, const double* v,
                        const double* out, const double* dout, const double* lse, double* dq,
                        double* dk, double* dv);

}  // namespace reference

}  // namespace taesan::kernels
