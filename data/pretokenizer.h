// GPT-2's pre-tokenization, written out by hand over code points instead of a regex engine:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// It cuts text into "words" that BPE merges never cross. Invalid UTF-8 bytes count as \S
// characters of the "other" class, so every byte string is covered by the spans, in order.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace taesan::data {

/// A byte range [begin, end) of the input.
struct Span {
  size_t begin;
  size_t end;
};

/// Appends the pre-token spans of `text` (offsets shifted by `base`) to `out`. The spans are
/// contiguous, non-empty and cover the whole text.
void pre_tokenize(std::string_view text, std::vector<Span>& out, size_t base = 0);

/// Convenience form: the pre-tokens as strings.
std::vector<std::string_view> pre_tokenize(std::string_view text);

}  // namespace taesan::data
