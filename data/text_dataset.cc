// Token streams, blocks, causal-LM examples and sentence-packed masked-LM segments.
#include "taesan/data/text_dataset.h"

#include "taesan/core/error.h"
#include "taesan/data/objectives.h"
#include "taesan/data/text_io.h"

namespace taesan::data {

std::vector<int64_t> token_stream(const BpeTokenizer& tokenizer,
                                  const std::vector<std::string>& texts, int64_t separator_id) {
  TS_CHECK(separator_id < tokenizer.vocab_size(),
           "token_stream: separator id {} is outside the vocabulary [0, {})", separator_id,
           tokenizer.vocab_size());
  std::vector<std::vector<int64_t>> encoded = tokenizer.encode_batch(texts);
  std::vector<int64_t> stream;
  size_t total = 0;
  for (const auto& e : encoded) total += e.size() + 1;
  stream.reserve(total);
  for (const auto& e : encoded) {
    stream.insert(stream.end(), e.begin(), e.end());
    if (separator_id >= 0) stream.push_back(separator_id);
  }
  return stream;
}

std::vector<std::vector<int64_t>> cut_blocks(const std::vector<int64_t>& stream, int64_t block_size,
                                             int64_t stride, bool keep_last) {
  if (stride < 0) stride = block_size;
  TS_CHECK(block_size > 0 && stride > 0, "cut_blocks: block_size {} and stride {} must be positive",
           block_size, stride);
  std::vector<std::vector<int64_t>> blocks;
  const auto n = static_cast<int64_t>(stream.size());
  for (int64_t start = 0; start < n; start += stride) {
    const int64_t end = std::min(n, start + block_size);
    if (end - start < block_size && !keep_last) break;
    blocks.emplace_back(stream.begin() + start, stream.begin() + end);
    if (end == n) break;
  }
  return blocks;
}

std::vector<Example> causal_lm_dataset(const BpeTokenizer& tokenizer,
                                       const std::vector<std::string>& texts,
                                       const CausalLmOptions& options) {
  TS_CHECK(options.block_size > 0, "causal_lm_dataset: block_size {} must be positive",
           options.block_size);
  int64_t sep = options.separator.empty() ? -1 : tokenizer.token_to_id(options.separator);
  std::vector<int64_t> stream = token_stream(tokenizer, texts, sep);
  TS_CHECK(static_cast<int64_t>(stream.size()) > options.block_size,
           "causal_lm_dataset: {} tokens are not enough for one block of {} (+1 for the shift)",
           stream.size(), options.block_size);
  std::vector<Example> examples;
  for (const auto& block : cut_blocks(stream, options.block_size + 1, options.block_size)) {
    examples.push_back(causal_lm_example(block));
  }
  return examples;
}

std::vector<Example> sentence_segments(const BpeTokenizer& tokenizer,
                                       const std::vector<std::string>& texts,
                                       const SegmentOptions& options) {
  TS_CHECK(options.max_length >= 3, "sentence_segments: max_length {} leaves no room for tokens",
           options.max_length);
  const int64_t cls = tokenizer.token_to_id(options.cls_token);
  const int64_t sep = tokenizer.token_to_id(options.sep_token);
  const int64_t room = options.max_length - 2;
  // Sentences of every text, and where each text starts.
  std::vector<std::string> sentences;
  std::vector<bool> starts_text;
  for (const std::string& text : texts) {
    bool first = true;
    for (std::string_view s : split_sentences(text)) {
      sentences.emplace_back(s);
      starts_text.push_back(first);
      first = false;
    }
  }
  std::vector<std::vector<int64_t>> encoded = tokenizer.encode_batch(sentences);
  std::vector<Example> segments;
  std::vector<int64_t> current;
  auto flush = [&] {
    if (current.empty()) return;
    Example e;
    e.input_ids.reserve(current.size() + 2);
    e.input_ids.push_back(cls);
    e.input_ids.insert(e.input_ids.end(), current.begin(), current.end());
    e.input_ids.push_back(sep);
    segments.push_back(std::move(e));
    current.clear();
  };
  for (size_t i = 0; i < encoded.size(); ++i) {
    const auto& ids = encoded[i];
    if (ids.empty()) continue;
    if (starts_text[i] && !options.cross_texts) flush();
    if (static_cast<int64_t>(current.size() + ids.size()) > room) flush();
    if (static_cast<int64_t>(ids.size()) <= room) {
      current.insert(current.end(), ids.begin(), ids.end());
      continue;
    }
    for (size_t start = 0; start < ids.size(); start += room) {  // a sentence longer than a segment
      size_t end = std::min(ids.size(), start + static_cast<size_t>(room));
      current.assign(ids.begin() + start, ids.begin() + end);
      if (end < ids.size()) flush();
    }
  }
  flush();
  return segments;
}

}  // namespace taesan::data
