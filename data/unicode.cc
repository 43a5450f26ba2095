// UTF-8 decoding and boundaries, range-based Unicode classes, the lower-case table and GPT-2's
// byte <-> printable mapping.
// The class table approximates the Unicode general categories by ranges: exact for ASCII and
// Latin-1; letters for Latin Extended, IPA, Greek, Cyrillic, Armenian, Hebrew, Arabic, the Indic
// scripts, Thai, Georgian, Hangul (Jamo, compatibility Jamo, syllables), kana, CJK ideographs,
// full-width Latin; numbers for the common digit and numeral blocks; the complete White_Space set.
// Combining marks, symbols and punctuation fall in kOther, as in GPT-2's [^\s\p{L}\p{N}].
// Checked against the Python `regex` module's \p{L} \p{N} \s: identical for every assigned code
// point of ASCII, Latin-1, Latin Extended, Greek, Cyrillic, Hangul, kana, CJK, full-width forms and
// general punctuation; about 97% of all assigned BMP code points (rare scripts differ).
#include "taesan/data/unicode.h"

#include <algorithm>

namespace taesan::data {
namespace {

struct Range {
  char32_t first, last;
  CharClass cls;
};

constexpr CharClass L = CharClass::kLetter;
constexpr CharClass N = CharClass::kNumber;
constexpr CharClass S = CharClass::kSpace;

// Sorted, non-overlapping ranges for code points >= 0x80; anything not listed is kOther.
constexpr Range kRanges[] = {
    {0x85, 0x85, S},       {0xA0, 0xA0, S},       {0xAA, 0xAA, L},       {0xB2, 0xB3, N},
    {0xB5, 0xB5, L},       {0xB9, 0xB9, N},       {0xBA, 0xBA, L},       {0xBC, 0xBE, N},
    {0xC0, 0xD6, L},       {0xD8, 0xF6, L},       {0xF8, 0x2C1, L},      {0x2C6, 0x2D1, L},
    {0x2E0, 0x2E4, L},     {0x2EC, 0x2EC, L},     {0x2EE, 0x2EE, L},     {0x370, 0x374, L},
    {0x376, 0x377, L},     {0x37A, 0x37D, L},     {0x37F, 0x37F, L},     {0x386, 0x386, L},
    {0x388, 0x3F5, L},     {0x3F7, 0x481, L},     {0x48A, 0x52F, L},     {0x531, 0x556, L},
    {0x559, 0x559, L},     {0x560, 0x588, L},     {0x5D0, 0x5EA, L},     {0x5EF, 0x5F2, L},
    {0x620, 0x64A, L},     {0x660, 0x669, N},     {0x66E, 0x66F, L},     {0x671, 0x6D3, L},
    {0x6D5, 0x6D5, L},     {0x6E5, 0x6E6, L},     {0x6EE, 0x6EF, L},     {0x6F0, 0x6F9, N},
    {0x6FA, 0x6FC, L},     {0x6FF, 0x6FF, L},     {0x710, 0x710, L},     {0x712, 0x72F, L},
    {0x74D, 0x7A5, L},     {0x7B1, 0x7B1, L},     {0x7C0, 0x7C9, N},     {0x7CA, 0x7EA, L},
    {0x904, 0x939, L},     {0x93D, 0x93D, L},     {0x950, 0x950, L},     {0x958, 0x961, L},
    {0x966, 0x96F, N},     {0x971, 0x980, L},     {0x985, 0x9B9, L},     {0x9E6, 0x9EF, N},
    {0xA05, 0xA39, L},     {0xA66, 0xA6F, N},     {0xA85, 0xAB9, L},     {0xAE6, 0xAEF, N},
    {0xB05, 0xB39, L},     {0xB66, 0xB6F, N},     {0xB83, 0xBB9, L},     {0xBE6, 0xBF2, N},
    {0xC05, 0xC39, L},     {0xC66, 0xC6F, N},     {0xC85, 0xCB9, L},     {0xCE6, 0xCEF, N},
    {0xD05, 0xD3A, L},     {0xD66, 0xD78, N},     {0xE01, 0xE30, L},     {0xE32, 0xE33, L},
    {0xE40, 0xE46, L},     {0xE50, 0xE59, N},     {0xE81, 0xEB0, L},     {0xED0, 0xED9, N},
    {0xF00, 0xF00, L},     {0xF20, 0xF33, N},     {0xF40, 0xF6C, L},     {0x1000, 0x102A, L},
    {0x1040, 0x1049, N},   {0x10A0, 0x10FF, L},   {0x1100, 0x11FF, L},   {0x1200, 0x135A, L},
    {0x1369, 0x137C, N},   {0x13A0, 0x13FD, L},   {0x1401, 0x166C, L},   {0x1680, 0x1680, S},
    {0x1681, 0x169A, L},   {0x16A0, 0x16EA, L},   {0x16EE, 0x16F0, N},   {0x1780, 0x17B3, L},
    {0x17E0, 0x17E9, N},   {0x1810, 0x1819, N},   {0x1820, 0x1878, L},   {0x1D00, 0x1DBF, L},
    {0x1E00, 0x1FBC, L},   {0x1FC2, 0x1FCC, L},   {0x1FD0, 0x1FDB, L},   {0x1FE0, 0x1FEC, L},
    {0x1FF2, 0x1FFC, L},   {0x2000, 0x200A, S},   {0x2028, 0x2029, S},   {0x202F, 0x202F, S},
    {0x205F, 0x205F, S},   {0x2070, 0x2070, N},   {0x2071, 0x2071, L},   {0x2074, 0x2079, N},
    {0x207F, 0x207F, L},   {0x2080, 0x2089, N},   {0x2090, 0x209C, L},   {0x2102, 0x2102, L},
    {0x2107, 0x2107, L},   {0x210A, 0x2113, L},   {0x2115, 0x2115, L},   {0x2119, 0x211D, L},
    {0x2124, 0x2124, L},   {0x2126, 0x2126, L},   {0x2128, 0x2128, L},   {0x212A, 0x212D, L},
    {0x212F, 0x2139, L},   {0x2150, 0x2182, N},   {0x2183, 0x2184, L},   {0x2185, 0x2189, N},
    {0x2460, 0x249B, N},   {0x24EA, 0x24FF, N},   {0x2776, 0x2793, N},   {0x2C00, 0x2CE4, L},
    {0x2D00, 0x2D2D, L},   {0x2D30, 0x2D67, L},   {0x3000, 0x3000, S},   {0x3005, 0x3006, L},
    {0x3007, 0x3007, N},   {0x3021, 0x3029, N},   {0x3031, 0x3035, L},   {0x3038, 0x303A, N},
    {0x303B, 0x303C, L},   {0x3041, 0x3096, L},   {0x309D, 0x309F, L},   {0x30A1, 0x30FA, L},
    {0x30FC, 0x30FF, L},   {0x3105, 0x312F, L},   {0x3131, 0x318E, L},   {0x3192, 0x3195, N},
    {0x31A0, 0x31BF, L},   {0x31F0, 0x31FF, L},   {0x3220, 0x3229, N},   {0x3248, 0x324F, N},
    {0x3251, 0x325F, N},   {0x3280, 0x3289, N},   {0x32B1, 0x32BF, N},   {0x3400, 0x4DBF, L},
    {0x4E00, 0x9FFF, L},   {0xA000, 0xA48C, L},   {0xA4D0, 0xA4FD, L},   {0xA500, 0xA60C, L},
    {0xA610, 0xA61F, L},   {0xA620, 0xA629, N},   {0xA640, 0xA66E, L},   {0xA680, 0xA69D, L},
    {0xA6A0, 0xA6E5, L},   {0xA6E6, 0xA6EF, N},   {0xA717, 0xA71F, L},   {0xA722, 0xA788, L},
    {0xA78B, 0xA7FF, L},   {0xA960, 0xA97C, L},   {0xAB30, 0xAB69, L},   {0xAC00, 0xD7A3, L},
    {0xD7B0, 0xD7C6, L},   {0xD7CB, 0xD7FB, L},   {0xF900, 0xFAD9, L},   {0xFB00, 0xFB06, L},
    {0xFB1D, 0xFB1D, L},   {0xFB1F, 0xFB28, L},   {0xFB2A, 0xFBB1, L},   {0xFBD3, 0xFD3D, L},
    {0xFD50, 0xFDC7, L},   {0xFDF0, 0xFDFB, L},   {0xFE70, 0xFEFC, L},   {0xFF10, 0xFF19, N},
    {0xFF21, 0xFF3A, L},   {0xFF41, 0xFF5A, L},   {0xFF66, 0xFFBE, L},   {0xFFC2, 0xFFDC, L},
    {0x10000, 0x100FA, L}, {0x10107, 0x10133, N}, {0x10280, 0x1031F, L}, {0x10400, 0x1049D, L},
    {0x104A0, 0x104A9, N}, {0x1D400, 0x1D7CB, L}, {0x1D7CE, 0x1D7FF, N}, {0x1F100, 0x1F10C, N},
    {0x20000, 0x2FA1F, L}, {0x30000, 0x3134A, L},
};

// Lower-case mapping: code points first..last (every one, step 1, or every other one from first,
// step 2) map to cp + delta. Derived from UnicodeData.txt 14.0 (simple lowercase mappings, as
// Python 3.11's str.lower applies them); U+0130 is handled by the callers (its full mapping has two
// code points).
struct CaseRange {
  char32_t first, last;
  int32_t delta;
  int32_t step;
};
constexpr CaseRange kLowercase[] = {
    {0x41, 0x5A, 32, 1},         {0xC0, 0xD6, 32, 1},         {0xD8, 0xDE, 32, 1},
    {0x100, 0x12E, 1, 2},        {0x132, 0x136, 1, 2},        {0x139, 0x147, 1, 2},
    {0x14A, 0x176, 1, 2},        {0x178, 0x178, -121, 1},     {0x179, 0x17D, 1, 2},
    {0x181, 0x181, 210, 1},      {0x182, 0x184, 1, 2},        {0x186, 0x186, 206, 1},
    {0x187, 0x187, 1, 1},        {0x189, 0x18A, 205, 1},      {0x18B, 0x18B, 1, 1},
    {0x18E, 0x18E, 79, 1},       {0x18F, 0x18F, 202, 1},      {0x190, 0x190, 203, 1},
    {0x191, 0x191, 1, 1},        {0x193, 0x193, 205, 1},      {0x194, 0x194, 207, 1},
    {0x196, 0x196, 211, 1},      {0x197, 0x197, 209, 1},      {0x198, 0x198, 1, 1},
    {0x19C, 0x19C, 211, 1},      {0x19D, 0x19D, 213, 1},      {0x19F, 0x19F, 214, 1},
    {0x1A0, 0x1A4, 1, 2},        {0x1A6, 0x1A6, 218, 1},      {0x1A7, 0x1A7, 1, 1},
    {0x1A9, 0x1A9, 218, 1},      {0x1AC, 0x1AC, 1, 1},        {0x1AE, 0x1AE, 218, 1},
    {0x1AF, 0x1AF, 1, 1},        {0x1B1, 0x1B2, 217, 1},      {0x1B3, 0x1B5, 1, 2},
    {0x1B7, 0x1B7, 219, 1},      {0x1B8, 0x1B8, 1, 1},        {0x1BC, 0x1BC, 1, 1},
    {0x1C4, 0x1C4, 2, 1},        {0x1C5, 0x1C5, 1, 1},        {0x1C7, 0x1C7, 2, 1},
    {0x1C8, 0x1C8, 1, 1},        {0x1CA, 0x1CA, 2, 1},        {0x1CB, 0x1DB, 1, 2},
    {0x1DE, 0x1EE, 1, 2},        {0x1F1, 0x1F1, 2, 1},        {0x1F2, 0x1F4, 1, 2},
    {0x1F6, 0x1F6, -97, 1},      {0x1F7, 0x1F7, -56, 1},      {0x1F8, 0x21E, 1, 2},
    {0x220, 0x220, -130, 1},     {0x222, 0x232, 1, 2},        {0x23A, 0x23A, 10795, 1},
    {0x23B, 0x23B, 1, 1},        {0x23D, 0x23D, -163, 1},     {0x23E, 0x23E, 10792, 1},
    {0x241, 0x241, 1, 1},        {0x243, 0x243, -195, 1},     {0x244, 0x244, 69, 1},
    {0x245, 0x245, 71, 1},       {0x246, 0x24E, 1, 2},        {0x370, 0x372, 1, 2},
    {0x376, 0x376, 1, 1},        {0x37F, 0x37F, 116, 1},      {0x386, 0x386, 38, 1},
    {0x388, 0x38A, 37, 1},       {0x38C, 0x38C, 64, 1},       {0x38E, 0x38F, 63, 1},
    {0x391, 0x3A1, 32, 1},       {0x3A3, 0x3AB, 32, 1},       {0x3CF, 0x3CF, 8, 1},
    {0x3D8, 0x3EE, 1, 2},        {0x3F4, 0x3F4, -60, 1},      {0x3F7, 0x3F7, 1, 1},
    {0x3F9, 0x3F9, -7, 1},       {0x3FA, 0x3FA, 1, 1},        {0x3FD, 0x3FF, -130, 1},
    {0x400, 0x40F, 80, 1},       {0x410, 0x42F, 32, 1},       {0x460, 0x480, 1, 2},
    {0x48A, 0x4BE, 1, 2},        {0x4C0, 0x4C0, 15, 1},       {0x4C1, 0x4CD, 1, 2},
    {0x4D0, 0x52E, 1, 2},        {0x531, 0x556, 48, 1},       {0x10A0, 0x10C5, 7264, 1},
    {0x10C7, 0x10C7, 7264, 1},   {0x10CD, 0x10CD, 7264, 1},   {0x13A0, 0x13EF, 38864, 1},
    {0x13F0, 0x13F5, 8, 1},      {0x1C90, 0x1CBA, -3008, 1},  {0x1CBD, 0x1CBF, -3008, 1},
    {0x1E00, 0x1E94, 1, 2},      {0x1E9E, 0x1E9E, -7615, 1},  {0x1EA0, 0x1EFE, 1, 2},
    {0x1F08, 0x1F0F, -8, 1},     {0x1F18, 0x1F1D, -8, 1},     {0x1F28, 0x1F2F, -8, 1},
    {0x1F38, 0x1F3F, -8, 1},     {0x1F48, 0x1F4D, -8, 1},     {0x1F59, 0x1F5F, -8, 2},
    {0x1F68, 0x1F6F, -8, 1},     {0x1F88, 0x1F8F, -8, 1},     {0x1F98, 0x1F9F, -8, 1},
    {0x1FA8, 0x1FAF, -8, 1},     {0x1FB8, 0x1FB9, -8, 1},     {0x1FBA, 0x1FBB, -74, 1},
    {0x1FBC, 0x1FBC, -9, 1},     {0x1FC8, 0x1FCB, -86, 1},    {0x1FCC, 0x1FCC, -9, 1},
    {0x1FD8, 0x1FD9, -8, 1},     {0x1FDA, 0x1FDB, -100, 1},   {0x1FE8, 0x1FE9, -8, 1},
    {0x1FEA, 0x1FEB, -112, 1},   {0x1FEC, 0x1FEC, -7, 1},     {0x1FF8, 0x1FF9, -128, 1},
    {0x1FFA, 0x1FFB, -126, 1},   {0x1FFC, 0x1FFC, -9, 1},     {0x2126, 0x2126, -7517, 1},
    {0x212A, 0x212A, -8383, 1},  {0x212B, 0x212B, -8262, 1},  {0x2132, 0x2132, 28, 1},
    {0x2160, 0x216F, 16, 1},     {0x2183, 0x2183, 1, 1},      {0x24B6, 0x24CF, 26, 1},
    {0x2C00, 0x2C2F, 48, 1},     {0x2C60, 0x2C60, 1, 1},      {0x2C62, 0x2C62, -10743, 1},
    {0x2C63, 0x2C63, -3814, 1},  {0x2C64, 0x2C64, -10727, 1}, {0x2C67, 0x2C6B, 1, 2},
    {0x2C6D, 0x2C6D, -10780, 1}, {0x2C6E, 0x2C6E, -10749, 1}, {0x2C6F, 0x2C6F, -10783, 1},
    {0x2C70, 0x2C70, -10782, 1}, {0x2C72, 0x2C72, 1, 1},      {0x2C75, 0x2C75, 1, 1},
    {0x2C7E, 0x2C7F, -10815, 1}, {0x2C80, 0x2CE2, 1, 2},      {0x2CEB, 0x2CED, 1, 2},
    {0x2CF2, 0x2CF2, 1, 1},      {0xA640, 0xA66C, 1, 2},      {0xA680, 0xA69A, 1, 2},
    {0xA722, 0xA72E, 1, 2},      {0xA732, 0xA76E, 1, 2},      {0xA779, 0xA77B, 1, 2},
    {0xA77D, 0xA77D, -35332, 1}, {0xA77E, 0xA786, 1, 2},      {0xA78B, 0xA78B, 1, 1},
    {0xA78D, 0xA78D, -42280, 1}, {0xA790, 0xA792, 1, 2},      {0xA796, 0xA7A8, 1, 2},
    {0xA7AA, 0xA7AA, -42308, 1}, {0xA7AB, 0xA7AB, -42319, 1}, {0xA7AC, 0xA7AC, -42315, 1},
    {0xA7AD, 0xA7AD, -42305, 1}, {0xA7AE, 0xA7AE, -42308, 1}, {0xA7B0, 0xA7B0, -42258, 1},
    {0xA7B1, 0xA7B1, -42282, 1}, {0xA7B2, 0xA7B2, -42261, 1}, {0xA7B3, 0xA7B3, 928, 1},
    {0xA7B4, 0xA7C2, 1, 2},      {0xA7C4, 0xA7C4, -48, 1},    {0xA7C5, 0xA7C5, -42307, 1},
    {0xA7C6, 0xA7C6, -35384, 1}, {0xA7C7, 0xA7C9, 1, 2},      {0xA7D0, 0xA7D0, 1, 1},
    {0xA7D6, 0xA7D8, 1, 2},      {0xA7F5, 0xA7F5, 1, 1},      {0xFF21, 0xFF3A, 32, 1},
    {0x10400, 0x10427, 40, 1},   {0x104B0, 0x104D3, 40, 1},   {0x10570, 0x1057A, 39, 1},
    {0x1057C, 0x1058A, 39, 1},   {0x1058C, 0x10592, 39, 1},   {0x10594, 0x10595, 39, 1},
    {0x10C80, 0x10CB2, 64, 1},   {0x118A0, 0x118BF, 32, 1},   {0x16E40, 0x16E5F, 32, 1},
    {0x1E900, 0x1E921, 34, 1},
};

// ASCII classes, precomputed.
constexpr std::array<CharClass, 128> make_ascii_table() {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t[c] = CharClass::kLetter;
    } else if (c >= '0' && c <= '9') {
      t[c] = CharClass::kNumber;
    } else if (c == ' ' || (c >= 0x09 && c <= 0x0D)) {
      t[c] = CharClass::kSpace;
    } else {
      t[c] = CharClass::kOther;
    }
  }
  return t;
}
constexpr std::array<CharClass, 128> kAscii = make_ascii_table();

