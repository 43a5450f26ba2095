// Shared helpers of the data tests: the dataset pack's location, temporary files, and tokenizers
// trained once per test program (a tiny one from built-in text, a small one from the pack).
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "taesan/data/data.h"

namespace taesan::data::testing {

/// The dataset pack directory (TS_DATA_DIR).
inline std::string data_dir() { return TS_DATA_DIR; }
inline std::string data_file(const std::string& name) { return data_dir() + "/" + name; }

/// True when the pack exists; otherwise WARNs so the skip is visible in the output.
inline bool have_pack() {
  if (std::filesystem::exists(data_file("README.md"))) return true;
  WARN("dataset pack not found at " << data_dir() << ": skipping");
  return false;
}

/// Writes `content` to a fresh file in the temp directory; returns its path.
inline std::string temp_file(const std::string& name, const std::string& content) {
  auto dir = std::filesystem::temp_directory_path() / "taesan_data_test";
  std::filesystem::create_directories(dir);
  std::string path = (dir / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

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
inline const BpeTokenizer& tiny_tokenizer() {
  static const BpeTokenizer tok = BpeTokenizer::train(
      tiny_corpus(),
      {.vocab_size = 400, .min_frequency = 2, .special_tokens = kDefaultSpecialTokens});
  return tok;
}

/// The pack's pretraining text, every line.
inline std::vector<std::string> pack_pretraining_lines() {
  std::vector<std::string> texts;
  for (const char* f : {"en_tinyshakespeare.txt", "en_state_union.txt", "ko_klue_dev_sentences.txt",
                        "ko_nsmc_neutral_reviews.txt"}) {
    for (auto& l : read_lines(data_file(f))) texts.push_back(std::move(l));
  }
  return texts;
}

/// Tokenizer trained on the pack's pretraining text (vocab 2000, specials + T5 sentinels);
/// requires the pack.
inline const BpeTokenizer& pack_tokenizer() {
  static const BpeTokenizer tok = [] {
    std::vector<std::string> specials = kDefaultSpecialTokens;
    for (auto& s : sentinel_tokens(20)) specials.push_back(s);
    return BpeTokenizer::train(
        pack_pretraining_lines(),
        {.vocab_size = 2000, .min_frequency = 2, .special_tokens = specials});
  }();
  return tok;
}

/// Runs `fn` and returns the ts::Error message it throws ("" when it does not throw).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const taesan::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace taesan::data::testing
