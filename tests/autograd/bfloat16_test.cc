// kBFloat16 tensors (factories, element access, printing, .to() between every pair of dtypes,
// gradients through .to()) and the autocast guard's state (scoped, nested, thread-local).
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include <taesan/taesan.h>

namespace ts = taesan;
using Catch::Matchers::Contains;

namespace {

uint16_t bf16_bits(float f) { return ts::bf16_bits_from_float(f); }
float rounded(float f) { return ts::round_to_bf16(f); }

/// The bits of a bfloat16 tensor in row-major order.
std::vector<uint16_t> bits_of(const ts::Tensor& t) {
  std::vector<uint16_t> out;
  for (ts::BFloat16 v : t.to_vector<ts::BFloat16>()) out.push_back(v.bits);
  return out;
}

}  // namespace

TEST_CASE("kBFloat16 is a 2-byte floating dtype", "[tensor][bf16]") {
  CHECK(ts::element_size(ts::kBFloat16) == 2);
  CHECK(ts::dtype_name(ts::kBFloat16) == "bfloat16");
  CHECK(fmt::format("{}", ts::kBFloat16) == "bfloat16");
  CHECK(ts::is_floating(ts::kBFloat16));
  CHECK(ts::dtype_of<ts::BFloat16>() == ts::kBFloat16);
  CHECK(ts::zeros({3, 5}, ts::kBFloat16).storage()->nbytes() >= 30);
  CHECK(ts::empty({3, 5}, ts::kBFloat16).element_size() == 2);
}

TEST_CASE("bfloat16 factories", "[tensor][bf16]") {
  ts::Tensor z = ts::zeros({2, 3}, ts::kBFloat16);
  CHECK(z.dtype() == ts::kBFloat16);
  CHECK(bits_of(z) == std::vector<uint16_t>(6, 0));
  CHECK(ts::ones({4}, ts::kBFloat16).to_vector<float>() == std::vector<float>(4, 1.0f));
  // full rounds its value once, from double: 1 + 2^-8 + 2^-30 is just above a tie.
  CHECK(ts::full({2}, 1.0 + 0x1p-8 + 0x1p-30, ts::kBFloat16).to_vector<float>() ==
        std::vector<float>(2, 1.0f + 0x1p-7f));
  CHECK(ts::full({1}, 3.14159, ts::kBFloat16).item<float>() == 3.140625f);
  CHECK(std::isnan(ts::full({}, std::nan(""), ts::kBFloat16).item<float>()));
  CHECK(ts::full({}, -INFINITY, ts::kBFloat16).item<float>() == -INFINITY);
  CHECK(ts::zeros_like(z).dtype() == ts::kBFloat16);
  CHECK(ts::ones_like(z).to_vector<double>() == std::vector<double>(6, 1.0));
  CHECK(ts::arange(4, ts::kBFloat16).to_vector<float>() == std::vector<float>{0, 1, 2, 3});
  CHECK(ts::arange(257, ts::kBFloat16).to_vector<float>().back() == 256.0f);  // 8 bits

  // Random factories: the float64 draw rounded once to bfloat16, the same stream as float64.
  ts::manual_seed(3);
  ts::Tensor r = ts::randn({1000}, ts::kBFloat16);
  ts::manual_seed(3);
  std::vector<double> r64 = ts::randn({1000}, ts::kFloat64).to_vector<double>();
  std::vector<uint16_t> rb = bits_of(r);
  for (size_t i = 0; i < r64.size(); ++i) REQUIRE(rb[i] == ts::bf16_bits_from_double(r64[i]));
  // rand stays below 1 after rounding (u in [1 - 2^-9, 1) would round up to 1).
  ts::manual_seed(4);
  for (float v : ts::rand({200000}, ts::kBFloat16).to_vector<float>())
    REQUIRE((v >= 0.0f && v < 1.0f));

  ts::Tensor fv = ts::from_vector<ts::BFloat16>(
      {ts::BFloat16(1.5f), ts::BFloat16::from_bits(0x7fc0), ts::BFloat16(-0.0f)}, {3});
  CHECK(fv.dtype() == ts::kBFloat16);
  CHECK(bits_of(fv) == std::vector<uint16_t>{0x3fc0, 0x7fc0, 0x8000});
  CHECK(fv.data<ts::BFloat16>()[0].bits == 0x3fc0);
  CHECK_THROWS_AS(fv.data<float>(), ts::Error);
}

