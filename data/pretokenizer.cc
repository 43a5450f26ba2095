// GPT-2 pre-tokenization by hand: at each position the regex's alternatives are tried in order
// (contractions, optional space + a run of one class, white space with the (?!\S) look-ahead),
// which is what the regex engine does, without its cost.
#include "taesan/data/pretokenizer.h"

#include "taesan/data/unicode.h"

namespace taesan::data {
namespace {

struct Char {
  CharClass cls;
  size_t length;
};

inline Char char_at(std::string_view text, size_t pos) {
  unsigned char b = static_cast<unsigned char>(text[pos]);
  if (b < 0x80) return {char_class(b), 1};
  DecodedChar ch = decode_utf8(text, pos);
  if (!ch.valid) return {CharClass::kOther, 1};  // an invalid byte is a \S "other" character
  return {char_class(ch.code_point), ch.length};
}

// End of the run of characters of class `cls` starting at `pos`.
inline size_t run_end(std::string_view text, size_t pos, CharClass cls) {
  while (pos < text.size()) {
    Char c = char_at(text, pos);
    if (c.cls != cls) break;
    pos += c.length;
  }
  return pos;
}

// Length of a contraction ('s 't 're 've 'm 'll 'd) at `pos` (text[pos] == '\''), or 0.
inline size_t contraction(std::string_view text, size_t pos) {
  if (pos + 1 >= text.size()) return 0;
  char c1 = text[pos + 1];
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= text.size()) return 0;
  char c2 = text[pos + 2];
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
  return 0;
}

// End of the pre-token starting at `pos`.
size_t next_end(std::string_view text, size_t pos) {
  const size_t n = text.size();
  if (text[pos] == '\'') {
    size_t len = contraction(text, pos);
    if (len > 0) return pos + len;
  }
  Char c = char_at(text, pos);
  if (c.cls != CharClass::kSpace) return run_end(text, pos + c.length, c.cls);
  // ' ' followed by a letter, number or other: the space joins the run (" ?\p{L}+" ...).
  if (text[pos] == ' ' && pos + 1 < n) {
    Char next = char_at(text, pos + 1);
    if (next.cls != CharClass::kSpace) return run_end(text, pos + 1 + next.length, next.cls);
  }
  // White space: \s+(?!\S) keeps the last space for the next word when more than one; else \s+.
  size_t end = pos;
  size_t last_start = pos;
  while (end < n) {
    Char w = char_at(text, end);
    if (w.cls != CharClass::kSpace) break;
    last_start = end;
    end += w.length;
  }
  if (end == n || last_start == pos) return end;
  return last_start;
}

}  // namespace

void pre_tokenize(std::string_view text, std::vector<Span>& out, size_t base) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = next_end(text, pos);
    out.push_back({base + pos, base + end});
    pos = end;
  }
}

std::vector<std::string_view> pre_tokenize(std::string_view text) {
  std::vector<Span> spans;
  pre_tokenize(text, spans);
  std::vector<std::string_view> words;
  words.reserve(spans.size());
  for (const Span& s : spans) words.push_back(text.substr(s.begin, s.end - s.begin));
  return words;
}

}  // namespace taesan::data
