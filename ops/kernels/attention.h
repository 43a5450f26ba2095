// Fused scaled dot-product attention on raw contiguous buffers (no Tensor here), tiled with an
// online softmax so memory grows linearly with sequence length (FlashAttention-style):
//   out[b,h,i,:] = sum_j softmax_j(scale * q[b,h,i,:]·k[b,h,j,:] + mask[b,h,i,j]) v[b,h,j,:]
// Forward saves only lse[b,h,i] = logsumexp_j(scores); backward recomputes the score tiles.
// Causal masking (j > i is masked, top-left aligned as in PyTorch) needs no mask buffer.
// Rows with every key masked give out = 0 and lse = -inf (never NaN), and zero gradients.
// Work is split over (b, h, query tiles) forward; backward over (b, h) in one pass, or, when
// there are too few (b, h) for the threads, over key tiles (dk, dv) then query tiles (dq). Each
// output is summed by one thread in a fixed order that both schedules share: results are
// bit-identical for any thread count. Implementation: attention-inl.h (tiled, Highway).
// Workspace (from the caching allocator, so allocator_stats counts it): a transposed copy of k
// (forward) or of q and dout (backward), padded copies of rows whose length is not a multiple of
// the vector width, and O(64 x 128) per thread: linear in T, never T x T.
#pragma once

#include <cstdint>

namespace taesan::kernels {

/// Sizes and options of one attention call. q: (batch, heads, tq, d), k: (batch, heads, tk, d),
/// v: (batch, heads, tk, dv), out: (batch, heads, tq, dv), lse: (batch, heads, tq), all contiguous.
struct AttentionParams {
  int64_t batch = 1, heads = 1, tq = 0, tk = 0, d = 0, dv = 0;
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