TEST_CASE("bfloat16 element access converts to any type", "[tensor][bf16]") {
  ts::Tensor t = ts::from_vector<float>({1.0f, -2.5f, 1.0f / 3.0f, 70000.0f}).to(ts::kBFloat16);
  CHECK(t.to_vector<float>() ==
        std::vector<float>{1.0f, -2.5f, rounded(1.0f / 3.0f), rounded(70000.0f)});
  CHECK(t.to_vector<double>()[2] == static_cast<double>(rounded(1.0f / 3.0f)));
  CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{1, -2, 0, 70144});
  CHECK(t.to_vector<bool>() == std::vector<bool>{true, true, true, true});
  CHECK(t.slice(0, 1, 2).item<float>() == -2.5f);
  CHECK(t.slice(0, 2, 3).item<ts::BFloat16>().bits == bf16_bits(1.0f / 3.0f));
  // A strided view reads in logical order.
  ts::Tensor m = ts::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).to(ts::kBFloat16).t();
  CHECK(m.to_vector<float>() == std::vector<float>{1, 4, 2, 5, 3, 6});
}

TEST_CASE("bfloat16 tensors print like PyTorch's", "[tensor][bf16][format]") {
  ts::Tensor t = ts::from_vector<float>({1.0f, 1.0f / 3.0f, -INFINITY}).to(ts::kBFloat16);
  CHECK(fmt::format("{}", t) == "tensor([1.0000, 0.3340, -inf], dtype=bfloat16)");
  CHECK(fmt::format("{}", ts::full({}, std::nan(""), ts::kBFloat16)) ==
        "tensor(nan, dtype=bfloat16)");
  CHECK(fmt::format("{:.3f}", ts::BFloat16(0.1f)) == "0.100");
}

TEST_CASE(".to() converts between every pair of dtypes through bfloat16", "[tensor][bf16]") {
  const std::vector<float> values = {0.0f,     -0.0f,     1.0f,   -1.5f,    1.0f + 0x1p-8f,
                                     257.0f,   259.0f,    1e-40f, 3e38f,    -3.4e38f,
                                     INFINITY, -INFINITY, 0.1f,   65504.0f, 1.0f + 3 * 0x1p-8f};
  ts::Tensor f = ts::from_vector<float>(values);
  ts::Tensor b = f.to(ts::kBFloat16);
  REQUIRE(b.dtype() == ts::kBFloat16);
  std::vector<uint16_t> want;
  for (float v : values) want.push_back(bf16_bits(v));
  CHECK(bits_of(b) == want);
  CHECK(bits_of(f.to(ts::kFloat64).to(ts::kBFloat16)) == want);  // exact float64 of each float
  // Back: exact widening.
  std::vector<float> back = b.to(ts::kFloat32).to_vector<float>();
  for (size_t i = 0; i < values.size(); ++i)
    REQUIRE(std::bit_cast<uint32_t>(back[i]) == static_cast<uint32_t>(want[i]) << 16);
  CHECK(b.to(ts::kFloat64).to_vector<double>()[3] == -1.5);
  CHECK(b.to(ts::kBFloat16).to_vector<float>() == b.to_vector<float>());
  // float64 rounds once.
  CHECK(ts::from_vector<double>({1.0 + 0x1p-8 + 0x1p-30}).to(ts::kBFloat16).item<float>() ==
        1.0f + 0x1p-7f);
  // Integers and bools: ties to even from the exact integer.
  ts::Tensor ints = ts::from_vector<int64_t>({257, 259, -3, 0, int64_t{1} << 40});
  CHECK(ints.to(ts::kBFloat16).to_vector<float>() == std::vector<float>{256, 260, -3, 0, 0x1p40f});
  CHECK(ts::from_vector<bool>({true, false}).to(ts::kBFloat16).to_vector<float>() ==
        std::vector<float>{1, 0});
  CHECK(ts::from_vector<float>({2.75f, -1.5f, 0})
            .to(ts::kBFloat16)
            .to(ts::kInt64)
            .to_vector<int64_t>() == std::vector<int64_t>{2, -1, 0});
  CHECK(
      ts::from_vector<float>({2.75f, 0, -0.0f}).to(ts::kBFloat16).to(ts::kBool).to_vector<bool>() ==
      std::vector<bool>{true, false, false});
  // NaN: any NaN (payload only in the dropped half too) stays NaN.
  ts::Tensor nans = ts::from_vector<float>(
      {std::bit_cast<float>(0x7f800001u), std::bit_cast<float>(0xffc00000u)});
  for (float v : nans.to(ts::kBFloat16).to_vector<float>()) CHECK(std::isnan(v));
  CHECK(std::signbit(nans.to(ts::kBFloat16).to_vector<float>()[1]));
  // Strided, broadcast and long (the SIMD path with threads) inputs.
  ts::Tensor big = ts::randn({300, 257});
  ts::Tensor bt = big.t().to(ts::kBFloat16);
  CHECK(bt.shape() == ts::Shape{257, 300});
  std::vector<float> bv = big.t().to_vector<float>(), btv = bt.to_vector<float>();
  for (size_t i = 0; i < bv.size(); ++i) REQUIRE(btv[i] == rounded(bv[i]));
  std::vector<float> bc = big.to(ts::kBFloat16).to_vector<float>(), bf = big.to_vector<float>();
  for (size_t i = 0; i < bf.size(); ++i) REQUIRE(bc[i] == rounded(bf[i]));
  ts::Tensor row = ts::from_vector<float>({0.1f, 0.2f}).to(ts::kBFloat16).expand({3, 2});
  CHECK(row.to(ts::kFloat32).to_vector<float>()[4] == rounded(0.1f));
  ts::Tensor dst = ts::zeros({2, 2}, ts::kBFloat16);
  dst.copy_(ts::from_vector<float>({0.1f, 0.2f, 0.3f, 0.4f}, {2, 2}));
  CHECK(dst.to_vector<float>()[2] == rounded(0.3f));
}

