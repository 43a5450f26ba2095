// The pipelines of tasks.h: tokenizer, pretraining runs, fine-tuning + test scoring per task,
// model sidecars (kind, config, tokenizer fingerprint) that turn mismatches into clear errors.
#include "taesan/app/tasks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "taesan/core/error.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/core/random.h"
#include "taesan/data/data.h"
#include "taesan/models/electra.h"
#include "taesan/models/generate.h"
#include "taesan/models/heads.h"
#include "taesan/train/metrics.h"
#include "taesan/models/transformer_models.h"
#include "taesan/nn/safetensors.h"
#include "taesan/nn/serialize.h"
#include "taesan/ops/ops.h"

namespace taesan::models {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string data_file(const std::string& dir, const std::string& name) {
  const fs::path p = fs::path(dir) / name;
  TS_CHECK(fs::exists(p),
           "dataset file '{}' is missing (is --data pointing at the dataset pack? expected "
           "{} in '{}')",
           p.string(), name, dir);
  return p.string();
}

std::string meta_path(const std::string& weights) {
  fs::path p(weights);
  p.replace_extension(".json");
  return p.string();
}

json config_to_json(const ModelConfig& c) {
  return json{{"vocab_size", c.vocab_size}, {"max_position", c.max_position},
              {"d_model", c.d_model},       {"num_heads", c.num_heads},
              {"num_layers", c.num_layers}, {"num_decoder_layers", c.num_decoder_layers},
              {"d_ff", c.d_ff},             {"dropout", c.dropout},
              {"activation", c.activation}, {"pad_token_id", c.pad_token_id}};
}

ModelConfig config_from_json(const json& j) {
  ModelConfig c;
  c.vocab_size = j.at("vocab_size");
  c.max_position = j.at("max_position");
  c.d_model = j.at("d_model");
  c.num_heads = j.at("num_heads");
  c.num_layers = j.at("num_layers");
  c.num_decoder_layers = j.at("num_decoder_layers");
  c.d_ff = j.at("d_ff");
  c.dropout = j.at("dropout");
  c.activation = j.at("activation");
  c.pad_token_id = j.at("pad_token_id");
  return c;
}

void write_meta(const std::string& weights, const ModelMeta& m) {
  json j{{"kind", m.kind},
         {"task", m.task},
         {"config", config_to_json(m.config)},
         {"tokenizer_fingerprint", m.tokenizer_fingerprint},
         {"labels", m.labels}};
  write_file_atomic(meta_path(weights), j.dump(2) + "\n");
}

bool same_config(const ModelConfig& a, const ModelConfig& b) {
  return config_to_json(a) == config_to_json(b);
}

/// Checks a checkpoint against what the caller is about to build.
void check_meta(const ModelMeta& m, const std::string& weights, const std::string& kind,
                const ModelConfig* config, const data::BpeTokenizer& tok, const char* who) {
  TS_CHECK(m.kind == kind, "{}: '{}' holds a {} model, but this needs a {} model", who, weights,
           m.kind, kind);
  TS_CHECK(m.tokenizer_fingerprint == tokenizer_fingerprint(tok),
           "{}: '{}' was trained with another tokenizer (fingerprint {} != {} of the given "
           "tokenizer, vocab {}); pass the tokenizer.json saved with it",
           who, weights, m.tokenizer_fingerprint, tokenizer_fingerprint(tok), tok.vocab_size());
  if (config)
    TS_CHECK(same_config(m.config, *config),
             "{}: '{}' has config [{}], but the model to build has [{}]", who, weights,
             m.config.to_string(), config->to_string());
}

/// Takes at most `n` of `v` (n <= 0: all).
template <typename T>
void truncate(std::vector<T>& v, int64_t n) {
  if (n > 0 && static_cast<int64_t>(v.size()) > n) v.resize(static_cast<size_t>(n));
}

int64_t count_tokens(const data::Batch& b) {
  const auto m = b.attention_mask.to_vector<int64_t>();
  int64_t s = 0;
  for (int64_t x : m) s += x;
  return s;
}

/// Sets the MLM output bias to the log unigram frequency of the training tokens (add-one
/// smoothed), so the model starts at the unigram loss instead of spending its first hundreds of
/// steps learning token frequencies through a bias that Adam moves by ~lr per step.
void init_unigram_bias(MaskedLanguageModel& m, const std::vector<data::Example>& examples) {
  const int64_t V = m.output_bias.numel();
  std::vector<double> count(static_cast<size_t>(V), 1.0);
  double total = static_cast<double>(V);
  for (const auto& e : examples)
    for (int64_t id : e.input_ids)
      if (id >= 0 && id < V) count[static_cast<size_t>(id)] += 1, total += 1;
  std::vector<float> bias(static_cast<size_t>(V));
  for (int64_t v = 0; v < V; ++v)
    bias[static_cast<size_t>(v)] = static_cast<float>(std::log(count[static_cast<size_t>(v)] / total));
  NoGradGuard no_grad;
  m.output_bias.copy_(from_vector(bias, {V}));
}

/// A Batcher whose batch for micro-batch `index` depends only on the index (resumable).
struct IndexedBatcher {
  data::Batcher batcher;
  IndexedBatcher(std::vector<data::Example> ex, int64_t batch_size, uint64_t seed, int64_t pad)
      : batcher(std::move(ex), [&] {
          data::BatcherOptions o;
          o.batch_size = batch_size;
          o.shuffle = true;
          o.seed = seed;
          o.drop_last = false;
          o.pad_id = pad;
          return o;
        }()) {
    TS_CHECK(batcher.size() > 0, "training set is empty");
  }
  data::Batch get(int64_t index) {
    const int64_t nb = batcher.num_batches();
    const int64_t epoch = index / nb;
    if (epoch != batcher.epoch()) batcher.set_epoch(epoch);
    return batcher.batch(index % nb);
  }
};

/// Batches of `examples` in order, for evaluation.
std::vector<data::Batch> eval_batches(const std::vector<data::Example>& examples, int64_t bs,
                                      int64_t pad) {
  std::vector<data::Batch> out;
  data::CollateOptions co;
  co.pad_id = pad;
  for (size_t i = 0; i < examples.size(); i += static_cast<size_t>(bs)) {
    std::vector<const data::Example*> part;
    for (size_t j = i; j < std::min(examples.size(), i + static_cast<size_t>(bs)); ++j)
      part.push_back(&examples[j]);
    out.push_back(data::collate(part, co));
  }
  return out;
}

int64_t argmax_row(const float* p, int64_t n) {
  return static_cast<int64_t>(std::max_element(p, p + n) - p);
}

/// The 80/10/10 split of n rows, subsampled to the run's limits.
data::SplitIndices task_split(int64_t n, const RunOptions& o) {
  data::SplitIndices s = data::split_indices(n, 0.1, 0.1, 20240);
  // Subsample the training rows at random (fixed) rather than taking the file's first ones.
  if (o.max_train > 0 && static_cast<int64_t>(s.train.size()) > o.max_train) {
    auto order = data::epoch_order(static_cast<int64_t>(s.train.size()), 77, 0);
    std::vector<int64_t> t;
    for (int64_t i = 0; i < o.max_train; ++i) t.push_back(s.train[static_cast<size_t>(order[i])]);
    std::sort(t.begin(), t.end());
    s.train = t;
  }
  truncate(s.validation, o.max_eval);
  truncate(s.test, o.max_eval);
  return s;
}

TrainerOptions trainer_options(const RunOptions& o, bool greater_is_better) {
  TrainerOptions t;
  t.name = o.name;
  t.out_dir = o.out_dir;
  t.max_steps = o.steps;
  t.grad_accum = o.grad_accum;
  t.lr = o.lr;
  t.warmup_ratio = o.warmup_ratio;
  t.eval_every = o.eval_every > 0 ? o.eval_every : std::max<int64_t>(1, o.steps / 5);
  t.greater_is_better = greater_is_better;
  t.patience = o.patience;
  t.time_budget_seconds = o.time_budget_seconds;
  t.verbose = o.verbose;
  t.resume_from = o.resume_from;
  t.log_every = std::max<int64_t>(1, o.steps / 10);
  return t;
}

std::string weights_file(const RunOptions& o) {
  TS_CHECK(!o.out_dir.empty(), "run '{}': out_dir is required to save weights", o.name);
  return (fs::path(o.out_dir) / (o.name + ".safetensors")).string();
}

/// Whether a decoder-initialised encoder-decoder starts its cross-attention as a copy of the
/// self-attention (see warm_start_encdec_from_decoder).
constexpr bool kCrossAttentionFromSelf = true;

/// Loads an init checkpoint into a task model. kind: "encoder" tasks take an MLM body.
void load_init(nn::Module& model, const std::string& init, const std::string& kind,
               const ModelConfig& config, const data::BpeTokenizer& tok, bool verbose) {
  if (init.empty()) return;
  const ModelMeta m = read_model_meta(init);
  TS_CHECK(m.task.empty(), "finetune: '{}' is a fine-tuned '{}' model, not a pretrained one",
           init, m.task);
  if (kind == "encdec" && m.kind == "decoder") {  // a causal LM warm-starts both stacks
    check_meta(m, init, "decoder", &config, tok, "finetune");
    auto* encdec = dynamic_cast<EncoderDecoderModel*>(&model);
    TS_CHECK(encdec, "finetune: an encoder-decoder task built a {} model", model.name());
    TransferReport r = warm_start_encdec_from_decoder(*encdec, init, kCrossAttentionFromSelf);
    if (verbose) fmt::print(stderr, "transfer: {}\n", r.summary());
    return;
  }
  check_meta(m, init, kind, &config, tok, "finetune");
  if (kind == "encoder") {
    TransferReport r = load_pretrained_body(model, init, "body.", "body.");
    if (verbose) fmt::print(stderr, "transfer: {}\n", r.summary());
  } else {
    load(model, init);  // the whole model: same class, strict
  }
}

}  // namespace

