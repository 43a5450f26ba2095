// ELECTRA pretraining (Clark et al. 2020, "ELECTRA: Pre-training Text Encoders as
// Discriminators Rather Than Generators"): replaced-token detection.
//   A small generator (a masked LM) predicts the masked positions; each is replaced by a token
//   sampled from its prediction. The discriminator — an EncoderModel, the body that task models
//   take — learns, at every position, whether the token is the original or a replacement.
// The discriminator sees real tokens everywhere (no [MASK]) and learns from every position, not
// only the 15% masked ones: the paper's answer to BERT's pretrain/fine-tune mismatch and to its
// small learning signal per sequence, which matter most for small models and short budgets.
#pragma once

#include <cstdint>
#include <memory>

#include "taesan/models/heads.h"

namespace taesan::models {

class ReplacedTokenDetection : public nn::Module {
 public:
  /// `config`: the discriminator; the generator is generator_config(config).
  /// discriminator_weight: λ in loss = generator MLM loss + λ · discriminator loss (paper: 50).
  explicit ReplacedTokenDetection(const ModelConfig& config, double discriminator_weight = 50.0);

  /// The generator's sizes: half the discriminator's width (at least 64) and half its layers
  /// (at least 1) — the paper finds generators 1/4 to 1/2 the discriminator's size best (a
  /// stronger generator makes the discriminator's task too hard).
  static ModelConfig generator_config(const ModelConfig& config);

  struct Losses {
    Tensor total;          ///< generator + λ · discriminator (scalar)
    Tensor generator;      ///< masked-LM cross entropy of the generator
    Tensor discriminator;  ///< mean binary cross entropy over the non-padding positions
    int64_t masked = 0;    ///< positions the generator filled
    int64_t replaced = 0;  ///< of those, filled with a token other than the original
  };
  /// masked_ids (B, T) int64: the input with [MASK] at the selected positions; labels (B, T)
  /// int64: the original token at those positions, -100 elsewhere; attention_mask (B, T) or
  /// undefined (no padding). Replacements are sampled from the generator's softmax with
  /// random numbers fixed by (seed, stream) — the same batch and stream give the same samples
  /// for any thread count. Throws when no position is labelled.
  Losses loss(const Tensor& masked_ids, const Tensor& labels, const Tensor& attention_mask,
              uint64_t seed, uint64_t stream) const;

  std::shared_ptr<EncoderModel> body;  ///< the discriminator's encoder (kept for fine-tuning)
  std::shared_ptr<nn::Linear> dense;   ///< discriminator head: dense -> GELU -> head (1 logit)
  std::shared_ptr<nn::Linear> head;
  std::shared_ptr<MaskedLanguageModel> generator;
  double discriminator_weight;
};

}  // namespace taesan::models
