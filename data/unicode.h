// UTF-8 decoding and the few Unicode properties the tokenizer needs (letter, number, white space),
// plus GPT-2's byte <-> printable-character mapping used in tokenizer.json files.
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

/// GPT-2's byte-level alphabet: each byte maps to a printable code point (bytes 33-126, 161-172,
/// 174-255 map to themselves, the others to 256, 257, ... in order), so token strings in
/// tokenizer.json are readable text ("Ġthe" for " the").
const std::array<char32_t, 256>& byte_to_unicode();

/// Raw bytes -> their GPT-2 printable form (UTF-8).
std::string bytes_to_printable(std::string_view bytes);

/// GPT-2 printable form -> raw bytes; returns false if a character is not in the alphabet.
bool printable_to_bytes(std::string_view printable, std::string* bytes);

}  // namespace taesan::data
