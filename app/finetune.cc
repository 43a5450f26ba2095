// Fine-tuning, evaluation and text generation over TaskData (finetune.h); predict() is in
// predict.cc.
#include "taesan/app/finetune.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "taesan/app/baseline_scores.h"
#include "taesan/app/model_meta.h"
#include "taesan/app/pretrain.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/core/error.h"
#include "taesan/core/random.h"
#include "taesan/models/generate.h"
#include "taesan/models/heads.h"
#include "taesan/models/transformer_models.h"
#include "taesan/nn/safetensors.h"
#include "taesan/nn/serialize.h"

namespace taesan::models {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Whether a decoder-initialised encoder-decoder starts its cross-attention as a copy of the
/// self-attention (see warm_start_encdec_from_decoder).
constexpr bool kCrossAttentionFromSelf = true;

/// Loads an init checkpoint into a task model. kind: "encoder" tasks take an MLM body.
void load_init(nn::Module& model, const std::string& init, const std::string& kind,
               const ModelConfig& config, const data::BpeTokenizer& tok, bool verbose) {
  if (init.empty()) return;
  const ModelMeta m = read_model_meta(init);
  TS_CHECK(m.task.empty(), "finetune: '{}' is a fine-tuned '{}' model, not a pretrained one", init,
           m.task);
  if (kind == "encdec" && m.kind == "decoder") {  // a causal LM warm-starts both stacks
    check_model_meta(m, init, "decoder", &config, tok, "finetune");
    auto* encdec = dynamic_cast<EncoderDecoderModel*>(&model);
    TS_CHECK(encdec, "finetune: an encoder-decoder task built a {} model", model.name());
    TransferReport r = warm_start_encdec_from_decoder(*encdec, init, kCrossAttentionFromSelf);
    if (verbose) fmt::print(stderr, "transfer: {}\n", r.summary());
    return;
  }
  check_model_meta(m, init, kind, &config, tok, "finetune");
  if (kind == "encoder") {
    TransferReport r = load_pretrained_body(model, init, "body.", "body.");
    if (verbose) fmt::print(stderr, "transfer: {}\n", r.summary());
  } else {
    load(model, init);  // the whole model: same class, strict
  }
}

/// Evaluations twice per epoch, between 25 and 500 steps apart (and at most ~40 per run).
int64_t auto_eval_every(int64_t steps_per_epoch, int64_t max_steps) {
  const int64_t half_epoch = std::max<int64_t>(1, steps_per_epoch / 2);
  return std::clamp<int64_t>(half_epoch, std::max<int64_t>(25, max_steps / 40), 500);
}

json score_json(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

RunOptions default_finetune_options(TaskType type, bool pretrained) {
  RunOptions o;
  o.batch_size = 16;
  o.seq_len = 128;
  o.warmup_ratio = 0.06;
  o.patience = 6;               // evaluations (each about half an epoch) without improvement
  o.time_budget_seconds = 900;  // a cap, not a target: runs usually stop on patience first
  o.lr = pretrained ? 5e-4 : 1e-3;
  o.dropout = 0.1;
  switch (type) {
    case TaskType::kClassify:
      o.steps = 4000;
      break;
    case TaskType::kNer:
      o.steps = 4000;
      break;
    case TaskType::kQa:
      o.steps = 4000;
      o.seq_len = 192;
      break;
    case TaskType::kTranslation:
      o.steps = 6000;
      o.batch_size = 32;
      o.seq_len = 48;
      o.lr = 2e-3;
      break;
    case TaskType::kGeneration:
      o.steps = 2000;
      o.seq_len = 64;
      break;
  }
  return o;
}

TaskScore finetune(const TaskData& data, const std::string& task_name,
                   const data::BpeTokenizer& tok, const ModelConfig& config_in,
                   const std::string& init_weights, const RunOptions& o,
                   const TaskRunOptions& ro_in) {
  const auto t0 = Clock::now();
  const ModelConfig config = with_dropout(config_in, o.dropout);
  const std::string kind = task_type_model_kind(data.type);
  TS_CHECK(!data.split.train.empty(), "finetune {}: the training split is empty", task_name);
  TS_CHECK(!data.split.validation.empty(), "finetune {}: the validation split is empty", task_name);
  TS_CHECK(o.body_lr_scale > 0, "finetune: body_lr_scale must be > 0, got {}", o.body_lr_scale);
  TS_CHECK(o.seq_len <= config.max_position, "finetune: seq_len {} exceeds max_position {}",
           o.seq_len, config.max_position);
  manual_seed(o.seed);
  TaskRunOptions ro = ro_in;
  ro.batch_size = o.batch_size;
  ro.seed = o.seed;
  ro.label_smoothing = o.label_smoothing;
  ro.block_size = o.seq_len;
  TaskRun run = build_task_run(data, tok, config, ro);
  load_init(*run.model, init_weights, kind, config, tok, o.verbose);
  std::vector<std::pair<std::string, double>> lr_scale;
  if (!init_weights.empty() && o.body_lr_scale != 1.0)
    lr_scale.push_back({"body.", o.body_lr_scale});
  const int64_t eval_every =
      o.eval_every >= 0 ? o.eval_every : auto_eval_every(run.steps_per_epoch, o.steps);
  Trainer trainer(*run.model, trainer_options(o, true, eval_every), lr_scale);
  TaskScore s;
  s.task = task_name;
  s.metric = run.metric;
  s.train_rows = static_cast<int64_t>(data.split.train.size());
  s.validation_rows = static_cast<int64_t>(data.split.validation.size());
  s.test_rows = static_cast<int64_t>(data.split.test.size());
  s.train = trainer.fit(run.step, [&] { return run.score(data.split.validation); });
  s.validation = s.train.best_eval;
  {
    NoGradGuard ng;
    run.model->eval();
    s.score = data.split.test.empty() ? kNaN : run.score(data.split.test);
    if (run.sample) s.sample = run.sample();
  }
  s.baseline = data.split.test.empty() ? kNaN
                                       : task_baseline(data, data.split.test, tok, run.metric,
                                                       &s.baseline_name, o.seq_len);
  if (!o.out_dir.empty() && !s.train.interrupted) {
    fs::create_directories(o.out_dir);
    s.weights_path = weights_file(o);
    save(*run.model, s.weights_path);
    const std::string tok_path = (fs::path(o.out_dir) / "tokenizer.json").string();
    tok.save(tok_path);
    ModelMeta m;
    m.kind = kind;
    m.task = task_name;
    m.config = config;
    m.tokenizer_fingerprint = tokenizer_fingerprint(tok);
    m.tokenizer_file = "tokenizer.json";
    m.labels = run.labels;
    m.seq_len = o.seq_len;
    if (data.type == TaskType::kNer) m.word_pooling = ro.ner_word_pooling;
    write_model_meta(s.weights_path, m);
  }
  s.seconds = since(t0);
  if (!o.out_dir.empty() && !s.train.interrupted) {
    json j{{"task", task_name},
           {"type", task_type_name(data.type)},
           {"metric", s.metric},
           {"value", score_json(s.score)},
           {"baseline", score_json(s.baseline)},
           {"baseline_name", s.baseline_name},
           {"validation", score_json(s.validation)},
           {"init", init_weights},
           {"steps", s.train.steps},
           {"best_step", s.train.best_step},
           {"early_stopped", s.train.early_stopped},
           {"time_budget_hit", s.train.time_budget_hit},
           {"train_rows", s.train_rows},
           {"validation_rows", s.validation_rows},
           {"test_rows", s.test_rows},
           {"seconds", s.seconds},
           {"weights", s.weights_path}};
    write_file_atomic((fs::path(o.out_dir) / (o.name + ".metrics.json")).string(),
                      j.dump(2) + "\n");
  }
  return s;
}

TaskScore finetune(const std::string& task, const data::BpeTokenizer& tok,
                   const std::string& data_dir, const ModelConfig& config,
                   const std::string& init_weights, const RunOptions& o,
                   const TaskRunOptions& ro_in) {
  const PackTask& spec = pack_task(task);
  TaskEncoding enc;
  enc.seq_len = o.seq_len;
  enc.qa_mark_question_words = qa_marks_question_words(config);
  const TaskData data = load_pack_task(task, data_dir, tok, enc, o.max_train, o.max_eval);
  TaskRunOptions ro = ro_in;
  if (spec.type == TaskType::kClassify && ro.metric.empty()) ro.metric = spec.metric;
  return finetune(data, task, tok, config, init_weights, o, ro);
}

TaskScore evaluate(const std::string& weights, const TaskData& data,
                   const data::BpeTokenizer& tok) {
  const auto t0 = Clock::now();
  const ModelMeta m = read_model_meta(weights);
  TS_CHECK(!m.task.empty(), "evaluate: '{}' is a pretrained {} model, not a fine-tuned task model",
           weights, m.kind);
  check_model_meta(m, weights, task_type_model_kind(data.type), nullptr, tok, "evaluate");
  TaskRunOptions ro;
  ro.ner_word_pooling = m.word_pooling;
  if (data.type == TaskType::kClassify && is_pack_task(m.task))
    ro.metric = pack_task(m.task).metric;
  // A model is built over training rows; evaluation needs none, so give it the scored ones.
  TaskData d = data;
  const std::vector<int64_t> rows = [&] {
    if (!data.split.test.empty()) return data.split.test;
    std::vector<int64_t> all;
    for (int64_t i = 0; i < data.rows(); ++i) all.push_back(i);
    return all;
  }();
  if (d.split.train.empty()) d.split.train = rows;
  TaskRun run = build_task_run(d, tok, m.config, ro);
  load(*run.model, weights);
  NoGradGuard ng;
  run.model->eval();
  TaskScore s;
  s.task = m.task;
  s.metric = run.metric;
  s.score = run.score(rows);
  s.test_rows = static_cast<int64_t>(rows.size());
  s.validation = kNaN;
  s.baseline = data.split.train.empty()
                   ? kNaN
                   : task_baseline(data, rows, tok, run.metric, &s.baseline_name,
                                   m.seq_len > 0 ? m.seq_len : 64);
  if (run.sample) s.sample = run.sample();
  s.seconds = since(t0);
  return s;
}

std::string resolve_model_path(const std::string& model) {
  TS_CHECK(fs::exists(model), "model '{}' does not exist", model);
  if (!fs::is_directory(model)) return model;
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(model)) {
    const fs::path p = e.path();
    if (p.extension() != ".safetensors") continue;
    const std::string stem = p.stem().string();
    if (stem.size() > 5 && (stem.ends_with(".ckpt") || stem.ends_with(".best"))) continue;
    if (fs::exists(model_meta_path(p.string()))) found.push_back(p.string());
  }
  std::sort(found.begin(), found.end());
  if (found.size() == 1) return found[0];
  const fs::path preferred = fs::path(model) / "model.safetensors";
  if (fs::exists(preferred)) return preferred.string();
  TS_CHECK(!found.empty(),
           "model folder '{}' holds no weights with a sidecar (.safetensors + "
           ".json written by taesan finetune)",
           model);
  fail("model folder '{}' holds {} models ({}): pass the .safetensors file", model, found.size(),
       fmt::join(found, ", "));
}

TaskScore evaluate_file(const std::string& weights_in, const std::string& test_file) {
  const std::string weights = resolve_model_path(weights_in);
  const ModelMeta m = read_model_meta(weights);
  TS_CHECK(!m.task.empty(), "evaluate: '{}' is a pretrained {} model, not a fine-tuned task model",
           weights, m.kind);
  const data::BpeTokenizer tok = data::BpeTokenizer::load(model_tokenizer_path(weights, m));
  const TaskType type = task_type_of(m.task);
  TaskEncoding enc;
  enc.seq_len = m.seq_len > 0 ? m.seq_len : std::min<int64_t>(128, m.config.max_position);
  enc.labels = m.labels;
  enc.qa_mark_question_words = qa_marks_question_words(m.config);
  TaskFiles files;
  files.train = test_file;  // read with the model's labels; every row is scored
  files.validation = test_file;
  TaskData d = load_task_files(type, files, tok, enc);
  d.split.test = d.split.train;
  d.split.train.clear();
  d.split.validation.clear();
  return evaluate(weights, d, tok);
}

TaskScore evaluate_task(const std::string& weights, const data::BpeTokenizer& tok,
                        const std::string& data_dir, const RunOptions& o) {
  const ModelMeta m = read_model_meta(weights);
  TS_CHECK(!m.task.empty(), "evaluate: '{}' is a pretrained {} model, not a fine-tuned task model",
           weights, m.kind);
  TaskEncoding enc;
  enc.seq_len = m.seq_len > 0 ? m.seq_len : o.seq_len;
  enc.labels = m.labels;
  enc.qa_mark_question_words = qa_marks_question_words(m.config);
  const std::string task = m.task;
  TS_CHECK(is_pack_task(task),
           "evaluate_task: '{}' was fine-tuned for '{}', not for a task of "
           "the dataset pack (use evaluate_file with a test file)",
           weights, task);
  const TaskData d = load_pack_task(task, data_dir, tok, enc, o.max_train, o.max_eval);
  TaskScore s = evaluate(weights, d, tok);
  s.task = task;
  return s;
}

std::string generate_text(const std::string& weights, const data::BpeTokenizer& tok,
                          const std::string& prompt, int64_t max_new_tokens, bool sample,
                          uint64_t seed) {
  const ModelMeta m = read_model_meta(weights);
  TS_CHECK(m.kind == "decoder" || m.kind == "encdec",
           "generate: '{}' holds a {} model ({}); generation needs a decoder or encoder-decoder",
           weights, m.kind, m.task.empty() ? "pretrained" : m.task);
  check_model_meta(m, weights, m.kind, nullptr, tok, "generate");
  TS_CHECK(!prompt.empty(), "generate: the prompt is empty");
  GenerationOptions g;
  g.max_new_tokens = max_new_tokens;
  g.do_sample = sample;
  g.top_k = sample ? 40 : 0;
  g.top_p = sample ? 0.95 : 1.0;
  g.temperature = sample ? 0.8 : 1.0;
  g.repetition_penalty = 1.2;
  g.seed = seed;
  g.eos_token_id = tok.token_to_id("[EOS]");
  NoGradGuard ng;
  if (m.kind == "decoder") {
    DecoderModel model(m.config);
    load(model, weights);
    model.eval();
    return prompt + tok.decode(generate(model, tok.encode(prompt), g), true);
  }
  EncoderDecoderModel model(m.config);
  load(model, weights);
  model.eval();
  auto src = tok.encode(prompt);
  src.push_back(tok.token_to_id("[EOS]"));
  return tok.decode(generate(model, src, tok.token_to_id("[BOS]"), g), true);
}

}  // namespace taesan::models
