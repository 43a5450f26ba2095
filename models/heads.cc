// Heads, losses and transfer (see heads.h).
#include "taesan/models/heads.h"

#include <algorithm>
#include <limits>
#include <map>

#include "taesan/autograd/factory.h"
#include "taesan/nn/init.h"
#include "taesan/nn/safetensors.h"
#include "taesan/ops/ops.h"

namespace taesan::models {
namespace {

void check_labels(int64_t num_labels, const char* who) {
  TS_CHECK(num_labels >= 1, "{}: num_labels must be >= 1, got {}", who, num_labels);
}

void init_head(nn::Linear& l) {
  nn::init::normal_(l.weight, 0.0, 0.02);
  if (l.bias.defined()) nn::init::zeros_(l.bias);
}

// A mean over no labelled position would be 0 / 0 = NaN: refuse it with a clear error instead.
void check_some_labelled(const Tensor& labels, const char* fn) {
  const auto y = labels.contiguous().to_vector<int64_t>();
  TS_CHECK(std::any_of(y.begin(), y.end(), [](int64_t v) { return v != -100; }),
           "{}: every label of {} is -100 (ignored): no position to score", fn, labels.describe());
}

// Cross entropy of logits (N, C) against labels (N) weighted per class, -100 ignored:
// sum_i w[y_i] l_i / sum_i w[y_i] (torch's weighted mean). The weights are constants.
Tensor class_weighted_cross_entropy(const Tensor& logits, const Tensor& labels, const Tensor& w,
                                    const char* fn) {
  const int64_t C = logits.size(1);
  TS_CHECK(w.dim() == 1 && w.size(0) == C && w.dtype() == logits.dtype(),
           "{}: class weights {} must be ({}) {}", fn, w.describe(), C, logits.dtype());
  // per-position weight w[y_i], 0 where the label is ignored (-100)
  const auto y = labels.contiguous().to_vector<int64_t>();
  const auto wv = w.to(kFloat64).to_vector<double>();
  std::vector<double> wi(y.size(), 0.0);
  double total = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] == -100) continue;
    TS_CHECK(y[i] >= 0 && y[i] < C, "{}: label {} outside [0, {})", fn, y[i], C);
    total += wi[i] = wv[static_cast<size_t>(y[i])];
  }
  TS_CHECK(total > 0, "{}: no labelled position (or zero total weight) in {}", fn,
           labels.describe());
  Tensor per = cross_entropy(logits, labels, {.reduction = Reduction::None});  // (N)
  const Tensor weights = from_vector(wi, {static_cast<int64_t>(wi.size())}).to(logits.dtype());
  return mul(sum(mul(per, weights)), 1.0 / total);
}

}  // namespace

Tensor lm_loss(const Tensor& logits, const Tensor& labels) {
  TS_CHECK(logits.dim() == 3 && labels.dim() == 2 && logits.size(0) == labels.size(0) &&
               logits.size(1) == labels.size(1),
           "lm_loss: logits {} and labels {} must be (B, T, V) and (B, T)", logits.describe(), labels.describe());
  TS_CHECK(labels.dtype() == kInt64, "lm_loss: labels {} must be int64", labels.describe());
  check_some_labelled(labels, "lm_loss");
  return cross_entropy(reshape(logits, {-1, logits.size(2)}), reshape(labels, {-1}));
}

Tensor causal_lm_loss(const Tensor& logits, const Tensor& input_ids) {
  TS_CHECK(logits.dim() == 3 && input_ids.dim() == 2 && logits.size(1) == input_ids.size(1),
           "causal_lm_loss: logits {} and input_ids {} must be (B, T, V) and (B, T)", logits.describe(),
           input_ids.describe());
  const int64_t T = input_ids.size(1);
  TS_CHECK(T >= 2, "causal_lm_loss: needs at least 2 tokens, got {}", T);
  // logits[:, t] predicts ids[:, t + 1]
  return lm_loss(slice(logits, 1, 0, T - 1), slice(input_ids, 1, 1, T).contiguous());
}

