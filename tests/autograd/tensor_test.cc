// Tensor basics: factories, views sharing storage, strides, element access, printing, RNG,
// the caching allocator and the thread pool.
#include <catch2/catch.hpp>

#include <taesan/taesan.h>

namespace ts = taesan;
using Catch::Matchers::Contains;

TEST_CASE("factories fill, shape and dtype", "[tensor]") {
  ts::Tensor z = ts::zeros({2, 3});
  CHECK(z.shape() == ts::Shape{2, 3});
  CHECK(z.dtype() == ts::kFloat32);
  CHECK(z.numel() == 6);
  CHECK(z.dim() == 2);
  CHECK(z.to_vector<float>() == std::vector<float>(6, 0.f));
  CHECK(ts::ones({2}, ts::kFloat64).to_vector<double>() == std::vector<double>{1, 1});
  CHECK(ts::full({3}, 2.5).to_vector<float>() == std::vector<float>{2.5f, 2.5f, 2.5f});
  CHECK(ts::arange(4).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(ts::arange(0.0, 1.0, 0.25).to_vector<float>() == std::vector<float>{0, 0.25f, 0.5f, 0.75f});
  ts::Tensor v = ts::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.size(-1) == 3);
  CHECK(v.size(0) == 2);
  CHECK_THROWS_AS(v.size(2), ts::Error);
  CHECK_THROWS_AS(v.item<double>(), ts::Error);
  CHECK(ts::scalar_tensor(7.0).item<float>() == 7.0f);
  CHECK(ts::zeros_like(v).dtype() == ts::kFloat64);
  CHECK_THROWS_AS(ts::from_vector<float>({1, 2, 3}, {2, 2}), ts::Error);
  CHECK_THROWS_AS(ts::zeros({-1, 2}), ts::Error);
  CHECK_THROWS_AS(ts::randn({2}, ts::kInt64), ts::Error);
  CHECK_THROWS_AS(v.data<float>(), ts::Error);
}

TEST_CASE("shapes whose size overflows are refused, not wrapped", "[tensor]") {
  const int64_t big = int64_t{1} << 40;
  CHECK_THROWS_WITH(ts::zeros({big, big}), Contains("empty") && Contains("too large"));
  CHECK_THROWS_WITH(ts::empty({big, big, big}, ts::kFloat64), Contains("too large"));
  CHECK(ts::empty({big, big, 0, big}).numel() == 0);  // zero elements, whatever the other sizes
  CHECK_THROWS_WITH(ts::ones({-2, 3}), Contains("negative"));
}

TEST_CASE("storage is 64-byte aligned and reused by the caching allocator", "[tensor]") {
  for (int64_t n : {1, 3, 17, 1000, 12345}) {
    ts::Tensor t = ts::empty({n});
    CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
  }
  ts::Tensor a = ts::empty({1 << 16});
  void* p = a.raw_data();
  a = ts::Tensor();
  auto before = ts::allocator_stats().os_allocations;
  ts::Tensor b = ts::empty({1 << 16});
  CHECK(b.raw_data() == p);
  CHECK(ts::allocator_stats().os_allocations == before);
}

