// Bad input gives a ts::Error that names the op and the shapes/dtypes/values it got.
#include <catch2/catch.hpp>

#include <taesan/taesan.h>

namespace ts = taesan;
using Catch::Matchers::Contains;

TEST_CASE("shape mismatches name the op and the shapes", "[errors]") {
  ts::Tensor a = ts::ones({2, 3}), b = ts::ones({4, 3});
  CHECK_THROWS_WITH(a + b, Contains("add") && Contains("[2, 3]") && Contains("[4, 3]"));
  CHECK_THROWS_WITH(ts::matmul(a, a), Contains("matmul") && Contains("[2, 3]"));
  CHECK_THROWS_WITH(ts::cat({a, ts::ones({2, 2, 1})}, 0), Contains("cat"));
  CHECK_THROWS_WITH(a.reshape({4, 2}), Contains("reshape") && Contains("[4, 2]"));
  CHECK_THROWS_WITH(a.expand({3, 3}), Contains("expand"));
  CHECK_THROWS_WITH(ts::layer_norm(a, {2}), Contains("layer_norm") && Contains("[2]"));
  CHECK_THROWS_WITH(ts::rms_norm(a, {2}), Contains("rms_norm") && Contains("[2]"));
  CHECK_THROWS_WITH(ts::rms_norm(a, {3}, ts::ones({2})), Contains("rms_norm") && Contains("[2]"));
  CHECK_THROWS_WITH(ts::linear(a, ts::ones({4, 2})), Contains("linear"));
  CHECK_THROWS_WITH(ts::cross_entropy(a, ts::zeros({3}, ts::kInt64)), Contains("cross_entropy") && Contains("[3]"));
  CHECK_THROWS_WITH(ts::mse_loss(a, b), Contains("[2, 3]"));
  CHECK_THROWS_WITH(a.permute({0, 0}), Contains("permute"));
  CHECK_THROWS_WITH(ts::stack({a, b}), Contains("stack"));
}

TEST_CASE("wrong dtypes are refused with the dtype named", "[errors]") {
  ts::Tensor f = ts::ones({2, 2}), i = ts::arange(4).reshape({2, 2});
  CHECK_THROWS_WITH(ts::matmul(f, f.to(ts::kFloat64)), Contains("matmul") && Contains("float64"));
  CHECK_THROWS_WITH(i.exp(), Contains("exp") && Contains("int64"));
  CHECK_THROWS_WITH(ts::softmax(i, 0), Contains("softmax"));
  CHECK_THROWS_WITH(ts::rms_norm(i, {2}), Contains("rms_norm") && Contains("int64"));
  CHECK_THROWS_WITH(ts::rms_norm(f, {2}, ts::ones({2}, ts::kFloat64)),
                    Contains("rms_norm") && Contains("float64"));
  CHECK_THROWS_WITH(f.index_select(0, ts::ones({1})), Contains("int64"));
  CHECK_THROWS_WITH(f.masked_fill(ts::ones({2}), 0.0), Contains("bool"));
  CHECK_THROWS_WITH(ts::embedding(f, f), Contains("embedding") && Contains("int64"));
  CHECK_THROWS_WITH(ts::cross_entropy(f, ts::ones({2}, ts::kBool)), Contains("cross_entropy"));
}

TEST_CASE("out-of-range dims and indices name the value and the range", "[errors]") {
  ts::Tensor x = ts::ones({2, 3});
  CHECK_THROWS_WITH(x.sum(2), Contains("sum") && Contains("2"));
  CHECK_THROWS_WITH(x.softmax(-3), Contains("softmax") && Contains("-3"));
  CHECK_THROWS_WITH(x.transpose(0, 5), Contains("transpose"));
  CHECK_THROWS_WITH(x.index_select(1, ts::from_vector<int64_t>({0, 3})), Contains("index_select") && Contains("3"));
  CHECK_THROWS_WITH(x.gather(1, ts::from_vector<int64_t>({0, -1, 0, 0, 0, 0}, {2, 3})), Contains("gather") && Contains("-1"));
  CHECK_THROWS_WITH(ts::scalar_tensor(2.0).gather(0, ts::scalar_tensor(1, ts::kInt64)),
                    Contains("gather") && Contains("out of range"));
  CHECK_THROWS_WITH(ts::embedding(x, ts::from_vector<int64_t>({5})), Contains("embedding") && Contains("5"));
  CHECK_THROWS_WITH(ts::cross_entropy(x, ts::from_vector<int64_t>({0, 7})), Contains("7"));
  CHECK_THROWS_WITH(ts::nll_loss(x, ts::from_vector<int64_t>({0, 7})), Contains("nll_loss") && Contains("7"));
  CHECK_THROWS_WITH(x.slice(0, 0, 1, 0), Contains("step"));
  CHECK_THROWS_WITH(ts::dropout(x, 1.5), Contains("dropout") && Contains("1.5"));
  CHECK_THROWS_WITH(ts::rms_norm(x, {3}, ts::Tensor(), -0.5),
                    Contains("rms_norm") && Contains("-0.5"));
  CHECK_THROWS_WITH(ts::gelu(x, "fast"), Contains("gelu") && Contains("fast"));
  CHECK_THROWS_WITH(x.clamp(1.0, 0.0), Contains("clamp"));
}
