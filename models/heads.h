// Pretraining objectives and fine-tuning heads on the Transformer bodies:
//   MaskedLanguageModel      encoder + dense/GELU/LayerNorm transform + output tied to the
//                            token embedding (BERT's MLM head); loss on masked positions only
//   causal_lm_loss           next-token cross entropy of a DecoderModel's logits
//   SequenceClassifier       pooled [CLS] -> dropout -> linear (optional class weights)
//   TokenClassifier          every token -> dropout -> linear (NER, BIO tags; -100 ignored)
//   QuestionAnswering        every token -> linear -> start/end logits; best valid span
// Each head holds its body as the child "body", so a pretrained body's weights load into it
// by name (see load_pretrained_body).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "taesan/models/transformer_models.h"
#include "taesan/nn/dropout.h"
#include "taesan/nn/linear.h"
#include "taesan/nn/normalization.h"

namespace taesan::models {

/// Mean cross entropy of logits (B, T, V) against labels (B, T) int64 (-100 ignored). Throws when
/// every label is -100 (the mean would be NaN).
Tensor lm_loss(const Tensor& logits, const Tensor& labels);
/// Next-token loss: logits at t predict input_ids at t + 1 (labels = ids shifted left; -100 ignored).
Tensor causal_lm_loss(const Tensor& logits, const Tensor& input_ids);

/// BERT-style masked language model.
class MaskedLanguageModel : public nn::Module {
 public:
  explicit MaskedLanguageModel(const ModelConfig& config);
  /// logits (B, T, V).
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                 const Tensor& token_type_ids = Tensor()) const;
  /// The masked-LM loss (mean cross entropy over positions whose label is not -100), with the
  /// vocabulary projection computed only at those positions: equal to
  /// lm_loss(forward(input_ids, attention_mask), labels), at a fraction of the cost (15% masked).
  /// labels (B, T) int64. Throws when no position is labelled.
  Tensor loss(const Tensor& input_ids, const Tensor& labels, const Tensor& attention_mask = Tensor(),
              const Tensor& token_type_ids = Tensor()) const;

  /// What loss() scores: the logits (n, V) at the n labelled positions only, their targets (n)
  /// int64 and their flat indices into the (B*T) batch. Throws when no position is labelled.
  struct MaskedLogits {
    Tensor logits, targets;
    std::vector<int64_t> rows;
  };
  MaskedLogits masked_logits(const Tensor& input_ids, const Tensor& labels,
                             const Tensor& attention_mask = Tensor(),
                             const Tensor& token_type_ids = Tensor()) const;

  std::shared_ptr<EncoderModel> body;
  std::shared_ptr<nn::Linear> transform;
  std::shared_ptr<nn::LayerNorm> transform_norm;
  Tensor output_bias;  ///< (V)
};

/// How SequenceClassifier summarizes a sequence before the body's tanh pooler.
enum class Pooling {
  kCls,   ///< the [CLS] position (BERT)
  kMean,  ///< the mean over the non-padding positions (Sentence-BERT); an MLM-pretrained body,
          ///< whose [CLS] output was never trained, transfers better this way
};

/// Sequence classification: tanh(pooler(summary)) -> dropout -> linear, the summary being the
/// masked mean of the hidden states (default: the bodies this library pretrains are masked or
/// causal LMs, which never train a [CLS] output) or the [CLS] vector (BERT's next-sentence
/// pretrained bodies).
class SequenceClassifier : public nn::Module {
 public:
  SequenceClassifier(const ModelConfig& config, int64_t num_labels, double dropout = 0.1,
                     Pooling pooling = Pooling::kMean);
  /// logits (B, num_labels).
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                 const Tensor& token_type_ids = Tensor()) const;
  /// Cross entropy of logits (B, num_labels) against labels (B) int64, -100 ignored, with optional
  /// per-class weights (num_labels): torch's weighted mean. Throws when no label is scored.
  Tensor loss(const Tensor& logits, const Tensor& labels, const Tensor& class_weights = Tensor()) const;

  std::shared_ptr<EncoderModel> body;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> classifier;
  Pooling pooling;
};

/// Per-token classification (named-entity recognition).
class TokenClassifier : public nn::Module {
 public:
  TokenClassifier(const ModelConfig& config, int64_t num_labels, double dropout = 0.1);
  /// logits (B, T, num_labels).
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                 const Tensor& token_type_ids = Tensor()) const;
  /// Cross entropy over the positions whose label is not -100 (labels (B, T) int64), with
  /// optional per-class weights (num_labels): sum_i w[y_i] l_i / sum_i w[y_i], torch's weighted
  /// mean. Throws when no position is labelled.
  Tensor loss(const Tensor& logits, const Tensor& labels, const Tensor& class_weights = Tensor()) const;

  std::shared_ptr<EncoderModel> body;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> classifier;
};

/// A predicted answer span in token positions (start == end == 0: no answer, at [CLS]).
struct Span {
  int64_t start = 0, end = 0;
  double score = 0;
};

/// Extractive question answering: start and end logits over the tokens.
class QuestionAnswering : public nn::Module {
 public:
  explicit QuestionAnswering(const ModelConfig& config);
  /// logits (B, T, 2): [..., 0] start, [..., 1] end.
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                 const Tensor& token_type_ids = Tensor()) const;
  /// Mean of the start and end cross entropies; positions (B, 2) int64 (start, end).
  static Tensor loss(const Tensor& logits, const Tensor& positions);
  /// Best span with start <= end < start + max_answer_length among `allowed` token positions
  /// (e.g. the context), or the no-answer span when its score (start[0] + end[0]) is higher.
  static Span best_span(const Tensor& start_logits, const Tensor& end_logits,
                        const std::vector<bool>& allowed, int64_t max_answer_length = 30);

  std::shared_ptr<EncoderModel> body;
  std::shared_ptr<nn::Linear> qa_outputs;
};

/// What loading a pretrained body into a task model did.
struct TransferReport {
  std::vector<std::string> loaded;   ///< tensors taken from the checkpoint
  std::vector<std::string> new_;     ///< tensors of the task model initialised fresh (heads)
  std::vector<std::string> skipped;  ///< checkpoint tensors not used (e.g. the pretraining head)
  std::string summary() const;
};

/// Loads the tensors of the safetensors file at `path` whose names (with `source_prefix`
/// replaced by `target_prefix`) and shapes match `model`'s; everything else is reported. Throws
/// when nothing matches (a checkpoint of another model) or a name matches with another shape.
TransferReport load_pretrained_body(nn::Module& model, const std::string& path,
                                    const std::string& source_prefix = "body.",
                                    const std::string& target_prefix = "body.");

/// Sets requires_grad = !frozen on every parameter whose name starts with `prefix`.
void freeze(nn::Module& model, const std::string& prefix, bool frozen = true);

}  // namespace taesan::models