std::array<char32_t, 256> make_byte_to_unicode() {
  std::array<char32_t, 256> map{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    map[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return map;
}

}  // namespace

DecodedChar decode_utf8(std::string_view text, size_t pos) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  unsigned char c0 = s[pos];
  DecodedChar bad{c0, 1, false};
  if (c0 < 0x80) return {c0, 1, true};
  int len;
  char32_t cp;
  char32_t min_cp;
  if ((c0 & 0xE0) == 0xC0) {
    len = 2, cp = c0 & 0x1F, min_cp = 0x80;
  } else if ((c0 & 0xF0) == 0xE0) {
    len = 3, cp = c0 & 0x0F, min_cp = 0x800;
  } else if ((c0 & 0xF8) == 0xF0) {
    len = 4, cp = c0 & 0x07, min_cp = 0x10000;
  } else {
    return bad;
  }
  if (pos + len > n) return bad;
  for (int k = 1; k < len; ++k) {
    unsigned char c = s[pos + k];
    if ((c & 0xC0) != 0x80) return bad;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return bad;
  return {cp, static_cast<uint8_t>(len), true};
}

CharClass char_class(char32_t cp) {
  if (cp < 128) return kAscii[cp];
  const Range* end = std::end(kRanges);
  const Range* it = std::upper_bound(std::begin(kRanges), end, cp,
                                     [](char32_t v, const Range& r) { return v < r.first; });
  if (it == std::begin(kRanges)) return CharClass::kOther;
  --it;
  return cp <= it->last ? it->cls : CharClass::kOther;
}

bool is_valid_utf8(std::string_view text, size_t* bad_offset) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    DecodedChar ch = decode_utf8(text, pos);
    if (!ch.valid) {
      if (bad_offset != nullptr) *bad_offset = pos;
      return false;
    }
    pos += ch.length;
  }
  return true;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