// ----------------------------------------------------------------------------------------------

TransferReport warm_start_encdec_from_decoder(EncoderDecoderModel& model, const std::string& path,
                                              bool cross_from_self) {
  const safetensors::Contents file = safetensors::load(path);
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  TransferReport report;
  nn::NamedTensors matched;
  std::set<std::string> used;
  for (const auto& [name, t] : model.state_dict()) {
    std::string from;  // the checkpoint tensor this one starts from ("": fresh)
    if (name == "shared.weight") {
      from = "wte.weight";
    } else if (name == "encoder_positions.weight" || name == "decoder_positions.weight") {
      from = "wpe.weight";
    } else if (name.rfind("encoder.", 0) == 0) {
      from = "blocks." + name.substr(8);
    } else if (name.rfind("decoder.", 0) == 0) {
      const std::string rest = name.substr(8);  // layers.i.<module>.<tensor> or norm.<tensor>
      if (rest.find(".multihead_attn.") != std::string::npos) {
        if (cross_from_self) from = "blocks." + replace(rest, ".multihead_attn.", ".self_attn.");
      } else if (rest.find(".norm2.") != std::string::npos) {
        if (cross_from_self) from = "blocks." + replace(rest, ".norm2.", ".norm1.");
      } else {
        from = "blocks." + replace(rest, ".norm3.", ".norm2.");  // the feed-forward's norm
      }
    }
    const Tensor src = from.empty() ? Tensor() : file.find(from);
    if (!src.defined()) {
      report.new_.push_back(name);
      continue;
    }
    TS_CHECK(src.shape() == t.shape(),
             "warm_start_encdec_from_decoder: '{}' has {} with shape {}, but the "
             "encoder-decoder's {} has shape {} (a checkpoint of another config)",
             path, from, shape_str(src.shape()), name, shape_str(t.shape()));
    matched.push_back({name, src});
    report.loaded.push_back(name);
    used.insert(from);
  }
  for (const auto& [name, t] : file.tensors)
    if (!used.count(name)) report.skipped.push_back(name);
  TS_CHECK(!matched.empty(), "warm_start_encdec_from_decoder: no tensor of '{}' fits an "
           "encoder-decoder (is it a causal-LM checkpoint?)", path);
  model.load_state_dict(matched, /*strict=*/false);
  return report;
}

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = {"spam", "sentiment",  "ner",
                                                 "qa",   "generation", "translation"};
  return names;
}

