// nn::Embedding: a lookup table of `num_embeddings` vectors ("weight", initialised N(0, 1) as in
// PyTorch). The row at padding_idx starts at zero and never receives a gradient.
#pragma once

#include <optional>

#include "taesan/nn/module.h"

namespace taesan::nn {

/// A table of embeddings indexed by int64 ids.
class Embedding : public Module {
 public:
  /// padding_idx may be negative (counted from the end, as in PyTorch).
  Embedding(int64_t num_embeddings, int64_t embedding_dim,
            std::optional<int64_t> padding_idx = std::nullopt);

  /// int64 ids of any shape (...) -> (..., embedding_dim).
  Tensor forward(const Tensor& indices) const;
  /// Re-draws the weight (N(0, 1)) and zeroes the padding row.
  void reset_parameters();
  std::string extra_repr() const override;

  /// Sizes given to the constructor; padding_idx wrapped into [0, num_embeddings).
  int64_t num_embeddings() const { return num_embeddings_; }
  int64_t embedding_dim() const { return embedding_dim_; }
  std::optional<int64_t> padding_idx() const { return padding_idx_; }

  Tensor weight;  ///< (num_embeddings, embedding_dim)

 private:
  int64_t num_embeddings_, embedding_dim_;
  std::optional<int64_t> padding_idx_;  // in [0, num_embeddings)
};

}  // namespace taesan::nn
