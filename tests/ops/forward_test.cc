// Forward values of ops on hand-checked inputs: broadcasting, strided inputs, masked rows,
// dtype promotion, integer ops, matmul layouts, determinism across thread counts.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <optional>

#include <taesan/taesan.h>

namespace ts = taesan;

namespace {
std::vector<double> vals(const ts::Tensor& t) { return t.to_vector<double>(); }
}  // namespace

TEST_CASE("broadcasting arithmetic and promotion", "[forward]") {
  ts::Tensor a = ts::from_vector<float>({1, 2, 3}, {3, 1});
  ts::Tensor b = ts::from_vector<double>({10, 20}, {2});
  ts::Tensor c = a + b;
  CHECK(c.dtype() == ts::kFloat64);
  CHECK(c.shape() == ts::Shape{3, 2});
  CHECK(vals(c) == std::vector<double>{11, 21, 12, 22, 13, 23});
  CHECK(vals(ts::arange(3) * 2.0) == std::vector<double>{0, 2, 4});
  CHECK((ts::arange(3) * 2.0).dtype() == ts::kInt64);
  CHECK((ts::arange(3) + 0.5).dtype() == ts::kFloat32);
  CHECK(vals(ts::arange(4) < 2.0) == std::vector<double>{1, 1, 0, 0});
  CHECK((ts::arange(4) < 2.0).dtype() == ts::kBool);
  CHECK(vals(10.0 - ts::from_vector<float>({1, 2})) == std::vector<double>{9, 8});
  CHECK(vals(1.0 / ts::from_vector<float>({2, 4})) == std::vector<double>{0.5, 0.25});
}

TEST_CASE("softmax of fully masked rows is zero, not NaN", "[forward]") {
  const double inf = std::numeric_limits<double>::infinity();
  ts::Tensor x = ts::from_vector<double>({-inf, -inf, 0, 0}, {2, 2});
  CHECK(vals(x.softmax(-1)) == std::vector<double>{0, 0, 0.5, 0.5});
  ts::Tensor m = ts::from_vector<bool>({false, true, true, true}, {2, 2});
  ts::Tensor y = ts::from_vector<double>({1, 2, 3, 4}, {2, 2}).masked_fill(m, -inf).softmax(-1);
  CHECK(vals(y) == std::vector<double>{1, 0, 0, 0});
}

TEST_CASE("fused attention passes NaN through like the reference", "[forward]") {
  // NaN in a query row, in one key, in the mask or as the scale: the fused kernel's rows must be
  // NaN exactly where the reference's are (a row whose scores are all NaN once looked fully
  // masked and came out as zeros), and equal elsewhere. 70 keys: two key blocks.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (ts::DType dt : {ts::kFloat32, ts::kFloat64}) {
    ts::manual_seed(5);
    ts::Tensor q = ts::randn({2, 2, 5, 8}, dt), k = ts::randn({2, 2, 70, 8}, dt),
               v = ts::randn({2, 2, 70, 8}, dt);
    ts::Tensor qn = q.clone(), kn = k.clone(), mask = ts::zeros({5, 70}, dt);
    qn.slice(2, 1, 2).fill_(nan);                     // query row 1 of every head
    kn.slice(0, 1, 2).slice(2, 40, 41).fill_(nan);    // key 40 of batch 1
    mask.slice(0, 3, 4).slice(1, 69, 70).fill_(nan);  // row 3, key 69 (the second block)
    struct Run {
      ts::Tensor q, k, mask;
      std::optional<double> scale;
    };
    for (const Run& r :
         {Run{qn, k, {}, {}}, Run{q, kn, {}, {}}, Run{q, k, mask, {}}, Run{q, k, {}, nan}}) {
      auto attend = [&](ts::AttentionBackend backend) {
        return vals(
            ts::scaled_dot_product_attention(r.q, r.k, v, r.mask, 0.0, false, r.scale, backend));
      };
      const std::vector<double> fused = attend(ts::AttentionBackend::Fused);
      const std::vector<double> ref = attend(ts::AttentionBackend::Reference);
      REQUIRE(fused.size() == ref.size());
      size_t nans = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        REQUIRE(std::isnan(fused[i]) == std::isnan(ref[i]));
        if (std::isnan(ref[i])) {
          ++nans;
        } else {
          REQUIRE(fused[i] == Approx(ref[i]).margin(1e-5));
        }
      }
      CHECK(nans > 0);
    }
  }
}