// ---- masked LM ----

MaskedLanguageModel::MaskedLanguageModel(const ModelConfig& c) {
  body = register_module("body", std::make_shared<EncoderModel>(c));
  transform = register_module("transform", std::make_shared<nn::Linear>(c.d_model, c.d_model));
  transform_norm = register_module("transform_norm", std::make_shared<nn::LayerNorm>(c.d_model, c.layer_norm_eps));
  output_bias = register_parameter("output_bias", zeros({c.vocab_size}));
  init_head(*transform);
}

Tensor MaskedLanguageModel::forward(const Tensor& ids, const Tensor& mask, const Tensor& types) const {
  Tensor h = body->forward(ids, mask, types).hidden;
  h = transform_norm->forward(gelu(transform->forward(h)));
  // logits = h Eᵀ + b, E the (tied) token embedding
  return linear(h, body->word_embeddings->weight, output_bias);
}

MaskedLanguageModel::MaskedLogits MaskedLanguageModel::masked_logits(const Tensor& ids,
                                                                    const Tensor& labels,
                                                                    const Tensor& mask,
                                                                    const Tensor& types) const {
  TS_CHECK(labels.dim() == 2 && ids.dim() == 2 && labels.size(0) == ids.size(0) &&
               labels.size(1) == ids.size(1) && labels.dtype() == kInt64,
           "MaskedLanguageModel::loss: labels {} must be int64 of the shape of input_ids {}",
           labels.describe(), ids.describe());
  // The labelled positions of the flattened (B*T) batch.
  const std::vector<int64_t> flat = labels.contiguous().to_vector<int64_t>();
  MaskedLogits out;
  std::vector<int64_t> targets;
  for (size_t i = 0; i < flat.size(); ++i)
    if (flat[i] != -100) {
      out.rows.push_back(static_cast<int64_t>(i));
      targets.push_back(flat[i]);
    }
  TS_CHECK(!out.rows.empty(), "MaskedLanguageModel::loss: no labelled position in labels {} "
           "(every label is -100)", labels.describe());
  const int64_t n = static_cast<int64_t>(out.rows.size());
  Tensor h = body->forward(ids, mask, types).hidden;                          // (B, T, D)
  h = index_select(reshape(h, {-1, h.size(2)}), 0, from_vector(out.rows, {n}));  // (n, D)
  h = transform_norm->forward(gelu(transform->forward(h)));
  out.logits = linear(h, body->word_embeddings->weight, output_bias);  // (n, V)
  out.targets = from_vector(targets, {n});
  return out;
}

Tensor MaskedLanguageModel::loss(const Tensor& ids, const Tensor& labels, const Tensor& mask,
                                 const Tensor& types) const {
  const MaskedLogits m = masked_logits(ids, labels, mask, types);
  return cross_entropy(m.logits, m.targets);
}

// ---- sequence classification ----

SequenceClassifier::SequenceClassifier(const ModelConfig& c, int64_t num_labels, double p,
                                       Pooling pool)
    : pooling(pool) {
  check_labels(num_labels, "SequenceClassifier");
  body = register_module("body", std::make_shared<EncoderModel>(c));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(p));
  classifier = register_module("classifier", std::make_shared<nn::Linear>(c.d_model, num_labels));
  init_head(*classifier);
}

Tensor SequenceClassifier::forward(const Tensor& ids, const Tensor& mask, const Tensor& types) const {
  const EncoderOutput out = body->forward(ids, mask, types);
  if (pooling == Pooling::kCls) return classifier->forward(dropout->forward(out.pooled));
  // mean over the positions where mask == 1: sum_t h[b, t] m[b, t] / sum_t m[b, t]
  const Tensor m = mask.defined() ? mask.to(out.hidden.dtype())
                                  : ones(ids.shape(), out.hidden.dtype());  // (B, T)
  const Tensor summed = sum(mul(out.hidden, unsqueeze(m, 2)), 1);           // (B, D)
  const Tensor count = clamp(sum(m, 1, true), 1.0, std::numeric_limits<double>::infinity());
  const Tensor mean = div(summed, count);                                    // (B, D)
  return classifier->forward(dropout->forward(tanh(body->pooler->forward(mean))));
}