std::string task_model_kind(const std::string& task) {
  if (task == "spam" || task == "sentiment" || task == "ner" || task == "qa" || task == "mlm" ||
      task == "rtd")
    return "encoder";
  if (task == "generation" || task == "clm") return "decoder";
  if (task == "translation" || task == "span") return "encdec";
  fail("task_model_kind: unknown task or objective '{}' (expected one of spam, sentiment, ner, "
       "qa, generation, translation, mlm, rtd, clm, span)",
       task);
}

std::string tokenizer_fingerprint(const data::BpeTokenizer& tok) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : tok.to_json()) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

ModelMeta read_model_meta(const std::string& weights_path) {
  const std::string p = meta_path(weights_path);
  TS_CHECK(fs::exists(weights_path), "read_model_meta: weights file '{}' does not exist",
           weights_path);
  TS_CHECK(fs::exists(p), "read_model_meta: '{}' has no sidecar '{}' (written by taesan pretrain "
           "/ finetune)", weights_path, p);
  std::ifstream in(p);
  try {
    json j = json::parse(in);
    ModelMeta m;
    m.kind = j.at("kind");
    m.task = j.at("task");
    m.config = config_from_json(j.at("config"));
    m.tokenizer_fingerprint = j.at("tokenizer_fingerprint");
    m.labels = j.at("labels").get<std::vector<std::string>>();
    return m;
  } catch (const json::exception& e) {
    fail("read_model_meta: '{}' is not a valid model sidecar: {}", p, e.what());
  }
}

std::vector<std::string> pretraining_texts(const std::string& data_dir,
                                           int64_t max_lines_per_file) {
  std::vector<std::string> texts;
  for (const char* f : {"en_tinyshakespeare.txt", "en_state_union.txt",
                        "ko_klue_dev_sentences.txt", "ko_nsmc_neutral_reviews.txt"}) {
    data::ReadLinesOptions ro;
    ro.skip_empty = true;
    auto lines = data::read_lines(data_file(data_dir, f), ro);
    if (std::string(f) == "en_tinyshakespeare.txt") {
      // Short verse lines: join 4 at a time so segments carry some context.
      std::vector<std::string> joined;
      for (size_t i = 0; i < lines.size(); i += 4) {
        std::string s;
        for (size_t j = i; j < std::min(lines.size(), i + 4); ++j) s += (j > i ? " " : "") + lines[j];
        joined.push_back(std::move(s));
      }
      lines = std::move(joined);
    }
    truncate(lines, max_lines_per_file);
    texts.insert(texts.end(), lines.begin(), lines.end());
  }
  return texts;
}

data::BpeTokenizer train_tokenizer(const std::vector<std::string>& texts, int64_t vocab_size) {
  data::BpeTrainOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = 2;
  o.special_tokens = data::kDefaultSpecialTokens;
  for (auto& s : data::sentinel_tokens(16)) o.special_tokens.push_back(s);
  return data::BpeTokenizer::train(texts, o);
}

ModelConfig small_config(int64_t vocab_size, int64_t d_model, int64_t num_layers,
                         int64_t max_position) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  c.max_position = max_position;
  c.d_model = d_model;
  c.num_heads = std::max<int64_t>(1, d_model / 64);
  c.num_layers = num_layers;
  c.num_decoder_layers = num_layers;
  c.d_ff = 4 * d_model;
  c.dropout = 0.1;
  c.pad_token_id = 0;
  return c;
}

// ---------------------------------------------------------------------------------- pretraining