TEST_CASE("reductions over dims, keepdim and strided inputs", "[forward]") {
  ts::Tensor x = ts::arange(24, ts::kFloat64).reshape({2, 3, 4});
  CHECK(x.sum().item<double>() == 276);
  CHECK(x.sum({0, 2}).shape() == ts::Shape{3});
  CHECK(vals(x.sum({0, 2})) == std::vector<double>{60, 92, 124});
  CHECK(x.sum({0, 2}, true).shape() == ts::Shape{1, 3, 1});
  CHECK(vals(x.transpose(0, 2).sum(0)) == vals(x.sum(2).t()));
  CHECK(vals(x.mean(-1)) == std::vector<double>{1.5, 5.5, 9.5, 13.5, 17.5, 21.5});
  auto [v, i] = ts::from_vector<double>({1, 5, 5, 2, -1, -3}, {2, 3}).max(1);
  CHECK(vals(v) == std::vector<double>{5, 2});
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  CHECK(ts::var(ts::from_vector<double>({1, 2, 3, 4}), 0).item<double>() == Approx(5.0 / 3));
  CHECK(ts::logsumexp(ts::from_vector<double>({0, 0}), 0).item<double>() == Approx(std::log(2.0)));
  CHECK(ts::arange(5).sum().item<int64_t>() == 10);
}

TEST_CASE("matmul and linear over an empty inner dimension give zeros and the bias", "[forward]") {
  // k = 0 with batch dims once asked reshape for {-1, 0}, which names no row count.
  ts::Tensor a = ts::randn({2, 3, 0}, ts::kFloat64).requires_grad_();
  ts::Tensor y = ts::matmul(a, ts::randn({0, 4}, ts::kFloat64));
  CHECK(y.shape() == ts::Shape{2, 3, 4});
  CHECK(vals(y) == std::vector<double>(24, 0.0));
  ts::Tensor b = ts::from_vector<double>({1, 2, 3, 4}).requires_grad_();
  ts::Tensor z = ts::linear(a, ts::randn({4, 0}, ts::kFloat64), b);
  CHECK(z.shape() == ts::Shape{2, 3, 4});
  CHECK(vals(z.sum(ts::Shape{0, 1})) == std::vector<double>{6, 12, 18, 24});
  z.sum().backward();
  CHECK(vals(b.grad()) == std::vector<double>{6, 6, 6, 6});
  CHECK(a.grad().shape() == ts::Shape{2, 3, 0});
}

TEST_CASE("matmul agrees across layouts", "[forward]") {
  ts::manual_seed(3);
  ts::Tensor a = ts::randn({5, 7}, ts::kFloat64), b = ts::randn({7, 3}, ts::kFloat64);
  auto ref = vals(ts::matmul(a, b));
  // The NN, TN and NT kernels may sum k in another order (the NT kernel's dot products on AVX2
  // differ in the last bit from NN's): equal to a few ulps, not bit for bit.
  auto close = [&](const std::vector<double>& got) {
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < got.size(); ++i)
      CHECK(got[i] == Approx(ref[i]).epsilon(1e-13).margin(1e-13));
  };
  close(vals(ts::matmul(a.t().contiguous().t(), b)));
  close(vals(ts::matmul(a, b.t().contiguous().t())));
  auto direct = [&](int64_t i, int64_t j) {
    double s = 0;
    for (int64_t k = 0; k < 7; ++k) s += vals(a)[i * 7 + k] * vals(b)[k * 3 + j];
    return s;
  };
  CHECK(ref[0] == Approx(direct(0, 0)));
  CHECK(ref[14] == Approx(direct(4, 2)));
  ts::Tensor batched = ts::matmul(ts::stack({a, a * 2.0}), b);
  CHECK(batched.shape() == ts::Shape{2, 5, 3});
  CHECK(vals(batched.slice(0, 1, 2).squeeze(0)) == vals(ts::matmul(a * 2.0, b)));
}