Tensor SequenceClassifier::loss(const Tensor& logits, const Tensor& labels, const Tensor& w) const {
  TS_CHECK(logits.dim() == 2 && labels.dim() == 1 && labels.dtype() == kInt64 &&
               logits.size(0) == labels.size(0),
           "SequenceClassifier::loss: logits {} and labels {} must be (B, C) and int64 (B)",
           logits.describe(), labels.describe());
  if (!w.defined()) {
    check_some_labelled(labels, "SequenceClassifier::loss");
    return cross_entropy(logits, labels);
  }
  return class_weighted_cross_entropy(logits, labels, w, "SequenceClassifier::loss");
}

// ---- token classification ----

TokenClassifier::TokenClassifier(const ModelConfig& c, int64_t num_labels, double p) {
  check_labels(num_labels, "TokenClassifier");
  body = register_module("body", std::make_shared<EncoderModel>(c));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(p));
  classifier = register_module("classifier", std::make_shared<nn::Linear>(c.d_model, num_labels));
  init_head(*classifier);
}

Tensor TokenClassifier::forward(const Tensor& ids, const Tensor& mask, const Tensor& types) const {
  return classifier->forward(dropout->forward(body->forward(ids, mask, types).hidden));
}

Tensor TokenClassifier::loss(const Tensor& logits, const Tensor& labels, const Tensor& w) const {
  TS_CHECK(logits.dim() == 3 && labels.dim() == 2 && labels.dtype() == kInt64 &&
               logits.size(0) == labels.size(0) && logits.size(1) == labels.size(1),
           "TokenClassifier::loss: logits {} and labels {} must be (B, T, C) and int64 (B, T)",
           logits.describe(), labels.describe());
  const int64_t C = logits.size(2);
  const Tensor flat_logits = reshape(logits, {-1, C}), flat_labels = reshape(labels, {-1});
  if (!w.defined()) {
    check_some_labelled(flat_labels, "TokenClassifier::loss");
    return cross_entropy(flat_logits, flat_labels);
  }
  return class_weighted_cross_entropy(flat_logits, flat_labels, w, "TokenClassifier::loss");
}

// ---- question answering ----

QuestionAnswering::QuestionAnswering(const ModelConfig& c) {
  body = register_module("body", std::make_shared<EncoderModel>(c));
  qa_outputs = register_module("qa_outputs", std::make_shared<nn::Linear>(c.d_model, 2));
  init_head(*qa_outputs);
}

Tensor QuestionAnswering::forward(const Tensor& ids, const Tensor& mask, const Tensor& types) const {
  return qa_outputs->forward(body->forward(ids, mask, types).hidden);
}

Tensor QuestionAnswering::loss(const Tensor& logits, const Tensor& positions) {
  TS_CHECK(logits.dim() == 3 && logits.size(2) == 2 && positions.dim() == 2 && positions.size(1) == 2 &&
               positions.size(0) == logits.size(0),
           "QuestionAnswering::loss: logits {} must be (B, T, 2) and positions {} (B, 2)", logits.describe(),
           positions.describe());
  Tensor start = squeeze(slice(logits, 2, 0, 1), 2), end = squeeze(slice(logits, 2, 1, 2), 2);
  Tensor ps = squeeze(slice(positions, 1, 0, 1), 1).contiguous(), pe = squeeze(slice(positions, 1, 1, 2), 1).contiguous();
  return mul(add(cross_entropy(start, ps), cross_entropy(end, pe)), 0.5);
}