PretrainResult pretrain(const std::string& objective, const data::BpeTokenizer& tok,
                        const std::vector<std::string>& texts, const ModelConfig& config,
                        const RunOptions& o) {
  const auto t0 = Clock::now();
  const std::string kind = task_model_kind(objective);
  TS_CHECK(objective == "mlm" || objective == "rtd" || objective == "clm" || objective == "span",
           "pretrain: objective must be mlm, rtd, clm or span, got '{}'", objective);
  TS_CHECK(config.vocab_size == tok.vocab_size(),
           "pretrain: config vocab_size {} != tokenizer vocab {}", config.vocab_size,
           tok.vocab_size());
  TS_CHECK(o.seq_len + 2 <= config.max_position, "pretrain: seq_len {} exceeds max_position {}",
           o.seq_len, config.max_position);
  TS_CHECK(texts.size() >= 20, "pretrain: need at least 20 texts, got {}", texts.size());
  manual_seed(o.seed);
  const int64_t pad = tok.token_to_id("[PAD]");
  // Hold out every 20th text for the validation loss.
  std::vector<std::string> train_texts, val_texts;
  for (size_t i = 0; i < texts.size(); ++i) (i % 20 == 19 ? val_texts : train_texts).push_back(texts[i]);

  std::vector<data::Example> train_ex, val_ex;
  data::Batcher::Transform transform;
  if (objective == "mlm" || objective == "rtd") {
    data::SegmentOptions so;
    so.max_length = o.seq_len;
    train_ex = data::sentence_segments(tok, train_texts, so);
    val_ex = data::sentence_segments(tok, val_texts, so);
    TS_CHECK(o.mask_probability > 0 && o.mask_probability <= 1,
             "pretrain: mask_probability must be in (0, 1], got {}", o.mask_probability);
    data::MlmOptions mo = data::mlm_options(tok, o.mask_probability);
    if (objective == "rtd") {  // ELECTRA: every selected token becomes [MASK]
      mo.mask_fraction = 1.0;
      mo.random_fraction = 0.0;
    }
    const uint64_t seed = o.seed;
    transform = [mo, seed](const data::Example& e, int64_t i, int64_t epoch) {
      return data::mask_tokens(e, mo, seed, static_cast<uint64_t>(i) * 4096 + epoch);
    };
    for (size_t i = 0; i < val_ex.size(); ++i) val_ex[i] = data::mask_tokens(val_ex[i], mo, seed + 1, i);
  } else if (objective == "clm") {
    data::CausalLmOptions co;
    co.block_size = o.seq_len;
    train_ex = data::causal_lm_dataset(tok, train_texts, co);
    val_ex = data::causal_lm_dataset(tok, val_texts, co);
  } else {
    const auto so = data::span_corruption_options(tok);
    const int64_t eos = tok.token_to_id("[EOS]");
    auto blocks = [&](const std::vector<std::string>& t) {
      std::vector<data::Example> out;
      for (auto& b : data::cut_blocks(data::token_stream(tok, t, eos), o.seq_len - 1)) {
        data::Example e;
        e.input_ids = b;
        out.push_back(std::move(e));
      }
      return out;
    };
    train_ex = blocks(train_texts);
    val_ex = blocks(val_texts);
    const uint64_t seed = o.seed;
    transform = [so, seed](const data::Example& e, int64_t i, int64_t epoch) {
      return data::span_corruption(e.input_ids, so, seed, static_cast<uint64_t>(i) * 4096 + epoch);
    };
    for (size_t i = 0; i < val_ex.size(); ++i)
      val_ex[i] = data::span_corruption(val_ex[i].input_ids, so, seed + 1, i);
  }
  truncate(val_ex, o.max_eval > 0 ? o.max_eval : 256);
  TS_CHECK(!train_ex.empty() && !val_ex.empty(), "pretrain: no {} examples from {} texts",
           objective, texts.size());
  if (o.verbose)
    fmt::print(stderr, "pretrain {} ({}): {} training / {} validation examples, {}\n", o.name,
               objective, train_ex.size(), val_ex.size(), config.to_string());
  IndexedBatcher batcher(std::move(train_ex), o.batch_size, o.seed, pad);
  if (transform) batcher.batcher.set_transform(transform);
  const auto val_batches = eval_batches(val_ex, 32, pad);

  std::shared_ptr<nn::Module> model;
  // loss of a batch; `stream` fixes the random draws inside the loss (rtd's samples)
  std::function<Tensor(const data::Batch&, uint64_t stream)> loss_of;
  if (objective == "mlm") {
    auto m = std::make_shared<MaskedLanguageModel>(config);
    init_unigram_bias(*m, batcher.batcher.examples());
    loss_of = [m](const data::Batch& b, uint64_t) {
      return m->loss(b.input_ids, b.labels, b.attention_mask);  // vocab projection at masks only
    };
    model = m;
  } else if (objective == "rtd") {
    auto m = std::make_shared<ReplacedTokenDetection>(config);
    init_unigram_bias(*m->generator, batcher.batcher.examples());
    const uint64_t seed = o.seed ^ 0xE1EC7Aull;
    loss_of = [m, seed](const data::Batch& b, uint64_t stream) {
      return m->loss(b.input_ids, b.labels, b.attention_mask, seed, stream).total;
    };
    model = m;
  } else if (objective == "clm") {
    auto m = std::make_shared<DecoderModel>(config);
    loss_of = [m](const data::Batch& b, uint64_t) {
      return lm_loss(m->forward(b.input_ids, b.attention_mask), b.labels);
    };
    model = m;
  } else {
    auto m = std::make_shared<EncoderDecoderModel>(config);
    loss_of = [m](const data::Batch& b, uint64_t) {
      return lm_loss(m->forward(b.input_ids, b.attention_mask, b.decoder_input_ids,
                                b.decoder_attention_mask),
                     b.labels);
    };
    model = m;
  }
  if (!o.init.empty()) {  // continued pretraining: the whole model, same class and config
    const ModelMeta m = read_model_meta(o.init);
    TS_CHECK(m.task.empty(), "pretrain: '{}' is a fine-tuned '{}' model, not a pretrained one",
             o.init, m.task);
    check_meta(m, o.init, kind, &config, tok, "pretrain");
    load(*model, o.init);
  }
  Trainer trainer(*model, trainer_options(o, false));
  PretrainResult r;
  r.train = trainer.fit(
      [&](int64_t i) {
        data::Batch b = batcher.get(i);
        return StepOutput{loss_of(b, static_cast<uint64_t>(i)), count_tokens(b)};
      },
      [&] {
        double s = 0;
        uint64_t stream = uint64_t{1} << 40;  // fixed draws: every evaluation scores the same
        for (auto& b : val_batches) s += loss_of(b, stream++).to(kFloat64).item<double>();
        return s / static_cast<double>(val_batches.size());
      });
  r.validation_loss = r.train.best_eval;
  if (!o.out_dir.empty() && !r.train.interrupted) {
    r.weights_path = weights_file(o);
    // An MLM model is saved whole; its "body." tensors are what the task models take.
    save(*model, r.weights_path);
    ModelMeta m;
    m.kind = kind;
    m.config = config;
    m.tokenizer_fingerprint = tokenizer_fingerprint(tok);
    write_meta(r.weights_path, m);
  }
  r.seconds = since(t0);
  return r;
}

