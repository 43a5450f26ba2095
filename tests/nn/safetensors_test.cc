// The safetensors reader and writer: exact layout, round trips of every dtype and layout,
// interoperability with an independent numpy reader and with PyTorch-written files, atomic
// writes, and a clear ts::Error (never a crash) for truncated, bit-flipped, oversized and
// otherwise malformed files.
#include "taesan/nn/safetensors.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/test_util.h"
#include "taesan/autograd/factory.h"

namespace ts = taesan;
namespace st = ts::safetensors;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// A file from a header given as JSON text and raw data bytes.
std::string make_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

ts::nn::NamedTensors sample_tensors() {
  return {{"weight", ts::from_vector<float>({1.5f, -2.0f, 3.25f, 0.0f, 5.0f, -6.5f}, {2, 3})},
          {"scale", ts::from_vector<double>({0.1, 1e-300, -1e300})},
          {"ids", ts::from_vector<int64_t>({-1, 0, int64_t{1} << 40}, {3, 1})},
          {"mask", ts::from_vector<bool>({true, false, true, true}, {2, 2})},
          {"scalar", ts::scalar_tensor(7.0, ts::kFloat64)},
          {"empty", ts::zeros({0, 4})}};
}

void expect_same(const ts::nn::NamedTensors& want, const st::Contents& got) {
  REQUIRE(got.tensors.size() == want.size());
  for (const auto& [name, t] : want) {
    INFO("tensor " << name);
    const ts::Tensor g = got.find(name);
    REQUIRE(g.defined());
    CHECK(g.dtype() == t.dtype());
    CHECK(g.shape() == t.shape());
    CHECK(g.to_vector<double>() == t.to_vector<double>());
  }
}