TEST_CASE("results are bit-identical for 1 and 2 threads", "[forward][threads]") {
  ts::manual_seed(11);
  ts::Tensor x = ts::randn({64, 3000});
  ts::Tensor w = ts::randn({3000, 64});
  auto run = [&] {
    ts::Tensor h = ts::gelu(ts::matmul(x, w));
    return std::make_tuple(vals(h.softmax(-1)), vals(h.sum(0)), x.sum().item<double>(),
                           vals(ts::layer_norm(h, {64})), vals(ts::rms_norm(h, {64})));
  };
  ts::set_num_threads(1);
  auto one = run();
  ts::set_num_threads(2);
  auto two = run();
  CHECK(one == two);
}

TEST_CASE("rms_norm by hand: values, weight, eps and its default", "[forward]") {
  // Row [3, 4]: mean square 12.5; row [0, 0]: y = 0 (eps keeps it finite).
  ts::Tensor x = ts::from_vector<double>({3, 4, 0, 0}, {2, 2});
  const double r = 1.0 / std::sqrt(12.5);
  std::vector<double> y = vals(ts::rms_norm(x, {2}, ts::Tensor(), 0.0).slice(0, 0, 1));
  CHECK(y[0] == Approx(3 * r).epsilon(1e-15));
  CHECK(y[1] == Approx(4 * r).epsilon(1e-15));
  y = vals(ts::rms_norm(x, {2}, ts::from_vector<double>({2, -1}), 0.5));
  const double re = 1.0 / std::sqrt(13.0);
  CHECK(y[0] == Approx(6 * re).epsilon(1e-15));
  CHECK(y[1] == Approx(-4 * re).epsilon(1e-15));
  CHECK((y[2] == 0.0 && y[3] == 0.0));
  // Default eps: the machine epsilon of the dtype, as torch.nn.functional.rms_norm.
  for (ts::DType dt : {ts::kFloat32, ts::kFloat64}) {
    const double eps = dt == ts::kFloat32 ? std::numeric_limits<float>::epsilon()
                                          : std::numeric_limits<double>::epsilon();
    ts::Tensor small = ts::from_vector<double>({1e-4, -2e-4}, {1, 2}).to(dt);
    CHECK(vals(ts::rms_norm(small, {2})) == vals(ts::rms_norm(small, {2}, ts::Tensor(), eps)));
    CHECK(vals(ts::rms_norm(small, {2})) != vals(ts::rms_norm(small, {2}, ts::Tensor(), 0.0)));
  }
  // Over two trailing dims: the same as over their flattening.
  ts::Tensor z = ts::randn({3, 2, 5}, ts::kFloat64);
  ts::Tensor w = ts::randn({2, 5}, ts::kFloat64);
  CHECK(vals(ts::rms_norm(z, {2, 5}, w, 1e-6)) ==
        vals(ts::rms_norm(z.reshape({3, 10}), {10}, w.reshape({10}), 1e-6)));
}

TEST_CASE("embedding passes no gradient to the padding row", "[forward]") {
  ts::Tensor w = ts::randn({3, 2}, ts::kFloat64).requires_grad_();
  ts::Tensor e = ts::embedding(w, ts::from_vector<int64_t>({1, 0, 1, 2}), 1);
  CHECK(vals(e.slice(0, 0, 1)) == vals(w.slice(0, 1, 2)));  // values are the padding row's
  e.sum().backward();
  CHECK(vals(w.grad()) == std::vector<double>{1, 1, 0, 0, 1, 1});
}
