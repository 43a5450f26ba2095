// load_classification_tsv: TSV rows -> label ids + "[CLS] text [SEP]" examples.
#include "taesan/data/classification.h"

#include <algorithm>
#include <limits>

#include "taesan/core/error.h"

namespace taesan::data {

ClassificationDataset load_classification_tsv(const std::string& path,
                                              const BpeTokenizer& tokenizer,
                                              const ClassificationOptions& options) {
  TS_CHECK(options.max_length >= 3, "load_classification_tsv: max_length {} leaves no room",
           options.max_length);
  TsvFile file = read_tsv(path, {.min_columns = std::max<int64_t>(1, options.expected_columns),
                                 .max_columns = options.expected_columns,
                                 .has_header = options.has_header,
                                 .progress = options.progress});
  const int64_t label_col = options.label_column.resolve(file);
  const int64_t text_col = options.text_column.resolve(file);
  // Columns the rows must have (saturated: a column index of INT64_MAX must not wrap around).
  const int64_t last_col = std::max(label_col, text_col);
  const int64_t needed = last_col < std::numeric_limits<int64_t>::max() ? last_col + 1 : last_col;
  ClassificationDataset ds;
  std::vector<std::string> raw_labels;
  for (const TsvRow& row : file.rows) {
    TS_CHECK(static_cast<int64_t>(row.fields.size()) >= needed,
             "load_classification_tsv: '{}' line {}: {} column(s), but the label column {} and "
             "text column {} need {}",
             path, row.line, row.fields.size(), options.label_column.describe(),
             options.text_column.describe(), needed);
    raw_labels.push_back(row.fields[label_col]);
    ds.texts.push_back(row.fields[text_col]);
    ds.lines.push_back(row.line);
  }
  if (options.labels.has_value()) {
    ds.labels = *options.labels;
  } else {
    std::vector<std::string> sorted = raw_labels;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    ds.labels = LabelVocab(sorted);
  }
  const int64_t cls = tokenizer.token_to_id(options.cls_token);
  const int64_t sep = tokenizer.token_to_id(options.sep_token);
  std::vector<std::vector<int64_t>> encoded = tokenizer.encode_batch(ds.texts);
  ds.examples.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    auto label = ds.labels.find(raw_labels[i]);
    TS_CHECK(label.has_value(),
             "load_classification_tsv: '{}' line {}: unknown label '{}' (known: '{}')", path,
             ds.lines[i], raw_labels[i], fmt::join(ds.labels.labels(), "', '"));
    Example e;
    const size_t keep = std::min(encoded[i].size(), static_cast<size_t>(options.max_length - 2));
    e.input_ids.reserve(keep + 2);
    e.input_ids.push_back(cls);
    e.input_ids.insert(e.input_ids.end(), encoded[i].begin(), encoded[i].begin() + keep);
    e.input_ids.push_back(sep);
    e.labels = {*label};
    e.label_kind = LabelKind::kPerSequence;
    ds.examples.push_back(std::move(e));
  }
  return ds;
}

}  // namespace taesan::data
