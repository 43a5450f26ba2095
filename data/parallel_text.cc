// load_parallel_tsv: TSV pairs -> encoder inputs, decoder inputs and shifted target labels.
#include "taesan/data/parallel_text.h"

#include <algorithm>
#include <limits>

#include "taesan/core/error.h"

namespace taesan::data {

ParallelDataset load_parallel_tsv(const std::string& path, const BpeTokenizer& tokenizer,
                                  const ParallelOptions& options) {
  TS_CHECK(options.max_source_length >= 2 && options.max_target_length >= 2,
           "load_parallel_tsv: max_source_length {} and max_target_length {} must be >= 2",
           options.max_source_length, options.max_target_length);
  TsvFile file = read_tsv(
      path, {.min_columns = 2, .has_header = options.has_header, .progress = options.progress});
  int64_t src_col = options.source_column.resolve(file);
  int64_t tgt_col = options.target_column.resolve(file);
  if (options.reverse) std::swap(src_col, tgt_col);
  // Columns the rows must have (saturated: a column index of INT64_MAX must not wrap around).
  const int64_t last_col = std::max(src_col, tgt_col);
  const int64_t needed = last_col < std::numeric_limits<int64_t>::max() ? last_col + 1 : last_col;
  const int64_t bos = tokenizer.token_to_id(options.bos_token);
  const int64_t eos = tokenizer.token_to_id(options.eos_token);
  ParallelDataset ds;
  std::vector<std::string> sources, targets;
  for (const TsvRow& row : file.rows) {
    TS_CHECK(static_cast<int64_t>(row.fields.size()) >= needed,
             "load_parallel_tsv: '{}' line {}: {} column(s), but columns {} and {} need {}", path,
             row.line, row.fields.size(), options.source_column.describe(),
             options.target_column.describe(), needed);
    TS_CHECK(!row.fields[src_col].empty() && !row.fields[tgt_col].empty(),
             "load_parallel_tsv: '{}' line {}: empty {} text", path, row.line,
             row.fields[src_col].empty() ? "source" : "target");
    sources.push_back(row.fields[src_col]);
    targets.push_back(row.fields[tgt_col]);
    ds.pairs.emplace_back(row.fields[src_col], row.fields[tgt_col]);
    ds.lines.push_back(row.line);
  }
  std::vector<std::vector<int64_t>> src = tokenizer.encode_batch(sources);
  std::vector<std::vector<int64_t>> tgt = tokenizer.encode_batch(targets);
  for (size_t i = 0; i < src.size(); ++i) {
    Example e;
    const size_t ns = std::min(src[i].size(), static_cast<size_t>(options.max_source_length - 1));
    e.input_ids.assign(src[i].begin(), src[i].begin() + ns);
    e.input_ids.push_back(eos);
    const size_t nt = std::min(tgt[i].size(), static_cast<size_t>(options.max_target_length - 1));
    e.decoder_input_ids.push_back(bos);
    e.decoder_input_ids.insert(e.decoder_input_ids.end(), tgt[i].begin(), tgt[i].begin() + nt);
    e.labels.assign(tgt[i].begin(), tgt[i].begin() + nt);
    e.labels.push_back(eos);
    e.label_kind = LabelKind::kTarget;
    ds.examples.push_back(std::move(e));
  }
  return ds;
}

}  // namespace taesan::data
