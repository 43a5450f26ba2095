// Sequence-to-sequence pairs from a TSV file (source, target, extra columns ignored), in either
// direction: encoder input "source [EOS]", decoder input "[BOS] target", labels "target [EOS]".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/example.h"
#include "taesan/data/text_io.h"

namespace taesan::data {

/// Options of load_parallel_tsv.
struct ParallelOptions {
  Column source_column = 0;
  Column target_column = 1;
  bool reverse = false;  ///< swap source and target (e.g. Korean -> English from en/ko columns)
  bool has_header = false;
  int64_t max_source_length = 128;  ///< encoder tokens, [EOS] included (longer: truncated)
  int64_t max_target_length = 128;  ///< decoder tokens, [BOS]/[EOS] included
  std::string bos_token = "[BOS]";
  std::string eos_token = "[EOS]";
  ProgressFn progress = {};
};

/// Parallel examples (kTarget labels, with decoder_input_ids) and their texts (after `reverse`).
struct ParallelDataset {
  std::vector<Example> examples;
  std::vector<std::pair<std::string, std::string>> pairs;  ///< (source, target)
  std::vector<int64_t> lines;
};

/// Reads and encodes a parallel TSV. Errors name file and line: missing/empty file, a row with too
/// few columns, invalid UTF-8, an empty source or target.
ParallelDataset load_parallel_tsv(const std::string& path, const BpeTokenizer& tokenizer,
                                  const ParallelOptions& options = {});

}  // namespace taesan::data
