// Tests of UTF-8 decoding, the Unicode classes, GPT-2's byte mapping and the pre-tokenizer
// (expected splits worked out from GPT-2's regex by hand; the pack was also checked against the
// Python `regex` module, see data/unicode.cc).
#include <catch2/catch.hpp>

#include "data_test_util.h"

namespace ts = taesan;
using ts::data::CharClass;

TEST_CASE("decode_utf8 accepts valid and rejects invalid sequences", "[data][unicode]") {
  std::string s = "a\xC3\xA9\xED\x8B\xB0\xF0\x9F\x98\x80";  // a é 티 😀
  auto a = ts::data::decode_utf8(s, 0);
  CHECK((a.code_point == U'a' && a.length == 1 && a.valid));
  auto e = ts::data::decode_utf8(s, 1);
  CHECK((e.code_point == 0xE9 && e.length == 2 && e.valid));
  auto t = ts::data::decode_utf8(s, 3);
  CHECK((t.code_point == 0xD2F0 && t.length == 3 && t.valid));
  auto smile = ts::data::decode_utf8(s, 6);
  CHECK((smile.code_point == 0x1F600 && smile.length == 4 && smile.valid));
  for (std::string bad :
       {std::string("\xC0\xAF"), std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"),
        std::string("\xE2\x82"), std::string("\x80"), std::string("\xFF")}) {
    auto d = ts::data::decode_utf8(bad, 0);
    CHECK_FALSE(d.valid);
    CHECK(d.length == 1);
  }
  size_t where = 0;
  CHECK(ts::data::is_valid_utf8(s));
  CHECK_FALSE(ts::data::is_valid_utf8("ok\xE2\x82", &where));
  CHECK(where == 2);
}

TEST_CASE("char_class covers ASCII, Latin, Hangul, CJK and white space", "[data][unicode]") {
  CHECK(ts::data::char_class(U'a') == CharClass::kLetter);
  CHECK(ts::data::char_class(U'Z') == CharClass::kLetter);
  CHECK(ts::data::char_class(U'7') == CharClass::kNumber);
  CHECK(ts::data::char_class(U' ') == CharClass::kSpace);
  CHECK(ts::data::char_class(U'\n') == CharClass::kSpace);
  CHECK(ts::data::char_class(U'.') == CharClass::kOther);
  CHECK(ts::data::char_class(0xE9) == CharClass::kLetter);    // é
  CHECK(ts::data::char_class(0xD7) == CharClass::kOther);     // ×
  CHECK(ts::data::char_class(0xB2) == CharClass::kNumber);    // ²
  CHECK(ts::data::char_class(0xA0) == CharClass::kSpace);     // no-break space
  CHECK(ts::data::char_class(0xAC00) == CharClass::kLetter);  // 가
  CHECK(ts::data::char_class(0xD7A3) == CharClass::kLetter);  // 힣
  CHECK(ts::data::char_class(0x1100) == CharClass::kLetter);  // ᄀ (Jamo)
  CHECK(ts::data::char_class(0x3131) == CharClass::kLetter);  // ㄱ (compatibility Jamo)
  CHECK(ts::data::char_class(0x4E2D) == CharClass::kLetter);  // 中
  CHECK(ts::data::char_class(0x3000) == CharClass::kSpace);   // ideographic space
  CHECK(ts::data::char_class(0x3002) == CharClass::kOther);   // 。
  CHECK(ts::data::char_class(0xFF11) == CharClass::kNumber);  // １
  CHECK(ts::data::char_class(0x1F600) == CharClass::kOther);  // 😀
}

TEST_CASE("character offsets convert to byte offsets", "[data][unicode]") {
  std::string s = "6½ 티끌";
  CHECK(ts::data::count_chars(s) == 5);
  CHECK(ts::data::char_to_byte_offset(s, 0) == 0);
  CHECK(ts::data::char_to_byte_offset(s, 2) == 3);
  CHECK(ts::data::char_to_byte_offset(s, 3) == 4);
  CHECK(ts::data::char_to_byte_offset(s, 4) == 7);
  CHECK(ts::data::char_to_byte_offset(s, 5) == 10);
  CHECK(ts::data::char_to_byte_offset(s, 6) == -1);
}

TEST_CASE("GPT-2 byte mapping is a bijection with the known anchors", "[data][unicode]") {
  const auto& map = ts::data::byte_to_unicode();
  CHECK(map[' '] == 0x120);   // Ġ
  CHECK(map['\n'] == 0x10A);  // Ċ
  CHECK(map['!'] == U'!');
  CHECK(map[0] == 0x100);
  CHECK(map[0xAD] == 0x143);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string printable = ts::data::bytes_to_printable(all);
  std::string back;
  REQUIRE(ts::data::printable_to_bytes(printable, &back));
  CHECK(back == all);
  CHECK(ts::data::bytes_to_printable(" the") == "\xC4\xA0the");      // "Ġthe"
  CHECK_FALSE(ts::data::printable_to_bytes("\xE4\xB8\xAD", &back));  // 中 is not in the alphabet
}

