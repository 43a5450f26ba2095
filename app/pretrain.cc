// Pretraining: the pack's text, the demo's tokenizer and model sizes, the pretraining run of
// each objective (masked LM, replaced-token detection, causal LM, span corruption), and the
// warm start of an encoder-decoder from a causal LM.
#include "taesan/app/pretrain.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "taesan/app/model_meta.h"
#include "taesan/app/task_data.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/core/error.h"
#include "taesan/core/random.h"
#include "taesan/data/data.h"
#include "taesan/models/electra.h"
#include "taesan/models/heads.h"
#include "taesan/models/transformer_models.h"
#include "taesan/nn/safetensors.h"
#include "taesan/nn/serialize.h"
#include "taesan/ops/ops.h"
#include "taesan/train/batching.h"

namespace taesan::models {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Takes at most `n` of `v` (n <= 0: all).
template <typename T>
void truncate(std::vector<T>& v, int64_t n) {
  if (n > 0 && static_cast<int64_t>(v.size()) > n) v.resize(static_cast<size_t>(n));
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
    bias[static_cast<size_t>(v)] =
        static_cast<float>(std::log(count[static_cast<size_t>(v)] / total));
  NoGradGuard no_grad;
  m.output_bias.copy_(from_vector(bias, {V}));
}

}  // namespace

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
  TS_CHECK(!matched.empty(),
           "warm_start_encdec_from_decoder: no tensor of '{}' fits an "
           "encoder-decoder (is it a causal-LM checkpoint?)",
           path);
  model.load_state_dict(matched, /*strict=*/false);
  return report;
}

std::vector<std::string> pretraining_texts(const std::string& data_dir,
                                           int64_t max_lines_per_file) {
  std::vector<std::string> texts;
  for (const char* f : {"en_tinyshakespeare.txt", "en_state_union.txt", "ko_klue_dev_sentences.txt",
                        "ko_nsmc_neutral_reviews.txt"}) {
    data::ReadLinesOptions ro;
    ro.skip_empty = true;
    auto lines = data::read_lines(pack_file(data_dir, f), ro);
    if (std::string(f) == "en_tinyshakespeare.txt") {
      // Short verse lines: join 4 at a time so segments carry some context.
      std::vector<std::string> joined;
      for (size_t i = 0; i < lines.size(); i += 4) {
        std::string s;
        for (size_t j = i; j < std::min(lines.size(), i + 4); ++j)
          s += (j > i ? " " : "") + lines[j];
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
  c.type_vocab_size = 3;  // QA: question, context, context word of the question
  c.pad_token_id = 0;
  return c;
}

PretrainResult pretrain(const std::string& objective, const data::BpeTokenizer& tok,
                        const std::vector<std::string>& texts, const ModelConfig& config_in,
                        const RunOptions& o) {
  const auto t0 = Clock::now();
  const ModelConfig config = with_dropout(config_in, o.dropout);
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
  for (size_t i = 0; i < texts.size(); ++i)
    (i % 20 == 19 ? val_texts : train_texts).push_back(texts[i]);

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
    for (size_t i = 0; i < val_ex.size(); ++i)
      val_ex[i] = data::mask_tokens(val_ex[i], mo, seed + 1, i);
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
  StepBatcher batcher(std::move(train_ex), o.batch_size, o.seed, pad);
  if (transform) batcher.batcher().set_transform(transform);
  const auto val_batches = eval_batches(val_ex, 32, pad);

  std::shared_ptr<nn::Module> model;
  // loss of a batch; `stream` fixes the random draws inside the loss (rtd's samples)
  std::function<Tensor(const data::Batch&, uint64_t stream)> loss_of;
  if (objective == "mlm") {
    auto m = std::make_shared<MaskedLanguageModel>(config);
    init_unigram_bias(*m, batcher.batcher().examples());
    loss_of = [m](const data::Batch& b, uint64_t) {
      return m->loss(b.input_ids, b.labels, b.attention_mask);  // vocab projection at masks only
    };
    model = m;
  } else if (objective == "rtd") {
    auto m = std::make_shared<ReplacedTokenDetection>(config);
    init_unigram_bias(*m->generator, batcher.batcher().examples());
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
      return lm_loss(
          m->forward(b.input_ids, b.attention_mask, b.decoder_input_ids, b.decoder_attention_mask),
          b.labels);
    };
    model = m;
  }
  if (!o.init.empty()) {  // continued pretraining: the whole model, same class and config
    const ModelMeta m = read_model_meta(o.init);
    TS_CHECK(m.task.empty(), "pretrain: '{}' is a fine-tuned '{}' model, not a pretrained one",
             o.init, m.task);
    check_model_meta(m, o.init, kind, &config, tok, "pretrain");
    load(*model, o.init);
  }
  const int64_t eval_every = o.eval_every >= 0 ? o.eval_every : std::max<int64_t>(1, o.steps / 5);
  Trainer trainer(*model, trainer_options(o, false, eval_every));
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
    write_model_meta(r.weights_path, m);
  }
  r.seconds = since(t0);
  return r;
}

}  // namespace taesan::models
