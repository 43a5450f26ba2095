// UTF-8 decoding, character boundaries, lower case (Python's str.lower) and the few Unicode
// properties the tokenizer needs (letter, number, white space), plus GPT-2's byte <-> printable
// mapping used in tokenizer.json files.
// Categories are approximated by code-point ranges (see unicode.cc for the exact list): exact for
// ASCII and Latin-1, close for the scripts of the pack (Latin, Hangul, CJK) and the major others.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace taesan::data {

/// The pre-tokenizer's character classes (GPT-2's regex classes \p{L}, \p{N}, \s, and the rest).
enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

/// One decoded character: its code point and byte length. Invalid UTF-8 decodes as a single byte
/// with `valid == false` (code point = the byte value), so every byte string can be walked.
struct DecodedChar {
  char32_t code_point;
  uint8_t length;
  bool valid;
};

/// Decodes the character starting at `text[pos]` (pos < text.size()), strictly: overlong forms,
/// surrogates and code points above U+10FFFF are invalid.
DecodedChar decode_utf8(std::string_view text, size_t pos);

/// Class of a code point: Unicode letters (Lu Ll Lt Lm Lo), numbers (Nd Nl No), White_Space, other.
CharClass char_class(char32_t cp);

/// True when `text` is valid UTF-8; otherwise sets `*bad_offset` (if given) to the first bad byte.
bool is_valid_utf8(std::string_view text, size_t* bad_offset = nullptr);

/// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, char32_t cp);

/// Number of code points in `text` (invalid bytes count one each).
int64_t count_chars(std::string_view text);

/// Byte offset of the `char_index`-th code point of `text` (== text.size() for the end);
/// returns -1 when `char_index` is past the end. Python/JSON character offsets are code points.
int64_t char_to_byte_offset(std::string_view text, int64_t char_index);

/// The first character boundary at or before byte `pos` (pos <= text.size()): the start of the
/// character that contains byte `pos`, or `pos` itself when a character starts there (or pos is
/// the end). Boundaries are those of decode_utf8 walking from the start, so an invalid byte is a
/// character of its own. Named after Rust's str::floor_char_boundary.
size_t floor_char_boundary(std::string_view text, size_t pos);

/// The first character boundary at or after byte `pos` (pos <= text.size()): the end of the
/// character that contains byte `pos` when `pos` falls inside one, else `pos`.
size_t ceil_char_boundary(std::string_view text, size_t pos);

/// Simple (one code point to one code point) lower-case mapping of Unicode 14, the table Python
/// 3.11's str.lower uses, for every script with case (Latin, Greek, Cyrillic, Armenian, Georgian,
/// Cherokee, Glagolitic, Deseret, ...). Characters without case (Hangul, CJK) map to themselves.
/// U+0130 (İ) maps to 'i' here; lowercase() gives Python's two-code-point "i̇".
char32_t simple_lowercase(char32_t cp);

/// `text` in lower case as Python's str.lower gives it: simple_lowercase of every character, İ as
/// "i" + U+0307, and Greek capital sigma as final sigma (ς) after a letter when no letter follows
/// (Python's Final_Sigma rule, with "letter" standing for Unicode's "cased": differs only after
/// uncased letters such as Hangul). Invalid bytes are copied unchanged.
std::string lowercase(std::string_view text);

/// GPT-2's byte-level alphabet: each byte maps to a printable code point (bytes 33-126, 161-172,
/// 174-255 map to themselves, the others to 256, 257, ... in order), so token strings in
/// tokenizer.json are readable text ("Ġthe" for " the").
const std::array<char32_t, 256>& byte_to_unicode();

/// Raw bytes -> their GPT-2 printable form (UTF-8).
std::string bytes_to_printable(std::string_view bytes);

/// GPT-2 printable form -> raw bytes; returns false if a character is not in the alphabet.
bool printable_to_bytes(std::string_view printable, std::string* bytes);

}  // namespace taesan::data