int64_t count_chars(std::string_view text) {
  int64_t count = 0;
  for (size_t pos = 0; pos < text.size(); ++count) pos += decode_utf8(text, pos).length;
  return count;
}

int64_t char_to_byte_offset(std::string_view text, int64_t char_index) {
  if (char_index < 0) return -1;
  size_t pos = 0;
  for (int64_t i = 0; i < char_index; ++i) {
    if (pos >= text.size()) return -1;
    pos += decode_utf8(text, pos).length;
  }
  return static_cast<int64_t>(pos);
}

size_t floor_char_boundary(std::string_view text, size_t pos) {
  if (pos >= text.size()) return text.size();
  // Every byte that is not a continuation byte (10xxxxxx) starts a character, valid or not; a
  // continuation byte is inside a character only when the nearest lead byte before it (at most 3
  // bytes back) decodes to a valid character that reaches it.
  size_t lead = pos;
  while (lead > 0 && pos - lead < 3 && (static_cast<unsigned char>(text[lead]) & 0xC0) == 0x80)
    --lead;
  if (lead == pos) return pos;
  const DecodedChar ch = decode_utf8(text, lead);
  return ch.valid && lead + ch.length > pos ? lead : pos;
}

size_t ceil_char_boundary(std::string_view text, size_t pos) {
  if (pos >= text.size()) return text.size();
  const size_t start = floor_char_boundary(text, pos);
  return start == pos ? pos : start + decode_utf8(text, start).length;
}