Span QuestionAnswering::best_span(const Tensor& start_logits, const Tensor& end_logits,
                                  const std::vector<bool>& allowed, int64_t max_len) {
  std::vector<double> s = start_logits.to_vector<double>(), e = end_logits.to_vector<double>();
  TS_CHECK(s.size() == e.size() && s.size() == allowed.size(),
           "QuestionAnswering::best_span: {} start logits, {} end logits, {} allowed flags", s.size(), e.size(),
           allowed.size());
  TS_CHECK(!s.empty() && max_len >= 1, "QuestionAnswering::best_span: empty input or max_answer_length {}", max_len);
  Span best{0, 0, s[0] + e[0]};
  Span best_answer{-1, -1, -std::numeric_limits<double>::infinity()};
  for (size_t i = 0; i < s.size(); ++i) {
    if (!allowed[i]) continue;
    for (size_t j = i; j < s.size() && static_cast<int64_t>(j - i) < max_len; ++j) {
      if (!allowed[j]) break;
      double score = s[i] + e[j];
      if (score > best_answer.score) best_answer = {static_cast<int64_t>(i), static_cast<int64_t>(j), score};
    }
  }
  return best_answer.start >= 0 && best_answer.score > best.score ? best_answer : best;
}

// ---- transfer ----

std::string TransferReport::summary() const {
  return fmt::format("transfer: {} tensors loaded from the checkpoint, {} new (initialised here), {} "
                     "checkpoint tensors unused{}{}",
                     loaded.size(), new_.size(), skipped.size(),
                     new_.empty() ? "" : fmt::format("; new: {}", fmt::join(new_, ", ")),
                     skipped.empty() ? "" : fmt::format("; unused: {}", fmt::join(skipped, ", ")));
}

TransferReport load_pretrained_body(nn::Module& model, const std::string& path,
                                    const std::string& source_prefix, const std::string& target_prefix) {
  safetensors::Contents file = safetensors::load(path);
  std::map<std::string, Tensor> targets;
  for (auto& [name, t] : model.state_dict()) targets[name] = t;
  TransferReport report;
  nn::NamedTensors matched;
  for (auto& [name, t] : file.tensors) {
    if (name.rfind(source_prefix, 0) != 0) {
      report.skipped.push_back(name);
      continue;
    }
    std::string target = target_prefix + name.substr(source_prefix.size());
    auto it = targets.find(target);
    if (it == targets.end()) {
      report.skipped.push_back(name);
      continue;
    }
    TS_CHECK(it->second.shape() == t.shape(),
             "load_pretrained_body: {} has shape {} in {} but {} in the model: the checkpoint comes "
             "from another model configuration", name, shape_str(t.shape()), path, shape_str(it->second.shape()));
    TS_CHECK(it->second.dtype() == t.dtype(),
             "load_pretrained_body: {} is {} in {} but {} in the model (convert the model or the "
             "checkpoint first)",
             name, t.dtype(), path, it->second.dtype());
    matched.push_back({target, t});
    report.loaded.push_back(target);
    targets.erase(it);
  }
  TS_CHECK(!matched.empty(),
           "load_pretrained_body: no tensor of {} matches the model under prefix \"{}\" (is it a "
           "checkpoint of this kind of model?)", path, source_prefix);
  for (auto& [name, t] : targets) report.new_.push_back(name);
  model.load_state_dict(matched, /*strict=*/false);
  return report;
}

void freeze(nn::Module& model, const std::string& prefix, bool frozen) {
  int64_t n = 0;
  for (auto& [name, p] : model.named_parameters())
    if (name.rfind(prefix, 0) == 0) {
      Tensor(p).requires_grad_(!frozen);
      ++n;
    }
  TS_CHECK(n > 0, "freeze: no parameter name starts with \"{}\"", prefix);
}

}  // namespace taesan::models
