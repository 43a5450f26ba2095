// Text classification from a TSV file: label and text columns by index or header name, labels
// mapped to ids through a LabelVocab, each text encoded as "[CLS] text [SEP]".
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

/// Options of load_classification_tsv.
struct ClassificationOptions {
  Column label_column = 0;
  Column text_column = 1;
  bool has_header = false;
  int64_t max_length = 128;  ///< tokens per example, [CLS] and [SEP] included (longer: truncated)
  /// Fixed labels (e.g. loaded with the model): a label outside them is an error naming file and
  /// line. Without: the labels found in the file, sorted.
  std::optional<LabelVocab> labels = std::nullopt;
  int64_t expected_columns = -1;  ///< when >= 0, every row must have exactly this many fields
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  ProgressFn progress = {};
};

/// A classification dataset: examples (kPerSequence, one label) and their sources.
struct ClassificationDataset {
  std::vector<Example> examples;
  std::vector<std::string> texts;  ///< the raw text of each example
  std::vector<int64_t> lines;      ///< the file line of each example
  LabelVocab labels;
};

/// Reads and encodes a classification TSV. Errors (ts::Error, naming file and line): missing or
/// empty file, too few columns, invalid UTF-8, unknown column name, unknown label.
ClassificationDataset load_classification_tsv(const std::string& path,
                                              const BpeTokenizer& tokenizer,
                                              const ClassificationOptions& options = {});

}  // namespace taesan::data
