// Model sidecars: read, write (atomically), tokenizer fingerprints and checks (model_meta.h).
#include "taesan/app/model_meta.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "taesan/core/error.h"
#include "taesan/train/trainer.h"

namespace taesan::models {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
json config_to_json(const ModelConfig& c) {
  return json{{"vocab_size", c.vocab_size},
              {"max_position", c.max_position},
              {"d_model", c.d_model},
              {"num_heads", c.num_heads},
              {"num_layers", c.num_layers},
              {"num_decoder_layers", c.num_decoder_layers},
              {"d_ff", c.d_ff},
              {"dropout", c.dropout},
              {"activation", c.activation},
              {"type_vocab_size", c.type_vocab_size},
              {"pad_token_id", c.pad_token_id},
              {"layer_norm_eps", c.layer_norm_eps}};
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
  // absent from sidecars written before they were recorded: those models had the defaults
  c.type_vocab_size = j.value("type_vocab_size", ModelConfig{}.type_vocab_size);
  c.layer_norm_eps = j.value("layer_norm_eps", ModelConfig{}.layer_norm_eps);
  return c;
}
}  // namespace

ModelConfig with_dropout(ModelConfig config, double dropout) {
  if (dropout >= 0) {
    TS_CHECK(dropout < 1, "with_dropout: dropout must be in [0, 1), got {}", dropout);
    config.dropout = dropout;
  }
  return config;
}

std::string model_meta_path(const std::string& weights) {
  fs::path p(weights);
  p.replace_extension(".json");
  return p.string();
}

void write_model_meta(const std::string& weights, const ModelMeta& m) {
  json j{{"kind", m.kind},
         {"task", m.task},
         {"config", config_to_json(m.config)},
         {"tokenizer_fingerprint", m.tokenizer_fingerprint},
         {"tokenizer_file", m.tokenizer_file},
         {"labels", m.labels},
         {"seq_len", m.seq_len},
         {"word_pooling", m.word_pooling},
         {"qa_marks_question_words", m.qa_marks_question_words}};
  write_file_atomic(model_meta_path(weights), j.dump(2) + "\n");
}

ModelMeta read_model_meta(const std::string& weights_path) {
  const std::string p = model_meta_path(weights_path);
  TS_CHECK(fs::exists(weights_path), "read_model_meta: weights file '{}' does not exist",
           weights_path);
  TS_CHECK(fs::exists(p),
           "read_model_meta: '{}' has no sidecar '{}' (written by taesan pretrain / finetune)",
           weights_path, p);
  std::ifstream in(p);
  try {
    json j = json::parse(in);
    ModelMeta m;
    m.kind = j.at("kind");
    m.task = j.at("task");
    m.config = config_from_json(j.at("config"));
    m.tokenizer_fingerprint = j.at("tokenizer_fingerprint");
    m.labels = j.at("labels").get<std::vector<std::string>>();
    m.tokenizer_file = j.value("tokenizer_file", std::string());
    m.seq_len = j.value("seq_len", int64_t{0});
    m.word_pooling = j.value("word_pooling", std::string("first"));
    m.qa_marks_question_words = j.value("qa_marks_question_words", false);
    TS_CHECK(m.word_pooling == "first" || m.word_pooling == "mean",
             "read_model_meta: '{}': word_pooling must be 'first' or 'mean', got '{}'", p,
             m.word_pooling);
    return m;
  } catch (const json::exception& e) {
    fail("read_model_meta: '{}' is not a valid model sidecar: {}", p, e.what());
  }
}

std::string model_tokenizer_path(const std::string& weights_path, const ModelMeta& meta) {
  const fs::path dir = fs::absolute(weights_path).parent_path();
  if (meta.tokenizer_file.empty()) return (dir / "tokenizer.json").string();
  const fs::path t(meta.tokenizer_file);
  return (t.is_absolute() ? t : dir / t).lexically_normal().string();
}

std::string tokenizer_fingerprint(const data::BpeTokenizer& tok) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the tokenizer.json text
  for (unsigned char c : tok.to_json()) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

void check_model_meta(const ModelMeta& m, const std::string& weights, const std::string& kind,
                      const ModelConfig* config, const data::BpeTokenizer& tok, const char* who) {
  TS_CHECK(m.kind == kind, "{}: '{}' holds a {} model, but this needs a {} model", who, weights,
           m.kind, kind);
  TS_CHECK(m.tokenizer_fingerprint == tokenizer_fingerprint(tok),
           "{}: '{}' was trained with another tokenizer (fingerprint {} != {} of the given "
           "tokenizer, vocab {}); pass the tokenizer.json saved with it",
           who, weights, m.tokenizer_fingerprint, tokenizer_fingerprint(tok), tok.vocab_size());
  if (config)
    TS_CHECK(config_to_json(with_dropout(m.config, 0)) == config_to_json(with_dropout(*config, 0)),
             "{}: '{}' has config [{}], but the model to build has [{}]", who, weights,
             m.config.to_string(), config->to_string());
}

}  // namespace taesan::models
