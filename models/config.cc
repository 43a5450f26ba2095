// ModelConfig presets and validation.
#include "taesan/models/config.h"

namespace taesan::models {

ModelConfig ModelConfig::preset(const std::string& name, int64_t vocab_size) {
  ModelConfig c;
  c.vocab_size = vocab_size;
  if (name == "tiny") {
    c.d_model = 128, c.num_heads = 4, c.num_layers = 4, c.d_ff = 512, c.max_position = 128;
  } else if (name == "small") {
    c.d_model = 384, c.num_heads = 6, c.num_layers = 6, c.d_ff = 1536, c.max_position = 256;
  } else if (name == "base") {
    c.d_model = 768, c.num_heads = 12, c.num_layers = 12, c.d_ff = 3072, c.max_position = 512;
  } else {
    fail("ModelConfig::preset: unknown preset \"{}\" (expected tiny, small or base)", name);
  }
  c.validate("ModelConfig::preset");
  return c;
}

void ModelConfig::validate(const char* who) const {
  TS_CHECK(vocab_size > 0, "{}: vocab_size must be positive, got {}", who, vocab_size);
  TS_CHECK(max_position > 0, "{}: max_position must be positive, got {}", who, max_position);
  TS_CHECK(d_model > 0 && num_heads > 0 && d_model % num_heads == 0,
           "{}: d_model {} must be a positive multiple of num_heads {}", who, d_model, num_heads);
  TS_CHECK(num_layers > 0 && num_decoder_layers >= 0, "{}: layer counts must be positive, got {} / {}",
           who, num_layers, num_decoder_layers);
  TS_CHECK(d_ff > 0, "{}: d_ff must be positive, got {}", who, d_ff);
  TS_CHECK(dropout >= 0 && dropout < 1, "{}: dropout must be in [0, 1), got {}", who, dropout);
  TS_CHECK(activation == "gelu" || activation == "gelu_tanh" || activation == "relu",
           "{}: activation must be gelu, gelu_tanh or relu, got \"{}\"", who, activation);
  TS_CHECK(pad_token_id >= 0 && pad_token_id < vocab_size,
           "{}: pad_token_id {} outside the vocabulary of {}", who, pad_token_id, vocab_size);
  TS_CHECK(type_vocab_size > 0, "{}: type_vocab_size must be positive, got {}", who, type_vocab_size);
}

std::string ModelConfig::to_string() const {
  return fmt::format("d_model={} heads={} layers={}{} d_ff={} vocab={} context={} dropout={}", d_model,
                     num_heads, num_layers,
                     num_decoder_layers > 0 ? fmt::format("+{}", num_decoder_layers) : std::string(),
                     d_ff, vocab_size, max_position, dropout);
}

}  // namespace taesan::models