TEST_CASE("pre_tokenize splits like GPT-2's regex", "[data][pretokenizer]") {
  using V = std::vector<std::string_view>;
  CHECK(ts::data::pre_tokenize("Hello world") == V{"Hello", " world"});
  CHECK(ts::data::pre_tokenize("I'm here, don't") == V{"I", "'m", " here", ",", " don", "'t"});
  CHECK(ts::data::pre_tokenize("we'll they've you're he'd") ==
        V{"we", "'ll", " they", "'ve", " you", "'re", " he", "'d"});
  CHECK(ts::data::pre_tokenize("'S") == V{"'", "S"});  // contractions are lower-case only
  CHECK(ts::data::pre_tokenize("  hi") == V{" ", " hi"});
  CHECK(ts::data::pre_tokenize("a\n\nb") == V{"a", "\n", "\n", "b"});
  CHECK(ts::data::pre_tokenize("a \n b") == V{"a", " \n", " b"});
  CHECK(ts::data::pre_tokenize("end  ") == V{"end", "  "});
  CHECK(ts::data::pre_tokenize("abc123 3.14") == V{"abc", "123", " 3", ".", "14"});
  CHECK(ts::data::pre_tokenize("wow!!! ?!") == V{"wow", "!!!", " ?!"});
  CHECK(ts::data::pre_tokenize("티끌 모아 태산.") == V{"티끌", " 모아", " 태산", "."});
  CHECK(ts::data::pre_tokenize("café中文 ２") == V{"café中文", " ２"});
  CHECK(ts::data::pre_tokenize("x\xFF\xFE y") == V{"x", "\xFF\xFE", " y"});
  CHECK(ts::data::pre_tokenize("").empty());
}

TEST_CASE("pre_tokenize spans cover any byte string exactly", "[data][pretokenizer]") {
  ts::data::DataRng rng(7, 0);
  for (int trial = 0; trial < 300; ++trial) {
    std::string s(rng.below(64), '\0');
    for (char& c : s) c = static_cast<char>(rng.below(256));
    std::vector<ts::data::Span> spans;
    ts::data::pre_tokenize(s, spans);
    size_t pos = 0;
    for (const auto& sp : spans) {
      REQUIRE(sp.begin == pos);
      REQUIRE(sp.end > sp.begin);
      pos = sp.end;
    }
    REQUIRE(pos == s.size());
  }
}

TEST_CASE("split_sentences keeps the text and cuts after terminators", "[data][text]") {
  std::string text = "First one. Second one! Is it third? 네. 끝";
  auto parts = ts::data::split_sentences(text);
  REQUIRE(parts.size() == 5);
  CHECK(parts[0] == "First one. ");
  CHECK(parts[2] == "Is it third? ");
  CHECK(parts[4] == "끝");
  std::string joined;
  for (auto p : parts) joined += p;
  CHECK(joined == text);
  CHECK(ts::data::split_sentences("3.14 is pi").size() == 1);
}

TEST_CASE("character boundaries: floor and ceil", "[data][unicode]") {
  // a é – 티 (1, 2, 3, 3 bytes): boundaries at 0 1 3 6 9.
  const std::string s = "a\xC3\xA9\xE2\x80\x93\xED\x8B\xB0";
  const size_t floor_of[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 9};
  const size_t ceil_of[] = {0, 1, 3, 3, 6, 6, 6, 9, 9, 9};
  for (size_t pos = 0; pos <= s.size(); ++pos) {
    CHECK(ts::data::floor_char_boundary(s, pos) == floor_of[pos]);
    CHECK(ts::data::ceil_char_boundary(s, pos) == ceil_of[pos]);
  }
  CHECK(ts::data::floor_char_boundary(s, 100) == s.size());
  CHECK(ts::data::ceil_char_boundary(s, 100) == s.size());
  // Invalid bytes are characters of their own, as decode_utf8 walks them: a stray continuation
  // byte, a truncated sequence, and continuation bytes after a complete character.
  const std::string bad = "\x80x\xE2\x80y\xC3\xA9\x80";
  for (size_t pos : {0, 1, 2, 3, 4, 5, 7, 8}) {
    CHECK(ts::data::floor_char_boundary(bad, pos) == pos);
    CHECK(ts::data::ceil_char_boundary(bad, pos) == pos);
  }
  CHECK(ts::data::floor_char_boundary(bad, 6) == 5);
  CHECK(ts::data::ceil_char_boundary(bad, 6) == 7);
}

TEST_CASE("lowercase follows Python's str.lower", "[data][unicode]") {
  // Expected strings are Python 3.11's "...".lower().
  CHECK(ts::data::lowercase("Émile ZOLA") == "émile zola");
  CHECK(ts::data::lowercase("ÀÖØÞ ĀĲŁŸŽ") == "àöøþ āĳłÿž");    // Latin-1, Extended-A
  CHECK(ts::data::lowercase("ǄǅƁ ḀẞỸ") == "ǆǆɓ ḁßỹ");          // Extended-B, Additional
  CHECK(ts::data::lowercase("ΑΒΓ ΆΈΏ") == "αβγ άέώ");          // Greek
  CHECK(ts::data::lowercase("ПРИВЕТ ЁЇ Ӂ") == "привет ёї ӂ");  // Cyrillic
  CHECK(ts::data::lowercase("ԱԲ ＡＢＣ") == "աբ ａｂｃ");      // Armenian, full width
  CHECK(ts::data::lowercase("티끌 모아 태산 123 ß") == "티끌 모아 태산 123 ß");  // no case
  CHECK(ts::data::lowercase("İstanbul") == "i\xCC\x87stanbul");                  // two code points
  CHECK(ts::data::simple_lowercase(0x130) == U'i');
  // Final sigma: after a letter and not before one.
  CHECK(ts::data::lowercase("ΟΔΟΣ") == "οδος");
  CHECK(ts::data::lowercase("ΣΑ Σ ΟΔΟΣ.") == "σα σ οδος.");
  CHECK(ts::data::lowercase("ΑΣΑ") == "ασα");
  // Invalid bytes are kept as they are.
  CHECK(ts::data::lowercase("A\xFF"
                            "B\xC3") ==
        "a\xFF"
        "b\xC3");
  CHECK(ts::data::simple_lowercase(U'a') == U'a');
  CHECK(ts::data::simple_lowercase(0x101) == 0x101);      // already lower (between step-2 entries)
  CHECK(ts::data::simple_lowercase(0x10400) == 0x10428);  // Deseret
}