/// Runs load_from_bytes and returns "" if it loaded, the ts::Error message otherwise. Any other
/// exception fails the test.
std::string load_error(const std::string& bytes) {
  try {
    st::load_from_bytes(bytes, "test.safetensors");
    return "";
  } catch (const ts::Error& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("safetensors round trip of every dtype, shape and layout", "[nn][safetensors]") {
  ts::test::ScratchDir dir;
  const auto tensors = sample_tensors();
  const st::Metadata metadata{{"format", "pt"}, {"note", "티끌 모아 태산"}};
  st::save(dir.file("a.safetensors"), tensors, metadata);
  const st::Contents back = st::load(dir.file("a.safetensors"));
  expect_same(tensors, back);
  CHECK(back.metadata == metadata);
  CHECK(read_file(dir.file("a.safetensors")) == st::save_to_bytes(tensors, metadata));
  expect_same(tensors, st::load_from_bytes(st::save_to_bytes(tensors)));

  // A transposed view is written in its logical (row-major) order.
  ts::Tensor base = ts::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  ts::Tensor view = base.t();
  REQUIRE_FALSE(view.is_contiguous());
  const auto c = st::load_from_bytes(st::save_to_bytes({{"t", view}}));
  CHECK(c.find("t").shape() == ts::Shape{3, 2});
  CHECK(c.find("t").to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("safetensors files have the exact layout of the spec", "[nn][safetensors]") {
  const std::string bytes = st::save_to_bytes(
      {{"b", ts::from_vector<float>({1.0f, 2.0f})}, {"a", ts::from_vector<double>({3.0})}},
      {{"k", "v"}});
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  REQUIRE(8 + n + 8 + 8 == bytes.size());  // header, then 8 bytes of F64 and 8 of F32
  CHECK((8 + n) % 8 == 0);                 // data starts aligned
  const std::string header = bytes.substr(8, n);
  CHECK(header.front() == '{');
  CHECK(header.find_last_not_of(' ') == header.rfind('}'));  // padded with spaces only
  const auto j = nlohmann::json::parse(header);
  CHECK(j["__metadata__"]["k"] == "v");
  CHECK(j["a"]["dtype"] == "F64");  // larger elements first
  CHECK(j["a"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(j["b"]["dtype"] == "F32");
  CHECK(j["b"]["shape"] == nlohmann::json::array({2}));
  CHECK(j["b"]["data_offsets"] == nlohmann::json::array({8, 16}));
  float two;
  std::memcpy(&two, bytes.data() + 8 + n + 8 + 4, 4);
  CHECK(two == 2.0f);
}

TEST_CASE("truncated files are clear errors at every length", "[nn][safetensors]") {
  const std::string bytes = st::save_to_bytes(sample_tensors(), {{"m", "x"}});
  for (size_t len = 0; len < bytes.size(); ++len) {
    INFO("truncated to " << len << " of " << bytes.size() << " bytes");
    const std::string err = load_error(bytes.substr(0, len));
    CHECK_FALSE(err.empty());
    CHECK(err.find("test.safetensors") != std::string::npos);
  }
  ts::test::ScratchDir dir;
  write_file(dir.file("short.safetensors"), bytes.substr(0, bytes.size() - 3));
  CHECK_THROWS_WITH(st::load(dir.file("short.safetensors")),
                    Catch::Contains("short.safetensors") && Catch::Contains("outside the"));
}

TEST_CASE("bit flips are loaded or rejected, never trusted blindly", "[nn][safetensors]") {
  const std::string bytes = st::save_to_bytes(sample_tensors());
  int rejected = 0, loaded = 0;
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      const std::string err = load_error(flipped);  // any non-ts::Error exception fails here
      err.empty() ? ++loaded : ++rejected;
    }
  }
  CHECK(rejected > 0);
  CHECK(loaded > 0);  // e.g. flips inside float data, which no format can detect
}

TEST_CASE("malformed headers are clear errors", "[nn][safetensors]") {
  const std::string f32x2 = std::string(8, '\0');
  auto header_error = [&](const std::string& header, const std::string& data) {
    return load_error(make_file(header, data));
  };
  // Sizes.
  std::string huge = make_file("{}", "");
  huge[7] = 0x7f;
  CHECK_THAT(load_error(huge), Catch::Contains("exceeds the limit"));
  std::string longer = make_file("{}", "");
  longer[0] = 3;
  CHECK_THAT(load_error(longer), Catch::Contains("exceeds the 2 bytes"));
  CHECK_THAT(load_error(make_file("", "")), Catch::Contains("header length is 0"));
  CHECK_THAT(load_error("abc"), Catch::Contains("fewer than the 8-byte"));
  // JSON.
  CHECK_THAT(header_error("{\"a\": ", ""), Catch::Contains("not valid JSON"));
  CHECK_THAT(header_error("[1, 2]", ""), Catch::Contains("does not start with '{'"));
  CHECK_THAT(header_error("{\"a\":1}", ""), Catch::Contains("entry 'a' must be an object"));
  // Entries.
  CHECK_THAT(header_error(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", f32x2),
             Catch::Contains("unknown dtype \"Q7\""));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", f32x2),
             Catch::Contains("unsupported dtype \"F16\""));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2),
             Catch::Contains("non-negative integers"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", f32x2),
             Catch::Contains("non-negative integers"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", f32x2),
             Catch::Contains("\"shape\" array"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2]}})", f32x2),
             Catch::Contains("data_offsets"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2),
             Catch::Contains("needs 12 bytes"));
  CHECK_THAT(
      header_error(
          R"({"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,8]}})",
          f32x2),
      Catch::Contains("tensor 'a'"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", f32x2),
             Catch::Contains("outside the 8-byte data section"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          f32x2),
             Catch::Contains("overlaps"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2),
             Catch::Contains("belong to no tensor"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32x2),
             Catch::Contains("trailing bytes"));
  CHECK_THAT(header_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                          R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                          f32x2),
             Catch::Contains("names 'a' twice"));
  CHECK_THAT(header_error(R"({"__metadata__":{"k":1}})", ""),
             Catch::Contains("__metadata__ value"));
  // Deeply nested values (their message once dumped them recursively: a stack overflow).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK_THAT(header_error("{\"__metadata__\":{\"k\":" + deep + "}}", ""),
             Catch::Contains("__metadata__ value") && Catch::Contains("array"));
  CHECK_THAT(
      header_error("{\"a\":{\"dtype\":\"F32\",\"shape\":" + deep + ",\"data_offsets\":[0,8]}}",
                   f32x2),
      Catch::Contains("'a'"));
  CHECK_THAT(header_error(R"({"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                          std::string("\x01\x07", 2)),
             Catch::Contains("bool tensor 'm' holds byte 7"));
  // A well-formed file with padding and an empty tensor loads.
  CHECK(
      header_error(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"I64","shape":[0],"data_offsets":[8,8]}}   )",
          f32x2) == "");
}