char32_t simple_lowercase(char32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  if (cp == 0x130) return U'i';
  const CaseRange* end = std::end(kLowercase);
  const CaseRange* it = std::upper_bound(
      std::begin(kLowercase), end, cp, [](char32_t v, const CaseRange& r) { return v < r.first; });
  if (it == std::begin(kLowercase)) return cp;
  --it;
  if (cp > it->last || (cp - it->first) % static_cast<char32_t>(it->step) != 0) return cp;
  return static_cast<char32_t>(static_cast<int64_t>(cp) + it->delta);
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  // Combining marks (U+0300-U+036F) are skipped when looking for the letters around a sigma.
  auto is_mark = [](char32_t cp) { return cp >= 0x300 && cp <= 0x36F; };
  bool letter_before = false;  // the last non-mark character was a letter
  size_t pos = 0;
  while (pos < text.size()) {
    const DecodedChar ch = decode_utf8(text, pos);
    if (!ch.valid) {
      out.push_back(text[pos]);
      letter_before = false;
      ++pos;
      continue;
    }
    const char32_t cp = ch.code_point;
    pos += ch.length;
    if (cp == 0x130) {
      out += "i\xCC\x87";  // i + U+0307 COMBINING DOT ABOVE
    } else if (cp == 0x3A3) {
      bool letter_after = false;
      for (size_t q = pos; q < text.size();) {
        const DecodedChar next = decode_utf8(text, q);
        q += next.length;
        if (next.valid && is_mark(next.code_point)) continue;
        letter_after = next.valid && char_class(next.code_point) == CharClass::kLetter;
        break;
      }
      append_utf8(out, letter_before && !letter_after ? 0x3C2 : 0x3C3);  // ς : σ
    } else {
      append_utf8(out, simple_lowercase(cp));
    }
    if (!is_mark(cp)) letter_before = char_class(cp) == CharClass::kLetter;
  }
  return out;
}

const std::array<char32_t, 256>& byte_to_unicode() {
  static const std::array<char32_t, 256> map = make_byte_to_unicode();
  return map;
}

std::string bytes_to_printable(std::string_view bytes) {
  const auto& map = byte_to_unicode();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) append_utf8(out, map[b]);
  return out;
}

bool printable_to_bytes(std::string_view printable, std::string* bytes) {
  // Inverse map: code points 0..511 cover the whole alphabet (the largest is 256 + 67).
  static const std::array<int16_t, 512> inverse = [] {
    std::array<int16_t, 512> inv;
    inv.fill(-1);
    const auto& map = byte_to_unicode();
    for (int b = 0; b < 256; ++b) inv[map[b]] = static_cast<int16_t>(b);
    return inv;
  }();
  bytes->clear();
  size_t pos = 0;
  while (pos < printable.size()) {
    DecodedChar ch = decode_utf8(printable, pos);
    if (!ch.valid || ch.code_point >= 512 || inverse[ch.code_point] < 0) return false;
    bytes->push_back(static_cast<char>(inverse[ch.code_point]));
    pos += ch.length;
  }
  return true;
}

}  // namespace taesan::data
