// Tokenizers the data tests share, trained once per test program: a tiny one from built-in
// English + Korean text, and a small one from the dataset pack's pretraining text.
#pragma once

#include <string>
#include <vector>

#include "common/test_util.h"
#include "taesan/data/data.h"

namespace taesan::test {

/// A small English + Korean corpus built into the tests (no pack needed).
inline std::vector<std::string> tiny_corpus() {
  std::vector<std::string> texts;
  const char* lines[] = {
      "The quick brown fox jumps over the lazy dog.",
      "Specks of dust gathered make a mountain.",
      "티끌 모아 태산",
      "가는 말이 고와야 오는 말이 곱다.",
      "낮말은 새가 듣고 밤말은 쥐가 듣는다.",
      "Where can I get morcillas in tampa bay?",
      "It's the 2nd time we've met; don't worry, they'll come.",
      "Numbers: 3.14159, 2718, and 42!",
  };
  for (int r = 0; r < 20; ++r) {
    for (const char* l : lines) texts.emplace_back(l);
  }
  return texts;
}

/// Tokenizer trained on tiny_corpus() with the default special tokens (vocab 400).
inline const data::BpeTokenizer& tiny_tokenizer() {
  static const data::BpeTokenizer tok = data::BpeTokenizer::train(
      tiny_corpus(),
      {.vocab_size = 400, .min_frequency = 2, .special_tokens = data::kDefaultSpecialTokens});
  return tok;
}

/// The pack's pretraining text, every line.
inline std::vector<std::string> pack_pretraining_lines() {
  std::vector<std::string> texts;
  for (const char* f : {"en_tinyshakespeare.txt", "en_state_union.txt", "ko_klue_dev_sentences.txt",
                        "ko_nsmc_neutral_reviews.txt"}) {
    for (auto& l : data::read_lines(data_file(f))) texts.push_back(std::move(l));
  }
  return texts;
}

/// Tokenizer trained on the pack's pretraining text (vocab 2000, specials + T5 sentinels);
/// requires the pack.
inline const data::BpeTokenizer& pack_tokenizer() {
  static const data::BpeTokenizer tok = [] {
    std::vector<std::string> specials = data::kDefaultSpecialTokens;
    for (auto& s : data::sentinel_tokens(20)) specials.push_back(s);
    return data::BpeTokenizer::train(
        pack_pretraining_lines(),
        {.vocab_size = 2000, .min_frequency = 2, .special_tokens = specials});
  }();
  return tok;
}

}  // namespace taesan::test