TEST_CASE("file errors name the file", "[nn][safetensors]") {
  ts::test::ScratchDir dir;
  CHECK_THROWS_WITH(st::load(dir.file("missing.safetensors")),
                    Catch::Contains("cannot open") && Catch::Contains("missing.safetensors"));
  CHECK_THROWS_WITH(st::load(dir.path().string()), Catch::Contains("not a regular file"));
  CHECK_THROWS_WITH(st::save(dir.file("no/such/dir/x.safetensors"), sample_tensors()),
                    Catch::Contains("no/such/dir"));
  const ts::Tensor t = ts::zeros({2});
  CHECK_THROWS_WITH(st::save(dir.file("x"), {{"a", t}, {"a", t}}), Catch::Contains("used twice"));
  CHECK_THROWS_WITH(st::save(dir.file("x"), {{"__metadata__", t}}), Catch::Contains("reserved"));
  CHECK_THROWS_WITH(st::save(dir.file("x"), {{"u", ts::Tensor()}}), Catch::Contains("undefined"));
  CHECK_THROWS_WITH(st::save(dir.file("x"), {{"bad\xff", t}}), Catch::Contains("UTF-8"));
  CHECK_FALSE(std::filesystem::exists(dir.file("x")));
}

TEST_CASE("a write killed midway leaves the previous file intact", "[nn][safetensors]") {
  ts::test::ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  const ts::nn::NamedTensors old_tensors{{"w", ts::full({16}, 1.0)}};
  st::save(path, old_tensors);
  const ts::nn::NamedTensors big{{"w", ts::full({1 << 21}, 2.0)}};  // 8 MB
  for (int delay_ms : {1, 5, 20, 60}) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        for (;;) st::save(path, big);
      } catch (...) {
      }
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    // Whatever the moment of the kill, the file is a complete old or new checkpoint.
    const st::Contents c = st::load(path);
    const ts::Tensor w = c.find("w");
    REQUIRE(w.defined());
    const bool is_old = w.numel() == 16 && w.to_vector<float>()[3] == 1.0f;
    const bool is_new = w.numel() == (1 << 21) && w.to_vector<float>()[12345] == 2.0f;
    CHECK((is_old || is_new));
    st::save(path, old_tensors);
  }
}

TEST_CASE("an independent numpy reader reads what taesan writes", "[nn][safetensors][python]") {
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0)
    TS_SKIP("/usr/bin/python3 with numpy is not available (Debian package python3-numpy)");
  ts::test::ScratchDir dir;
  const auto tensors = sample_tensors();
  st::save(dir.file("in.safetensors"), tensors, {{"origin", "taesan"}});
  const std::string cmd = "/usr/bin/python3 " + std::string(TS_TEST_DIR) +
                          "/nn/safetensors_roundtrip.py " + dir.file("in.safetensors") + " " +
                          dir.file("out.safetensors");
  REQUIRE(std::system(cmd.c_str()) == 0);
  const st::Contents out = st::load(dir.file("out.safetensors"));
  CHECK(out.metadata.at("origin") == "taesan");
  CHECK(out.metadata.at("reader") == "numpy");
  REQUIRE(out.tensors.size() == tensors.size());
  for (const auto& [name, t] : tensors) {
    INFO("tensor " << name);
    const ts::Tensor g = out.find(name);
    REQUIRE(g.defined());
    REQUIRE(g.dtype() == t.dtype());
    REQUIRE(g.shape() == t.shape());
    const auto in = t.to_vector<double>(), back = g.to_vector<double>();
    for (size_t i = 0; i < in.size(); ++i) {
      double want = t.dtype() == ts::kBool    ? 1 - in[i]
                    : t.dtype() == ts::kInt64 ? in[i] + 1
                                              : in[i] * 2 + 1;
      if (t.dtype() == ts::kFloat32) want = static_cast<float>(static_cast<float>(in[i]) * 2 + 1);
      CHECK(back[i] == want);
    }
  }
}

TEST_CASE("files written on the PyTorch side load with their names and values",
          "[nn][safetensors]") {
  const st::Header header = st::read_header(ts::test::fixture("nn", "torch_mlp.safetensors"));
  CHECK(header.metadata.at("format") == "pt");
  REQUIRE(header.tensors.size() == 6);
  const st::Contents c = st::load(ts::test::fixture("nn", "torch_mlp.safetensors"));
  CHECK(c.find("0.weight").shape() == ts::Shape{16, 6});
  CHECK(c.find("1.bias").shape() == ts::Shape{16});
  CHECK(c.find("4.weight").shape() == ts::Shape{4, 16});
  CHECK(c.find("4.weight").dtype() == ts::kFloat32);
  // The LayerNorm weight was drawn from U(0.5, 1.5) on the PyTorch side.
  for (float v : c.find("1.weight").to_vector<float>()) CHECK((v >= 0.5f && v <= 1.5f));
}
