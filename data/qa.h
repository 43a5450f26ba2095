// Extractive question answering from SQuAD-style JSONL (context, question, answer_start as a
// character offset, answer_text): "[CLS] question [SEP] context [SEP]" with the answer's span
// mapped to token positions; long contexts become overlapping windows, and a window that does not
// contain the whole answer is labelled no-answer (start = end = 0, the [CLS] position).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/example.h"
#include "taesan/data/text_io.h"

namespace taesan::data {

/// One question of the file.
struct QaRecord {
  std::string id;
  std::string context;
  std::string question;
  std::string answer_text;
  int64_t answer_start_char = 0;  ///< as in the file: code points into the context
  int64_t answer_start_byte = 0;  ///< the same position in bytes of the UTF-8 context
  /// Every gold answer text (the first is answer_text; SQuAD scores the best match).
  std::vector<std::string> answers;
  int64_t line = 0;
};

/// Reads a SQuAD-style JSONL file, checking that each answer_text is found at answer_start.
/// Errors (naming file and line): missing/empty file, bad JSON, missing field, answer mismatch.
std::vector<QaRecord> read_squad_jsonl(const std::string& path, const ProgressFn& progress = {});

/// Options of load_squad_jsonl.
struct QaOptions {
  int64_t max_length = 384;       ///< tokens per window, specials included
  int64_t stride = 128;           ///< context tokens shared by consecutive windows
  int64_t max_query_length = 64;  ///< question tokens kept
  /// Token type 2 (instead of 1) for the context tokens whose word also appears in the question
  /// (compared in lower case without surrounding punctuation): the exact-match feature of DrQA
  /// (Chen et al., 2017), which lets a small model trained on few questions find where the
  /// question's words are. The model needs type_vocab_size >= 3.
  bool mark_question_words = false;
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  ProgressFn progress = {};
};

/// Where a window's tokens come from, to turn predicted positions back into answer text.
struct QaFeature {
  int64_t record = 0;  ///< index into QaDataset::records
  /// Byte span in the record's context of each input token; (-1, -1) for question and specials.
  /// Spans lie on character boundaries: a token that starts or ends inside a multi-byte UTF-8
  /// character gets the whole character (the tokens of one character share its span).
  std::vector<std::pair<int64_t, int64_t>> offsets;
};

/// QA windows: examples (kPerSequence labels {start, end}, token types 0 for the question part
/// and 1 for the context part, 2 for context words of the question with mark_question_words)
/// with one feature each.
struct QaDataset {
  std::vector<QaRecord> records;
  std::vector<Example> examples;
  std::vector<QaFeature> features;
};

/// Reads and encodes a SQuAD-style JSONL file into windows.
QaDataset load_squad_jsonl(const std::string& path, const BpeTokenizer& tokenizer,
                           const QaOptions& options = {});
/// Encodes records held in memory into windows, as load_squad_jsonl does a file's. A record
/// without an answer (empty answer_text) gets the labels {0, 0} in every window (prediction).
QaDataset encode_qa_records(std::vector<QaRecord> records, const BpeTokenizer& tokenizer,
                            const QaOptions& options = {});

/// The words of `text` for matching: split on white space, without the ASCII punctuation around
/// them, in lower case (data::lowercase); `word_of_byte` (when given) gets, for every byte of
/// `text`, the index of its word or -1 (space, punctuation around a word).
std::vector<std::string> match_words(const std::string& text,
                                     std::vector<int64_t>* word_of_byte = nullptr);

/// The answer text of positions [start, end] of feature `f` (empty for start == 0 or invalid):
/// context bytes from token start's span begin to token end's span end, widened to whole
/// characters, so always valid UTF-8 for a valid UTF-8 context.
std::string qa_answer_text(const QaDataset& dataset, int64_t feature, int64_t start, int64_t end);

}  // namespace taesan::data