TEST_CASE("views share storage and have the right strides", "[tensor]") {
  ts::Tensor x = ts::arange(24, ts::kFloat32).reshape({2, 3, 4});
  CHECK(x.strides() == ts::Shape{12, 4, 1});
  ts::Tensor t = x.transpose(0, 2);
  CHECK(t.shape() == ts::Shape{4, 3, 2});
  CHECK(t.strides() == ts::Shape{1, 4, 12});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.storage() == x.storage());
  ts::Tensor s = x.slice(2, 1, 4, 2);  // columns 1 and 3
  CHECK(s.shape() == ts::Shape{2, 3, 2});
  CHECK(s.to_vector<float>() == std::vector<float>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
  ts::Tensor e = ts::arange(3, ts::kFloat32).reshape({3, 1}).expand({3, 4});
  CHECK(e.strides() == ts::Shape{1, 0});
  CHECK(e.to_vector<float>() == std::vector<float>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2});
  CHECK(x.unsqueeze(1).shape() == ts::Shape{2, 1, 3, 4});
  CHECK(x.unsqueeze(-1).shape() == ts::Shape{2, 3, 4, 1});
  CHECK(x.unsqueeze(1).squeeze().shape() == ts::Shape{2, 3, 4});
  CHECK(x.permute({2, 0, 1}).contiguous().to_vector<float>()[1] == 4.0f);
  // A write through a view is seen by the base.
  {
    ts::NoGradGuard g;
    s.fill_(-1);
  }
  CHECK(x.to_vector<float>()[1] == -1.0f);
  CHECK(x.to_vector<float>()[0] == 0.0f);
  // reshape of a non-viewable layout copies; view refuses.
  CHECK_THROWS_AS(t.view({-1}), ts::Error);
  ts::Tensor r = t.reshape({-1});
  CHECK(r.storage() != x.storage());
  CHECK(r.to_vector<float>() == t.to_vector<float>());
  CHECK(x.reshape({6, -1}).storage() == x.storage());
  CHECK_THROWS_AS(x.reshape({5, -1}), ts::Error);
}

TEST_CASE("conversion between dtypes", "[tensor]") {
  ts::Tensor x = ts::from_vector<double>({1.5, -2.25, 3});
  CHECK(x.to(ts::kFloat32).to_vector<float>() == std::vector<float>{1.5f, -2.25f, 3.f});
  CHECK(x.to(ts::kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3});
  CHECK(x.to(ts::kBool).to_vector<bool>() == std::vector<bool>{true, true, true});
}

TEST_CASE("manual_seed gives the same numbers whatever the thread count", "[tensor][random]") {
  ts::manual_seed(42);
  ts::set_num_threads(1);
  auto a = ts::randn({100000}).to_vector<float>();
  ts::manual_seed(42);
  ts::set_num_threads(2);
  auto b = ts::randn({100000}).to_vector<float>();
  CHECK(a == b);
  auto c = ts::randn({100000}).to_vector<float>();
  CHECK(a != c);
  double mean = 0, sq = 0;
  for (float v : a) mean += v, sq += double(v) * v;
  mean /= a.size();
  CHECK(std::abs(mean) < 0.02);
  CHECK(std::abs(sq / a.size() - 1.0) < 0.02);
  auto u = ts::rand({10000}).to_vector<float>();
  for (float v : u) REQUIRE((v >= 0.f && v < 1.f));
  auto i = ts::randint(3, 7, {10000}).to_vector<int64_t>();
  std::vector<int> hist(4, 0);
  for (int64_t v : i) {
    REQUIRE((v >= 3 && v < 7));
    hist[v - 3]++;
  }
  for (int h : hist) CHECK(h > 2000);
  auto p = ts::randperm(50).to_vector<int64_t>();
  std::sort(p.begin(), p.end());
  for (int64_t k = 0; k < 50; ++k) CHECK(p[k] == k);
}

TEST_CASE("tensors print like PyTorch", "[tensor][format]") {
  ts::Tensor x = ts::from_vector<float>({1, 2.5, -3, 4}, {2, 2});
  CHECK(fmt::format("{}", x) == "tensor([[1.0000, 2.5000],\n        [-3.0000, 4.0000]])");
  CHECK(fmt::format("{}", ts::arange(3)) == "tensor([0, 1, 2], dtype=int64)");
  std::string big = fmt::format("{}", ts::zeros({2000}));
  CHECK(big.find("...") != std::string::npos);
  CHECK(big.size() < 200);
}

TEST_CASE("parallel_for covers every index once and rethrows", "[parallel]") {
  ts::set_num_threads(2);
  std::vector<int> hits(100000, 0);
  ts::parallel_for(100000, 1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
  });
  for (int h : hits) REQUIRE(h == 1);
  CHECK_THROWS_AS(ts::parallel_for(100000, 10, [](int64_t b, int64_t) {
                    if (b > 0) throw ts::Error("boom");
                  }),
                  ts::Error);
  CHECK_THROWS_AS(ts::set_num_threads(0), ts::Error);
}
