// Named-entity recognition from CoNLL-style files ("token<TAB>tag", blank line between
// sentences): BIO tags validated, words encoded one by one so each sub-word token knows its word;
// the word's tag goes on its first token, the other tokens (and [CLS]/[SEP]) get -100.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/example.h"
#include "taesan/data/label_vocab.h"
#include "taesan/data/text_io.h"

namespace taesan::data {

/// One sentence: words, their tags, and the file line of each word.
struct NerSentence {
  std::vector<std::string> words;
  std::vector<std::string> tags;
  std::vector<int64_t> lines;
};

/// Reads a CoNLL file: the first field is the word, the last the tag (at least 2 tab-separated
/// fields); a line without a tab that starts with '#' is a comment. Checks BIO: tags are "O",
/// "B-X" or "I-X", and an "I-X" must follow "B-X" or "I-X". Errors name the file and the line.
std::vector<NerSentence> read_conll(const std::string& path);

/// Options of load_conll_ner.
struct NerOptions {
  int64_t max_length = 128;  ///< tokens per example, [CLS]/[SEP] included; longer: truncated
  /// Fixed tag list: a tag outside it is an error naming file and line. Without: "O" then the
  /// file's tags sorted.
  std::optional<LabelVocab> labels = std::nullopt;
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  ProgressFn progress = {};
};

/// NER examples (kPerToken) with the sentence and word of every token.
struct NerDataset {
  std::vector<Example> examples;
  std::vector<NerSentence> sentences;
  /// Per example and token: the index of the word it belongs to, -1 for [CLS]/[SEP].
  std::vector<std::vector<int64_t>> word_ids;
  LabelVocab labels;
  int64_t truncated = 0;  ///< sentences cut at max_length
};

/// Reads, validates and encodes a CoNLL NER file (words joined by single spaces, as GPT-2 would
/// see the sentence).
NerDataset load_conll_ner(const std::string& path, const BpeTokenizer& tokenizer,
                          const NerOptions& options = {});
/// Encodes sentences held in memory as load_conll_ner encodes a file's (`path` names their
/// source in error messages). Every sentence needs as many tags and line numbers as words.
NerDataset encode_ner_sentences(std::vector<NerSentence> sentences, const BpeTokenizer& tokenizer,
                                const NerOptions& options = {},
                                const std::string& path = "<memory>");

}  // namespace taesan::data
