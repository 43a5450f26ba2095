// The generative task runs over a TaskData: generation (a causal LM on the documents, scored by
// the negative log-perplexity of held-out documents) and translation (an encoder-decoder,
// scored by chrF of greedy decodes); and build_task_run, which picks the builder of a type.
#include <algorithm>

#include "taesan/app/task_runs.h"
#include "taesan/autograd/factory.h"
#include "taesan/core/error.h"
#include "taesan/data/data.h"
#include "taesan/data/split.h"
#include "taesan/models/generate.h"
#include "taesan/models/heads.h"
#include "taesan/models/transformer_models.h"
#include "taesan/ops/ops.h"
#include "taesan/train/batching.h"
#include "taesan/train/metrics.h"

namespace taesan::models {

TaskRun build_generation_run(const TaskData& d, const data::BpeTokenizer& tok,
                             const ModelConfig& config, const TaskRunOptions& o) {
  TS_CHECK(d.documents, "build_generation_run: the task data holds no documents");
  const int64_t block = std::min<int64_t>(o.block_size, config.max_position);
  data::CausalLmOptions co;
  co.block_size = block;
  auto docs = d.documents;
  auto train = data::causal_lm_dataset(tok, data::select(*docs, d.split.train), co);
  TS_CHECK(!train.empty(), "build_generation_run: the training documents make no {}-token block",
           block);
  auto model = std::make_shared<DecoderModel>(config);
  auto batcher =
      std::make_shared<StepBatcher>(std::move(train), o.batch_size, o.seed, config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.steps_per_epoch = batcher->batches_per_epoch();
  r.metric = "-log perplexity";
  r.step = [model, batcher](int64_t i) {
    data::Batch b = batcher->get(i);
    return StepOutput{lm_loss(model->forward(b.input_ids), b.labels), count_tokens(b)};
  };
  const data::BpeTokenizer* t = &tok;
  r.score = [model, docs, t, co](const std::vector<int64_t>& rows) {
    const auto examples = data::causal_lm_dataset(*t, data::select(*docs, rows), co);
    double nll = 0;
    int64_t n = 0;
    for (auto& b : eval_batches(examples, 32, 0)) {
      const int64_t k = b.input_ids.numel();  // full blocks: every position is a target
      nll += lm_loss(model->forward(b.input_ids), b.labels).to(kFloat64).item<double>() *
             static_cast<double>(k);
      n += k;
    }
    return -nll / static_cast<double>(std::max<int64_t>(1, n));
  };
  r.sample = [model, t] {
    GenerationOptions g;
    g.max_new_tokens = 24;
    g.repetition_penalty = 1.3;  // no eos: always show 24 tokens
    const std::string prompt = "티끌 모아";
    return prompt + t->decode(generate(*model, t->encode(prompt), g), true);
  };
  return r;
}

TaskRun build_translation_run(const TaskData& d, const data::BpeTokenizer& tok,
                              const ModelConfig& config, const TaskRunOptions& o) {
  TS_CHECK(d.translation, "build_translation_run: the task data holds no parallel dataset");
  auto ds = d.translation;
  auto model = std::make_shared<EncoderDecoderModel>(config);
  auto batcher = std::make_shared<StepBatcher>(data::select(ds->examples, d.split.train),
                                               o.batch_size, o.seed, config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.steps_per_epoch = batcher->batches_per_epoch();
  r.metric = "chrF";
  const double smoothing = o.label_smoothing;
  r.step = [model, batcher, smoothing](int64_t i) {
    data::Batch b = batcher->get(i);
    const Tensor logits = model->forward(b.input_ids, b.attention_mask, b.decoder_input_ids,
                                         b.decoder_attention_mask);
    // (B, T, V) -> (B*T, V) against (B*T) targets, padding ignored (-100)
    const Tensor loss = cross_entropy(reshape(logits, {-1, logits.size(2)}),
                                      reshape(b.labels, {-1}), {.label_smoothing = smoothing});
    return StepOutput{loss, count_tokens(b)};
  };
  const data::BpeTokenizer* t = &tok;
  const int64_t max_new = o.max_new_tokens;
  r.score = [model, ds, t, max_new](const std::vector<int64_t>& rows) {
    std::vector<std::string> hyp, ref;
    GenerationOptions g;
    g.max_new_tokens = max_new;
    g.eos_token_id = t->token_to_id("[EOS]");
    const int64_t bos = t->token_to_id("[BOS]");
    for (int64_t i : rows) {
      hyp.push_back(t->decode(
          generate(*model, ds->examples[static_cast<size_t>(i)].input_ids, bos, g), true));
      ref.push_back(ds->pairs[static_cast<size_t>(i)].second);
    }
    if (hyp.empty()) return 0.0;
    return corpus_chrf(hyp, ref);
  };
  r.sample = [model, t, ds, d] {
    GenerationOptions g;
    g.max_new_tokens = 30;
    g.eos_token_id = t->token_to_id("[EOS]");
    const std::string text = d.split.train.empty()
                                 ? std::string("I love you.")
                                 : ds->pairs[static_cast<size_t>(d.split.train.front())].first;
    auto src = t->encode(text);
    src.push_back(t->token_to_id("[EOS]"));
    return text + " -> " + t->decode(generate(*model, src, t->token_to_id("[BOS]"), g), true);
  };
  return r;
}

TaskRun build_task_run(const TaskData& d, const data::BpeTokenizer& tok, const ModelConfig& config,
                       const TaskRunOptions& o) {
  TS_CHECK(config.vocab_size == tok.vocab_size(),
           "finetune: config vocab_size {} != tokenizer vocab {} (a tokenizer that does not "
           "match the model)",
           config.vocab_size, tok.vocab_size());
  switch (d.type) {
    case TaskType::kClassify:
      return build_classify_run(d, config, o);
    case TaskType::kNer:
      return build_ner_run(d, config, o);
    case TaskType::kQa:
      return build_qa_run(d, config, o);
    case TaskType::kGeneration:
      return build_generation_run(d, tok, config, o);
    case TaskType::kTranslation:
      return build_translation_run(d, tok, config, o);
  }
  fail("build_task_run: unknown task type {}", static_cast<int>(d.type));
}

}  // namespace taesan::models