// ---------------------------------------------------------------------------------- fine-tuning

namespace {

/// Everything a task run needs after its model is built.
struct TaskRun {
  std::shared_ptr<nn::Module> model;
  std::function<StepOutput(int64_t)> step;
  std::function<double(bool test)> score;  ///< validation (false) or test (true) score
  std::function<std::string()> sample;
  std::string metric;
  std::vector<std::string> labels;
};

/// The labelled file of a classification task ("spam" or "sentiment"), encoded.
data::ClassificationDataset load_classification_task(const std::string& task,
                                                     const data::BpeTokenizer& tok,
                                                     const std::string& dir, int64_t seq_len,
                                                     const std::vector<std::string>& fixed_labels) {
  data::ClassificationOptions co;
  co.max_length = seq_len;
  std::string path;
  if (task == "spam") {
    path = data_file(dir, "en_sms_spam.tsv");
    co.label_column = 0;
    co.text_column = 1;
  } else {
    path = data_file(dir, "ko_nsmc_raw_sentiment_train.tsv");
    co.has_header = true;
    co.label_column = "label";
    co.text_column = "document";
  }
  if (!fixed_labels.empty()) co.labels = data::LabelVocab(fixed_labels);
  return data::load_classification_tsv(path, tok, co);
}

TaskRun build_classification(const std::string& task, const data::BpeTokenizer& tok,
                             const std::string& dir, const ModelConfig& config,
                             const RunOptions& o, const std::vector<std::string>& fixed_labels) {
  auto ds = std::make_shared<data::ClassificationDataset>(
      load_classification_task(task, tok, dir, o.seq_len, fixed_labels));
  const auto split = task_split(static_cast<int64_t>(ds->examples.size()), o);
  const int64_t nl = ds->labels.size();
  // Mean pooling: an MLM-pretrained body never trained its [CLS] output (no next-sentence task).
  auto model = std::make_shared<SequenceClassifier>(config, nl, 0.1, Pooling::kMean);
  auto batcher = std::make_shared<IndexedBatcher>(data::select(ds->examples, split.train),
                                                  o.batch_size, o.seed, config.pad_token_id);
  auto val = std::make_shared<std::vector<data::Batch>>(
      eval_batches(data::select(ds->examples, split.validation), 64, config.pad_token_id));
  auto test = std::make_shared<std::vector<data::Batch>>(
      eval_batches(data::select(ds->examples, split.test), 64, config.pad_token_id));
  TaskRun r;
  r.model = model;
  r.labels = ds->labels.labels();
  r.metric = task == "spam" ? "macro-F1" : "accuracy";
  r.step = [model, batcher](int64_t i) {
    data::Batch b = batcher->get(i);
    return StepOutput{model->loss(model->forward(b.input_ids, b.attention_mask), b.labels),
                      count_tokens(b)};
  };
  const bool f1 = task == "spam";
  r.score = [model, val, test, nl, f1](bool on_test) {
    std::vector<int64_t> pred, gold;
    for (auto& b : on_test ? *test : *val) {
      const Tensor logits = model->forward(b.input_ids, b.attention_mask).contiguous();
      const auto v = logits.to_vector<float>();
      for (int64_t i = 0; i < logits.size(0); ++i) pred.push_back(argmax_row(&v[i * nl], nl));
      for (int64_t y : b.labels.to_vector<int64_t>()) gold.push_back(y);
    }
    return 100.0 * (f1 ? macro_f1(pred, gold, nl) : accuracy(pred, gold));
  };
  return r;
}

data::NerDataset load_ner_task(const data::BpeTokenizer& tok, const std::string& dir,
                               int64_t seq_len, const std::vector<std::string>& fixed_labels) {
  data::NerOptions no;
  no.max_length = seq_len;
  if (!fixed_labels.empty()) no.labels = data::LabelVocab(fixed_labels);
  return data::load_conll_ner(data_file(dir, "en_uner_ewt_dev.conll"), tok, no);
}

TaskRun build_ner(const data::BpeTokenizer& tok, const std::string& dir, const ModelConfig& config,
                  const RunOptions& o, const std::vector<std::string>& fixed_labels) {
  auto ds = std::make_shared<data::NerDataset>(load_ner_task(tok, dir, o.seq_len, fixed_labels));
  const auto split = task_split(static_cast<int64_t>(ds->examples.size()), o);
  const int64_t nl = ds->labels.size();
  auto model = std::make_shared<TokenClassifier>(config, nl);
  auto batcher = std::make_shared<IndexedBatcher>(data::select(ds->examples, split.train),
                                                  o.batch_size, o.seed, config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.labels = ds->labels.labels();
  r.metric = "entity F1";
  // Entities are rare (most tokens are O): weight each tag by (count(O) / count(tag))^½,
  // counted on the training split, so that the model does not settle on all-O.
  std::vector<double> tag_count(static_cast<size_t>(nl), 1.0);
  for (int64_t i : split.train)
    for (int64_t y : ds->examples[i].labels)
      if (y >= 0 && y < nl) tag_count[static_cast<size_t>(y)] += 1;
  const double most = *std::max_element(tag_count.begin(), tag_count.end());
  std::vector<float> w;
  for (double c : tag_count) w.push_back(static_cast<float>(std::sqrt(most / c)));
  const Tensor class_weights = from_vector(w, {nl});
  r.step = [model, batcher, class_weights](int64_t i) {
    data::Batch b = batcher->get(i);
    return StepOutput{model->loss(model->forward(b.input_ids, b.attention_mask), b.labels,
                                  class_weights),
                      count_tokens(b)};
  };
  const int64_t pad = config.pad_token_id;
  r.score = [model, ds, split, nl, pad](bool on_test) {
    const auto& rows = on_test ? split.test : split.validation;
    std::vector<std::vector<std::string>> pred, gold;
    for (size_t i = 0; i < rows.size(); i += 64) {
      std::vector<int64_t> idx(rows.begin() + i, rows.begin() + std::min(rows.size(), i + 64));
      std::vector<const data::Example*> part;
      for (int64_t k : idx) part.push_back(&ds->examples[k]);
      data::CollateOptions co;
      co.pad_id = pad;
      const data::Batch b = data::collate(part, co);
      const Tensor logits = model->forward(b.input_ids, b.attention_mask).contiguous();
      const auto v = logits.to_vector<float>();
      const int64_t T = logits.size(1);
      for (size_t j = 0; j < idx.size(); ++j) {
        const auto& sent = ds->sentences[idx[j]];
        const auto& wid = ds->word_ids[idx[j]];
        std::vector<std::string> p(sent.words.size(), "O");
        std::vector<bool> seen(sent.words.size(), false);
        for (size_t t = 0; t < wid.size(); ++t) {
          const int64_t w = wid[t];
          if (w < 0 || seen[w]) continue;
          seen[w] = true;
          p[w] = ds->labels.label(argmax_row(&v[(j * T + t) * nl], nl));
        }
        // A predicted I-X after O/another type starts an entity (seqeval); keep it as is.
        pred.push_back(std::move(p));
        gold.push_back(sent.tags);
      }
    }
    return 100.0 * entity_f1(pred, gold).f1;
  };
  return r;
}

data::QaDataset load_qa_task(const data::BpeTokenizer& tok, const std::string& dir,
                             int64_t seq_len) {
  data::QaOptions qo;
  qo.max_length = seq_len;
  qo.stride = seq_len / 2;
  qo.max_query_length = std::min<int64_t>(32, seq_len / 3);
  return data::load_squad_jsonl(data_file(dir, "en_qa_squad_style.jsonl"), tok, qo);
}

TaskRun build_qa(const data::BpeTokenizer& tok, const std::string& dir, const ModelConfig& config,
                 const RunOptions& o) {
  auto ds = std::make_shared<data::QaDataset>(load_qa_task(tok, dir, o.seq_len));
  const auto split = task_split(static_cast<int64_t>(ds->records.size()), o);
  std::vector<int> role(ds->records.size(), -1);  // 0 train, 1 validation, 2 test
  for (int64_t i : split.train) role[i] = 0;
  for (int64_t i : split.validation) role[i] = 1;
  for (int64_t i : split.test) role[i] = 2;
  std::vector<data::Example> train;
  auto val_f = std::make_shared<std::vector<int64_t>>(), test_f = std::make_shared<std::vector<int64_t>>();
  for (size_t f = 0; f < ds->features.size(); ++f) {
    const int rr = role[ds->features[f].record];
    if (rr == 0) train.push_back(ds->examples[f]);
    if (rr == 1) val_f->push_back(static_cast<int64_t>(f));
    if (rr == 2) test_f->push_back(static_cast<int64_t>(f));
  }
  auto model = std::make_shared<QuestionAnswering>(config);
  auto batcher = std::make_shared<IndexedBatcher>(std::move(train), o.batch_size, o.seed,
                                                  config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.metric = "token F1";
  r.step = [model, batcher](int64_t i) {
    data::Batch b = batcher->get(i);
    const Tensor logits = model->forward(b.input_ids, b.attention_mask, b.token_type_ids);
    return StepOutput{QuestionAnswering::loss(logits, b.labels), count_tokens(b)};
  };
  const int64_t pad = config.pad_token_id;
  r.score = [model, ds, val_f, test_f, pad](bool on_test) {
    const auto& feats = on_test ? *test_f : *val_f;
    // Best non-empty span per record over its windows (SQuAD v1: every question has an answer).
    std::map<int64_t, std::pair<double, std::string>> best;
    for (size_t i = 0; i < feats.size(); i += 64) {
      std::vector<const data::Example*> part;
      std::vector<int64_t> fi(feats.begin() + i, feats.begin() + std::min(feats.size(), i + 64));
      for (int64_t f : fi) part.push_back(&ds->examples[f]);
      data::CollateOptions co;
      co.pad_id = pad;
      const data::Batch b = data::collate(part, co);
      const Tensor logits =
          model->forward(b.input_ids, b.attention_mask, b.token_type_ids).contiguous();
      const auto v = logits.to_vector<float>();
      const int64_t T = logits.size(1);
      for (size_t j = 0; j < fi.size(); ++j) {
        const auto& off = ds->features[fi[j]].offsets;
        const int64_t n = static_cast<int64_t>(off.size());
        double bs = -std::numeric_limits<double>::infinity();
        int64_t bst = 0, ben = 0;
        for (int64_t s = 0; s < n; ++s) {
          if (off[s].first < 0) continue;
          const double ss = v[(j * T + s) * 2];
          for (int64_t e = s; e < std::min(n, s + 30); ++e) {
            if (off[e].first < 0) continue;
            const double sc = ss + v[(j * T + e) * 2 + 1];
            if (sc > bs) bs = sc, bst = s, ben = e;
          }
        }
        const int64_t rec = ds->features[fi[j]].record;
        if (bst > 0) {
          auto it = best.find(rec);
          if (it == best.end() || bs > it->second.first)
            best[rec] = {bs, data::qa_answer_text(*ds, fi[j], bst, ben)};
        }
      }
    }
    std::set<int64_t> records;
    for (int64_t f : feats) records.insert(ds->features[f].record);
    double sum = 0;
    for (int64_t rec : records) {
      auto it = best.find(rec);
      sum += token_f1(it == best.end() ? "" : it->second.second, ds->records[rec].answer_text);
    }
    return records.empty() ? 0.0 : 100.0 * sum / static_cast<double>(records.size());
  };
  return r;
}

/// The generation task's documents: the sentiment reviews (not in the base pretraining text),
/// one review per text.
std::vector<std::string> generation_docs(const std::string& dir) {
  data::ReadTsvOptions ro;
  ro.has_header = true;
  ro.min_columns = 3;
  const auto file = data::read_tsv(data_file(dir, "ko_nsmc_raw_sentiment_train.tsv"), ro);
  const int64_t col = file.column("document");
  std::vector<std::string> docs;
  for (auto& row : file.rows) docs.push_back(row.fields[col]);
  return docs;
}

TaskRun build_generation(const data::BpeTokenizer& tok, const std::string& dir,
                         const ModelConfig& config, const RunOptions& o) {
  const std::vector<std::string> docs = generation_docs(dir);
  const auto split = task_split(static_cast<int64_t>(docs.size()), o);
  data::CausalLmOptions co;
  co.block_size = o.seq_len;
  auto train = data::causal_lm_dataset(tok, data::select(docs, split.train), co);
  auto val = std::make_shared<std::vector<data::Batch>>(eval_batches(
      data::causal_lm_dataset(tok, data::select(docs, split.validation), co), 32, 0));
  auto test = std::make_shared<std::vector<data::Batch>>(
      eval_batches(data::causal_lm_dataset(tok, data::select(docs, split.test), co), 32, 0));
  auto model = std::make_shared<DecoderModel>(config);
  auto batcher = std::make_shared<IndexedBatcher>(std::move(train), o.batch_size, o.seed,
                                                  config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.metric = "-log perplexity";
  r.step = [model, batcher](int64_t i) {
    data::Batch b = batcher->get(i);
    return StepOutput{lm_loss(model->forward(b.input_ids), b.labels), count_tokens(b)};
  };
  r.score = [model, val, test](bool on_test) {
    double nll = 0;
    int64_t n = 0;
    for (auto& b : on_test ? *test : *val) {
      const int64_t k = b.input_ids.numel();  // full blocks: every position is a target
      nll += lm_loss(model->forward(b.input_ids), b.labels).to(kFloat64).item<double>() *
             static_cast<double>(k);
      n += k;
    }
    return -nll / static_cast<double>(std::max<int64_t>(1, n));
  };
  const data::BpeTokenizer* t = &tok;
  r.sample = [model, t] {
    GenerationOptions g;
    g.max_new_tokens = 24;
    g.repetition_penalty = 1.3;  // no eos: always show 24 tokens
    const std::string prompt = "티끌 모아";
    return prompt + t->decode(generate(*model, t->encode(prompt), g), true);
  };
  return r;
}

data::ParallelDataset load_translation_task(const data::BpeTokenizer& tok, const std::string& dir,
                                            int64_t seq_len) {
  data::ParallelOptions po;
  po.source_column = 0;  // English
  po.target_column = 1;  // Korean
  po.max_source_length = seq_len;
  po.max_target_length = seq_len;
  return data::load_parallel_tsv(data_file(dir, "ko_en_tatoeba.tsv"), tok, po);
}

TaskRun build_translation(const data::BpeTokenizer& tok, const std::string& dir,
                          const ModelConfig& config, const RunOptions& o) {
  auto ds = std::make_shared<data::ParallelDataset>(load_translation_task(tok, dir, o.seq_len));
  const auto split = task_split(static_cast<int64_t>(ds->examples.size()), o);
  auto model = std::make_shared<EncoderDecoderModel>(config);
  auto batcher = std::make_shared<IndexedBatcher>(data::select(ds->examples, split.train),
                                                  o.batch_size, o.seed, config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.metric = "chrF";
  const double smoothing = o.label_smoothing;
  r.step = [model, batcher, smoothing](int64_t i) {
    data::Batch b = batcher->get(i);
    const Tensor logits =
        model->forward(b.input_ids, b.attention_mask, b.decoder_input_ids, b.decoder_attention_mask);
    // (B, T, V) -> (B*T, V) against (B*T) targets, padding ignored (-100)
    const Tensor loss = cross_entropy(reshape(logits, {-1, logits.size(2)}),
                                      reshape(b.labels, {-1}), {.label_smoothing = smoothing});
    return StepOutput{loss, count_tokens(b)};
  };
  const data::BpeTokenizer* t = &tok;
  const int64_t max_new = o.seq_len;
  r.score = [model, ds, split, t, max_new](bool on_test) {
    const auto& rows = on_test ? split.test : split.validation;
    std::vector<std::string> hyp, ref;
    GenerationOptions g;
    g.max_new_tokens = std::min<int64_t>(max_new, 40);
    g.eos_token_id = t->token_to_id("[EOS]");
    const int64_t bos = t->token_to_id("[BOS]");
    for (int64_t i : rows) {
      hyp.push_back(t->decode(generate(*model, ds->examples[i].input_ids, bos, g), true));
      ref.push_back(ds->pairs[i].second);
    }
    return corpus_chrf(hyp, ref);
  };
  r.sample = [model, t] {
    GenerationOptions g;
    g.max_new_tokens = 30;
    g.eos_token_id = t->token_to_id("[EOS]");
    auto src = t->encode("I love you.");
    src.push_back(t->token_to_id("[EOS]"));
    return "I love you. -> " +
           t->decode(generate(*model, src, t->token_to_id("[BOS]"), g), true);
  };
  return r;
}

TaskRun build_task(const std::string& task, const data::BpeTokenizer& tok, const std::string& dir,
                   const ModelConfig& config, const RunOptions& o,
                   const std::vector<std::string>& labels) {
  TS_CHECK(config.vocab_size == tok.vocab_size(),
           "finetune: config vocab_size {} != tokenizer vocab {} (a tokenizer that does not "
           "match the model)",
           config.vocab_size, tok.vocab_size());
  TS_CHECK(o.seq_len <= config.max_position, "finetune: seq_len {} exceeds max_position {}",
           o.seq_len, config.max_position);
  if (task == "spam" || task == "sentiment")
    return build_classification(task, tok, dir, config, o, labels);
  if (task == "ner") return build_ner(tok, dir, config, o, labels);
  if (task == "qa") return build_qa(tok, dir, config, o);
  if (task == "generation") return build_generation(tok, dir, config, o);
  if (task == "translation") return build_translation(tok, dir, config, o);
  task_model_kind(task);  // throws naming the task
  fail("finetune: unknown task '{}'", task);
}

}  // namespace

std::vector<std::string> task_train_texts(const std::string& task, const data::BpeTokenizer& tok,
                                          const std::string& data_dir) {
  task_model_kind(task);  // throws naming an unknown task
  const RunOptions all;   // no max_train: the whole training split, as finetune() draws from it
  const int64_t kLen = 512;  // loaders truncate encodings only; the texts are kept whole
  std::vector<std::string> out;
  auto take = [&](int64_t n, const auto& text_of) {
    for (int64_t i : task_split(n, all).train) text_of(i);
  };
  if (task == "spam" || task == "sentiment") {
    const auto ds = load_classification_task(task, tok, data_dir, kLen, {});
    take(static_cast<int64_t>(ds.examples.size()), [&](int64_t i) { out.push_back(ds.texts[i]); });
  } else if (task == "ner") {
    const auto ds = load_ner_task(tok, data_dir, kLen, {});
    take(static_cast<int64_t>(ds.examples.size()), [&](int64_t i) {
      std::string s;
      for (auto& w : ds.sentences[i].words) s += (s.empty() ? "" : " ") + w;
      out.push_back(std::move(s));
    });
  } else if (task == "qa") {
    const auto ds = load_qa_task(tok, data_dir, 128);
    std::set<std::string> contexts;  // several questions share a context: keep it once
    take(static_cast<int64_t>(ds.records.size()), [&](int64_t i) {
      const auto& r = ds.records[i];
      if (contexts.insert(r.context).second) out.push_back(r.context);
      out.push_back(r.question);
    });
  } else if (task == "generation") {
    const auto docs = generation_docs(data_dir);
    take(static_cast<int64_t>(docs.size()), [&](int64_t i) { out.push_back(docs[i]); });
  } else {  // translation: the English sentences of the training pairs, then their Korean
            // sentences — monolingual text: a pretraining stream never puts a sentence next to
            // its translation, so which sentence translates which is never shown
    const auto ds = load_translation_task(tok, data_dir, kLen);
    const int64_t n = static_cast<int64_t>(ds.examples.size());
    take(n, [&](int64_t i) { out.push_back(ds.pairs[i].first); });
    take(n, [&](int64_t i) { out.push_back(ds.pairs[i].second); });
  }
  return out;
}

TaskScore finetune(const std::string& task, const data::BpeTokenizer& tok,
                   const std::string& data_dir, const ModelConfig& config,
                   const std::string& init_weights, const RunOptions& o) {
  const auto t0 = Clock::now();
  const std::string kind = task_model_kind(task);
  manual_seed(o.seed);
  TaskRun run = build_task(task, tok, data_dir, config, o, {});
  load_init(*run.model, init_weights, kind, config, tok, o.verbose);
  TS_CHECK(o.body_lr_scale > 0, "finetune: body_lr_scale must be > 0, got {}", o.body_lr_scale);
  std::vector<std::pair<std::string, double>> lr_scale;
  if (!init_weights.empty() && o.body_lr_scale != 1.0) lr_scale.push_back({"body.", o.body_lr_scale});
  Trainer trainer(*run.model, trainer_options(o, true), lr_scale);
  TaskScore s;
  s.task = task;
  s.metric = run.metric;
  s.train = trainer.fit(run.step, [&] { return run.score(false); });
  s.validation = s.train.best_eval;
  {
    NoGradGuard ng;
    run.model->eval();
    s.score = run.score(true);
    if (run.sample) s.sample = run.sample();
  }
  if (!o.out_dir.empty() && !s.train.interrupted) {
    s.weights_path = weights_file(o);
    save(*run.model, s.weights_path);
    ModelMeta m;
    m.kind = kind;
    m.task = task;
    m.config = config;
    m.tokenizer_fingerprint = tokenizer_fingerprint(tok);
    m.labels = run.labels;
    write_meta(s.weights_path, m);
  }
  s.seconds = since(t0);
  return s;
}

TaskScore evaluate_task(const std::string& weights, const data::BpeTokenizer& tok,
                        const std::string& data_dir, const RunOptions& o) {
  const auto t0 = Clock::now();
  const ModelMeta m = read_model_meta(weights);
  TS_CHECK(!m.task.empty(), "evaluate: '{}' is a pretrained {} model, not a fine-tuned task model",
           weights, m.kind);
  check_meta(m, weights, task_model_kind(m.task), nullptr, tok, "evaluate");
  TaskRun run = build_task(m.task, tok, data_dir, m.config, o, m.labels);
  load(*run.model, weights);
  NoGradGuard ng;
  run.model->eval();
  TaskScore s;
  s.task = m.task;
  s.metric = run.metric;
  s.score = run.score(true);
  if (run.sample) s.sample = run.sample();
  s.seconds = since(t0);
  return s;
}

std::string generate_text(const std::string& weights, const data::BpeTokenizer& tok,
                          const std::string& prompt, int64_t max_new_tokens, bool sample,
                          uint64_t seed) {
  const ModelMeta m = read_model_meta(weights);
  TS_CHECK(m.kind == "decoder" || m.kind == "encdec",
           "generate: '{}' holds a {} model ({}); generation needs a decoder or encoder-decoder",
           weights, m.kind, m.task.empty() ? "pretrained" : m.task);
  check_meta(m, weights, m.kind, nullptr, tok, "generate");
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
