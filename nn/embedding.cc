// nn::Embedding (see embedding.h).
#include "taesan/nn/embedding.h"

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/nn/init.h"
#include "taesan/ops/ops.h"

namespace taesan::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim,
                     std::optional<int64_t> padding_idx)
    : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {
  TS_CHECK(num_embeddings >= 0 && embedding_dim >= 0,
           "Embedding: expected non-negative sizes, got num_embeddings={} embedding_dim={}",
           num_embeddings, embedding_dim);
  if (padding_idx) {
    TS_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings,
             "Embedding: padding_idx {} is out of range for {} embeddings", *padding_idx,
             num_embeddings);
    padding_idx_ = *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
  }
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  NoGradGuard no_grad;  // the slice is a view for writing, not part of any graph
  if (padding_idx_) init::zeros_(weight.slice(0, *padding_idx_, *padding_idx_ + 1));
}

Tensor Embedding::forward(const Tensor& indices) const {
  TS_CHECK(indices.defined() && indices.dtype() == kInt64,
           "Embedding({}, {}).forward: expected int64 indices, got {}", num_embeddings_,
           embedding_dim_, indices.describe());
  return embedding(weight, indices, padding_idx_.value_or(-1));
}

std::string Embedding::extra_repr() const {
  std::string out = fmt::format("{}, {}", num_embeddings_, embedding_dim_);
  if (padding_idx_) out += fmt::format(", padding_idx={}", *padding_idx_);
  return out;
}

}  // namespace taesan::nn
