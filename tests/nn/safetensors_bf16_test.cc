// safetensors "BF16" (the dtype string PyTorch and Hugging Face write for bfloat16): round trips
// keep every bit (NaN payloads, Inf, -0, denormals), a file whose bytes are built here by hand
// loads with the right values, and a bfloat16 checkpoint loads into a float32 module.
#include <catch2/catch.hpp>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/test_util.h"
#include "taesan/nn/safetensors.h"
#include "taesan/nn/serialize.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace st = ts::safetensors;
using Catch::Matchers::Contains;

namespace {

std::vector<uint16_t> bits_of(const ts::Tensor& t) {
  std::vector<uint16_t> out;
  for (ts::BFloat16 v : t.to_vector<ts::BFloat16>()) out.push_back(v.bits);
  return out;
}

ts::Tensor from_bits(const std::vector<uint16_t>& bits, const ts::Shape& shape) {
  std::vector<ts::BFloat16> v;
  for (uint16_t b : bits) v.push_back(ts::BFloat16::from_bits(b));
  return ts::from_vector<ts::BFloat16>(v, shape);
}

/// A file from a header given as JSON text and raw data bytes.
std::string make_file(std::string header, const std::string& data) {
  while ((8 + header.size()) % 8 != 0) header += ' ';
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

}  // namespace

TEST_CASE("safetensors BF16 round trips keep every bit", "[nn][safetensors][bf16]") {
  const std::vector<uint16_t> bits = {0x3f80, 0xc000, 0x7f80, 0xff80, 0x8000, 0x0000,
                                      0x0001, 0x807f, 0x7fc1, 0xffff, 0x3eab, 0x7f7f};
  ts::Tensor t = from_bits(bits, {3, 4});
  ts::Tensor big = ts::randn({33, 17}).to(ts::kBFloat16);
  const ts::nn::NamedTensors tensors = {{"w", t},
                                        {"big", big},
                                        {"f", ts::ones({2})},
                                        {"view", big.t()},
                                        {"empty", ts::zeros({0, 3}, ts::kBFloat16)}};
  const std::string bytes = st::save_to_bytes(tensors);
  const st::Contents back = st::load_from_bytes(bytes);
  REQUIRE(back.find("w").dtype() == ts::kBFloat16);
  CHECK(back.find("w").shape() == ts::Shape{3, 4});
  CHECK(bits_of(back.find("w")) == bits);
  CHECK(bits_of(back.find("big")) == bits_of(big));
  CHECK(bits_of(back.find("view")) == bits_of(big.t()));  // logical (row-major) order
  CHECK(back.find("empty").numel() == 0);
  CHECK(back.find("f").dtype() == ts::kFloat32);
  // The header says "BF16", 2 bytes per element.
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  const auto j = nlohmann::json::parse(bytes.substr(8, n));
  CHECK(j["w"]["dtype"] == "BF16");
  const auto offsets = j["w"]["data_offsets"];
  CHECK(offsets[1].get<uint64_t>() - offsets[0].get<uint64_t>() == 24);
  CHECK(st::dtype_code(ts::kBFloat16) == "BF16");
  // Little-endian: the low byte first.
  const size_t at = 8 + n + offsets[0].get<size_t>();
  CHECK(static_cast<unsigned char>(bytes[at]) == 0x80);
  CHECK(static_cast<unsigned char>(bytes[at + 1]) == 0x3f);
  // Through a file as well.
  ts::test::ScratchDir dir;
  st::save(dir.file("a.safetensors"), tensors);
  CHECK(bits_of(st::load(dir.file("a.safetensors")).find("w")) == bits);
}

TEST_CASE("a BF16 file built byte by byte loads with its values", "[nn][safetensors][bf16]") {
  // 1.0, -2.0, +Inf, 0.333984375 (bf16 0x3eab), then a second tensor [0.5].
  const std::string data =
      std::string("\x80\x3f\x00\xc0\x80\x7f\xab\x3e", 8) + std::string("\x00\x3f", 2);
  const std::string file = make_file(
      R"({"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]},"__metadata__":{"format":"pt"}})",
      data);
  const st::Contents c = st::load_from_bytes(file, "hand.safetensors");
  REQUIRE(c.find("w").dtype() == ts::kBFloat16);
  CHECK(c.find("w").to_vector<float>() == std::vector<float>{1.0f, -2.0f, INFINITY, 0.333984375f});
  CHECK(c.find("b").item<float>() == 0.5f);
  CHECK(c.metadata.at("format") == "pt");
  // Byte counts are checked for 2-byte elements.
  const std::string wrong =
      make_file(R"({"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,10]}})", data);
  CHECK_THROWS_AS(st::load_from_bytes(wrong, "wrong.safetensors"), ts::Error);
  // Other 2-byte dtypes are still named as unsupported.
  const std::string f16 =
      make_file(R"({"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", data.substr(0, 4));
  CHECK_THROWS_WITH(st::load_from_bytes(f16, "f16.safetensors"),
                    Contains("unsupported dtype \"F16\"") && Contains("BF16"));
}

TEST_CASE("a bfloat16 checkpoint loads into a float32 module", "[nn][safetensors][bf16]") {
  ts::manual_seed(1);
  auto src = std::make_shared<ts::nn::Linear>(5, 3);
  ts::test::ScratchDir dir;
  st::save(dir.file("bf16.safetensors"),
           {{"weight", src->named_parameters()[0].second.detach().to(ts::kBFloat16)},
            {"bias", src->named_parameters()[1].second.detach().to(ts::kBFloat16)}});
  auto dst = std::make_shared<ts::nn::Linear>(5, 3);
  ts::load(dst, dir.file("bf16.safetensors"));
  for (size_t i = 0; i < 2; ++i) {
    const ts::Tensor got = dst->named_parameters()[i].second;
    CHECK(got.dtype() == ts::kFloat32);
    CHECK(got.requires_grad());
    CHECK(got.to_vector<float>() ==
          src->named_parameters()[i].second.to(ts::kBFloat16).to_vector<float>());
  }
}