TEST_CASE("gradients flow through .to(kBFloat16) rounded to bfloat16", "[tensor][bf16][autograd]") {
  ts::Tensor x = ts::from_vector<float>({1.0f, 2.0f, 3.0f}).requires_grad_();
  ts::Tensor y = x.to(ts::kBFloat16);
  CHECK(y.requires_grad());
  ts::Tensor z = y.to(ts::kFloat32);
  z.backward(ts::from_vector<float>({1.0f / 3.0f, 1.0f, -0.1f}));
  REQUIRE(x.grad().defined());
  CHECK(x.grad().dtype() == ts::kFloat32);
  CHECK(x.grad().to_vector<float>() ==
        std::vector<float>{rounded(1.0f / 3.0f), 1.0f, rounded(-0.1f)});
  CHECK(ts::zeros({2}, ts::kBFloat16).requires_grad_().requires_grad());
}

TEST_CASE("AutocastGuard is scoped, nestable and thread-local", "[autocast]") {
  CHECK_FALSE(ts::is_autocast_enabled());
  {
    ts::AutocastGuard amp(ts::kBFloat16);
    CHECK(ts::is_autocast_enabled());
    CHECK(ts::AutocastMode::dtype() == ts::kBFloat16);
    {
      ts::AutocastGuard off(false);
      CHECK_FALSE(ts::is_autocast_enabled());
      {
        ts::AutocastGuard again(true);
        CHECK(ts::AutocastMode::is_enabled());
      }
      CHECK_FALSE(ts::is_autocast_enabled());
    }
    CHECK(ts::is_autocast_enabled());
    bool other_thread = true;
    std::thread([&] { other_thread = ts::is_autocast_enabled(); }).join();
    CHECK_FALSE(other_thread);
    {
      ts::AutocastGuard inner(ts::kBFloat16);
      CHECK(ts::is_autocast_enabled());
    }
    CHECK(ts::is_autocast_enabled());
  }
  CHECK_FALSE(ts::is_autocast_enabled());
  CHECK_THROWS_WITH(ts::AutocastGuard(ts::kFloat32), Contains("kBFloat16 only"));
  CHECK_FALSE(ts::is_autocast_enabled());  // a refused guard changes nothing
}
