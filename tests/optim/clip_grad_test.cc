// clip_grad_norm equals torch.nn.utils.clip_grad_norm_ (2-, inf-, 1- and 1.5-norms; fixture),
// leaves small gradients alone, and handles non-finite norms as documented.
#include "taesan/optim/clip_grad.h"

#include <catch2/catch.hpp>
#include <cmath>

#include "common/test_util.h"
#include "taesan/autograd/factory.h"
#include "taesan/nn/safetensors.h"

namespace ts = taesan;

TEST_CASE("clip_grad_norm matches PyTorch", "[optim][clip]") {
  const auto file = ts::safetensors::load(ts::test::fixture("optim", "clip_grad.safetensors"));
  for (auto [tag, p] : {std::pair{"l2", 2.0}, {"inf", INFINITY}, {"p1_5", 1.5}, {"l1", 1.0}}) {
    INFO("norm " << tag);
    ts::TensorList params;
    for (int i = 0; i < 3; ++i) {
      ts::Tensor grad = file.find(fmt::format("{}.grad{}", tag, i));
      REQUIRE(grad.defined());
      ts::Tensor param = ts::zeros(grad.shape(), ts::kFloat64).requires_grad_();
      param.set_grad(grad.clone());
      params.push_back(param);
    }
    const double total = ts::optim::clip_grad_norm(params, 1.0, {.norm_type = p});
    const double want = file.find(std::string(tag) + ".total").item<double>();
    CHECK(total == Approx(want).epsilon(1e-12));
    CHECK(total > 1.0);  // the fixture's gradients are clipped
    for (int i = 0; i < 3; ++i)
      CHECK(ts::test::max_scaled_error(params[i].grad(),
                                       file.find(fmt::format("{}.clipped{}", tag, i))) < 1e-12);
  }
}

TEST_CASE("clip_grad_norm handles small, missing and non-finite gradients", "[optim][clip]") {
  ts::Tensor a = ts::zeros({3}).requires_grad_();
  ts::Tensor b = ts::zeros({2}).requires_grad_();  // no gradient: skipped
  a.set_grad(ts::from_vector<float>({0.3f, 0.4f, 0.0f}));
  CHECK(ts::optim::clip_grad_norm({a, b}, 1.0) == Approx(0.5).epsilon(1e-6));
  CHECK(a.grad().to_vector<float>() == std::vector<float>{0.3f, 0.4f, 0.0f});  // unchanged
  CHECK(ts::optim::clip_grad_norm({b}, 1.0) == 0.0);

  a.set_grad(ts::from_vector<float>({3.0f, NAN, 4.0f}));
  const double norm = ts::optim::clip_grad_norm({a}, 1.0);
  CHECK(std::isnan(norm));
  CHECK(a.grad().to_vector<float>()[0] == 3.0f);  // left for the caller to skip the step
  CHECK_THROWS_WITH(ts::optim::clip_grad_norm({a}, 1.0, {.error_if_nonfinite = true}),
                    Catch::Contains("not finite"));
  a.set_grad(ts::from_vector<float>({3.0f, INFINITY, 4.0f}));
  CHECK(std::isinf(ts::optim::clip_grad_norm({a}, 1.0, {.norm_type = INFINITY})));
  CHECK_THROWS_AS(ts::optim::clip_grad_norm({a}, -1.0), ts::Error);
  CHECK_THROWS_AS(ts::optim::clip_grad_norm({a}, 1.0, {.norm_type = 0}), ts::Error);
}
