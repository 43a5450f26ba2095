// Layers: forward and backward equal PyTorch's (float64 fixture from
// tests/fixtures/nn/make_nn_fixtures.py), gradcheck of every layer and of a composed model,
// Dropout's train/eval behaviour, containers, and clear errors for wrong inputs.
#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <memory>

#include "common/test_util.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/gradcheck.h"
#include "taesan/core/random.h"
#include "taesan/nn/nn.h"
#include "taesan/nn/transformer.h"
#include "taesan/ops/ops.h"

namespace ts = taesan;
namespace nn = ts::nn;

namespace {

using Forward = std::function<ts::Tensor(const ts::Tensor&)>;

/// Loads `name`.<param> of the fixture into the module, runs forward on `name`.x, backward of
/// sum(y * cot), and compares y and every gradient with PyTorch's.
void check_against_torch(const std::string& name, nn::Module& module, const Forward& forward) {
  INFO("layer " << name);
  static const auto file = ts::safetensors::load(ts::test::fixture("nn", "layers.safetensors"));
  module.to(ts::kFloat64);
  nn::NamedTensors params;
  for (const auto& [n, t] : module.named_parameters())
    params.emplace_back(n, file.find(name + "." + n));
  REQUIRE(module.load_state_dict(params).ok());
  ts::Tensor x = file.find(name + ".x").clone();
  if (x.dtype() == ts::kFloat64) x.requires_grad_();
  const ts::Tensor y = forward(x);
  CHECK(ts::test::max_scaled_error(y, file.find(name + ".y")) < 1e-12);
  (y * file.find(name + ".cot")).sum().backward();
  if (x.requires_grad())
    CHECK(ts::test::max_scaled_error(x.grad(), file.find(name + ".grad_x")) < 1e-10);
  for (const auto& [n, p] : module.named_parameters()) {
    INFO("gradient of " << n);
    REQUIRE(p.grad().defined());
    CHECK(ts::test::max_scaled_error(p.grad(), file.find(name + ".grad_" + n)) < 1e-10);
  }
}

/// gradcheck of `forward` with respect to x and every parameter of `module` (float64).
void check_gradients(const std::string& name, nn::Module& module, const ts::Tensor& x,
                     const Forward& forward) {
  INFO("layer " << name);
  module.to(ts::kFloat64);
  ts::TensorList inputs{x};
  for (const auto& p : module.parameters()) inputs.push_back(p);
  const ts::GradcheckResult r =
      ts::gradcheck([&](const ts::TensorList& in) { return forward(in[0]); }, inputs);
  INFO(r.report);
  CHECK(r.ok);
}

ts::Tensor randn64(const ts::Shape& shape) {
  return ts::randn(shape, ts::kFloat64).requires_grad_();
}

}  // namespace

TEST_CASE("layers match PyTorch forward and backward", "[nn][layers][parity]") {
  nn::Linear linear(5, 3), linear_nobias(5, 3, false), linear_3d(5, 3);
  check_against_torch("linear", linear, [&](const ts::Tensor& x) { return linear.forward(x); });
  check_against_torch("linear_nobias", linear_nobias,
                      [&](const ts::Tensor& x) { return linear_nobias.forward(x); });
  check_against_torch("linear_3d", linear_3d,
                      [&](const ts::Tensor& x) { return linear_3d.forward(x); });
  nn::Embedding emb(10, 4, 2);
  check_against_torch("embedding", emb, [&](const ts::Tensor& x) { return emb.forward(x); });
  nn::LayerNorm ln(6), ln2(ts::Shape{3, 4});
  check_against_torch("layer_norm", ln, [&](const ts::Tensor& x) { return ln.forward(x); });
  check_against_torch("layer_norm_2d", ln2, [&](const ts::Tensor& x) { return ln2.forward(x); });
  nn::RMSNorm rms(6, 1e-6), rms2(ts::Shape{3, 4}, 1e-5);
  check_against_torch("rms_norm", rms, [&](const ts::Tensor& x) { return rms.forward(x); });
  check_against_torch("rms_norm_2d", rms2, [&](const ts::Tensor& x) { return rms2.forward(x); });
  nn::GELU gelu, gelu_tanh("tanh");
  nn::ReLU relu;
  nn::Tanh tanh;
  check_against_torch("gelu", gelu, [&](const ts::Tensor& x) { return gelu.forward(x); });
  check_against_torch("gelu_tanh", gelu_tanh,
                      [&](const ts::Tensor& x) { return gelu_tanh.forward(x); });
  check_against_torch("relu", relu, [&](const ts::Tensor& x) { return relu.forward(x); });
  check_against_torch("tanh", tanh, [&](const ts::Tensor& x) { return tanh.forward(x); });
}

TEST_CASE("gradcheck of every layer", "[nn][layers][gradcheck]") {
  ts::manual_seed(11);
  nn::Linear linear(4, 3), linear_nobias(4, 2, false);
  check_gradients("Linear", linear, randn64({5, 4}),
                  [&](const ts::Tensor& x) { return linear.forward(x); });
  check_gradients("Linear 3-d input", linear, randn64({2, 3, 4}),
                  [&](const ts::Tensor& x) { return linear.forward(x); });
  check_gradients("Linear without bias", linear_nobias, randn64({3, 4}),
                  [&](const ts::Tensor& x) { return linear_nobias.forward(x); });

  nn::Embedding emb(7, 3);
  const ts::Tensor ids = ts::from_vector<int64_t>({0, 1, 6, 1, 3, 3}, {2, 3});
  emb.to(ts::kFloat64);
  const auto r =
      ts::gradcheck([&](const ts::TensorList&) { return emb.forward(ids); }, {emb.weight});
  INFO(r.report);
  CHECK(r.ok);
  // With padding_idx the padding row gets no gradient (so gradcheck does not apply to it) and
  // the other rows get one per use.
  nn::Embedding padded(7, 3, 1);
  padded.forward(ids).sum().backward();
  const auto g = padded.weight.grad().to_vector<float>();
  CHECK(g[1 * 3] == 0.0f);
  CHECK(g[3 * 3] == 2.0f);
  CHECK(g[6 * 3] == 1.0f);

  nn::LayerNorm ln(5), ln2(ts::Shape{2, 3});
  check_gradients("LayerNorm", ln, randn64({4, 5}),
                  [&](const ts::Tensor& x) { return ln.forward(x); });
  check_gradients("LayerNorm 2-d", ln2, randn64({2, 2, 3}),
                  [&](const ts::Tensor& x) { return ln2.forward(x); });
  nn::LayerNorm ln_nobias(5, 1e-5, true, false);
  check_gradients("LayerNorm without bias", ln_nobias, randn64({4, 5}),
                  [&](const ts::Tensor& x) { return ln_nobias.forward(x); });
  nn::RMSNorm rms(5), rms2(ts::Shape{2, 3}, 1e-5), rms_plain(5, 1e-6, false);
  rms.to(ts::kFloat64);
  ts::nn::init::uniform_(rms.weight, 0.5, 1.5);  // not all ones: the weight's gradient matters
  check_gradients("RMSNorm", rms, randn64({4, 5}),
                  [&](const ts::Tensor& x) { return rms.forward(x); });
  check_gradients("RMSNorm 2-d", rms2, randn64({2, 2, 3}),
                  [&](const ts::Tensor& x) { return rms2.forward(x); });
  check_gradients("RMSNorm without weight", rms_plain, randn64({3, 5}),
                  [&](const ts::Tensor& x) { return rms_plain.forward(x); });
  nn::GELU gelu, gelu_tanh("tanh");
  nn::ReLU relu;
  nn::Tanh tanh;
  check_gradients("GELU", gelu, randn64({3, 4}),
                  [&](const ts::Tensor& x) { return gelu.forward(x); });
  check_gradients("GELU tanh", gelu_tanh, randn64({3, 4}),
                  [&](const ts::Tensor& x) { return gelu_tanh.forward(x); });
  ts::Tensor away_from_kink =
      (ts::rand({3, 4}, ts::kFloat64) + 0.1) * ts::from_vector<double>({1, -1, 1, -1}, {4});
  check_gradients("ReLU", relu, away_from_kink.detach().requires_grad_(),
                  [&](const ts::Tensor& x) { return relu.forward(x); });
  check_gradients("Tanh", tanh, randn64({3, 4}),
                  [&](const ts::Tensor& x) { return tanh.forward(x); });
  nn::Dropout drop(0.3);
  check_gradients("Dropout (train, fixed mask)", drop, randn64({4, 5}), [&](const ts::Tensor& x) {
    ts::manual_seed(5);  // the same mask at every evaluation
    return drop.forward(x);
  });
}

TEST_CASE("gradcheck of a composed model through all its parameters", "[nn][layers][gradcheck]") {
  ts::manual_seed(12);
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(3, 6), std::make_shared<nn::LayerNorm>(6),
      std::make_shared<nn::GELU>(), std::make_shared<nn::Dropout>(0.2),
      std::make_shared<nn::Linear>(6, 2), std::make_shared<nn::Tanh>());
  CHECK(model->parameters().size() == 6);
  check_gradients("Sequential", *model, randn64({4, 3}), [&](const ts::Tensor& x) {
    ts::manual_seed(9);
    return model->forward(x);
  });
  struct Classifier : nn::Module {  // embeddings, mean pooling, MLP head
    std::shared_ptr<nn::Embedding> emb =
        register_module("emb", std::make_shared<nn::Embedding>(9, 4, 0));
    std::shared_ptr<nn::Linear> fc = register_module("fc", std::make_shared<nn::Linear>(4, 3));
    ts::Tensor forward(const ts::Tensor& ids) const {
      return fc->forward(ts::relu(emb->forward(ids).mean(1)));
    }
  };
  Classifier clf;
  clf.to(ts::kFloat64);
  const ts::Tensor ids = ts::from_vector<int64_t>({1, 2, 4, 5, 8, 8}, {2, 3});  // no padding id
  const ts::Tensor targets = ts::from_vector<int64_t>({2, 0});
  const auto r = ts::gradcheck(
      [&](const ts::TensorList&) { return ts::cross_entropy(clf.forward(ids), targets); },
      clf.parameters());
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("Dropout drops in training and is the identity in eval", "[nn][layers]") {
  ts::manual_seed(3);
  nn::Dropout drop(0.25);
  const ts::Tensor x = ts::ones({100, 100});
  const auto y = drop.forward(x).to_vector<float>();
  int zeros = 0;
  for (float v : y) {
    if (v == 0.0f)
      ++zeros;
    else
      CHECK(v == Approx(1.0 / 0.75));
  }
  CHECK(zeros == Approx(2500).margin(250));
  drop.eval();
  CHECK(drop.forward(x).to_vector<float>() == x.to_vector<float>());
  CHECK_THROWS_WITH(nn::Dropout(1.5), Catch::Contains("1.5"));
}

TEST_CASE("containers name, index and run their children", "[nn][layers]") {
  auto seq = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(2, 3),
                                              std::make_shared<nn::ReLU>());
  seq->push_back(std::make_shared<nn::Linear>(3, 1));
  CHECK(seq->size() == 3);
  std::vector<std::string> names;
  for (const auto& [n, t] : seq->named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  CHECK(seq->forward(ts::ones({4, 2})).shape() == ts::Shape{4, 1});
  CHECK(seq->at<nn::Linear>(2)->in_features() == 3);
  CHECK_THROWS_WITH(seq->at<nn::Linear>(1), Catch::Contains("ReLU"));
  CHECK_THROWS_WITH((*seq)[3], Catch::Contains("out of range"));
  nn::ModuleList list(std::make_shared<nn::Linear>(2, 2), std::make_shared<nn::Linear>(2, 2));
  CHECK(list.size() == 2);
  CHECK(list[-1] == list[1]);
  CHECK_THROWS_WITH(list[2], Catch::Contains("out of range"));
  int n = 0;
  for (const auto& m : list) n += m->name() == "Linear";
  CHECK(n == 2);
}

TEST_CASE("layers reject wrong inputs with clear errors", "[nn][layers]") {
  nn::Linear fc(4, 2);
  CHECK_THROWS_WITH(fc.forward(ts::ones({3, 5})),
                    Catch::Contains("Linear(4, 2)") && Catch::Contains("[3, 5]"));
  nn::Embedding emb(5, 2);
  CHECK_THROWS_WITH(emb.forward(ts::ones({3})), Catch::Contains("int64"));
  CHECK_THROWS_AS(emb.forward(ts::from_vector<int64_t>({7})), ts::Error);
  CHECK_THROWS_WITH(nn::Embedding(5, 2, 5), Catch::Contains("padding_idx"));
  CHECK(nn::Embedding(5, 2, -1).padding_idx() == 4);
  nn::LayerNorm ln(4);
  CHECK_THROWS_WITH(ln.forward(ts::ones({4, 3})), Catch::Contains("ending in [4]"));
  nn::RMSNorm rms(4);
  CHECK_THROWS_WITH(rms.forward(ts::ones({4, 3})),
                    Catch::Contains("RMSNorm[4]") && Catch::Contains("ending in [4]"));
  CHECK_THROWS_WITH(nn::RMSNorm(4, -1.0), Catch::Contains("RMSNorm") && Catch::Contains("-1"));
  CHECK_THROWS_WITH(nn::RMSNorm(0), Catch::Contains("RMSNorm") && Catch::Contains("[0]"));
  CHECK(rms.named_parameters().size() == 1);
  CHECK(rms.named_parameters()[0].first == "weight");
  CHECK(nn::RMSNorm(4, std::nullopt, false).parameters().empty());
  CHECK_THROWS_WITH(nn::GELU("fast"), Catch::Contains("fast"));
  CHECK_THROWS_AS(nn::Linear(-1, 2), ts::Error);
  // Position tables: sizes and offsets whose arithmetic would overflow are refused (a table of
  // max_len * d_model once wrapped to 4 floats and was written past its end).
  const int64_t huge = std::numeric_limits<int64_t>::max();
  CHECK_THROWS_WITH(nn::PositionalEncoding(4, (int64_t{1} << 62) + 1),
                    Catch::Contains("too large"));
  nn::PositionalEncoding sinus(8, 10);
  nn::LearnedPositionalEmbedding learned(10, 8);
  CHECK_THROWS_WITH(sinus.forward(ts::zeros({1, 1, 8}), huge),
                    Catch::Contains("exceed max_len 10"));
  CHECK_THROWS_WITH(learned.forward(ts::zeros({1, 1, 8}), huge),
                    Catch::Contains("exceed max_len 10"));
  CHECK_THROWS_WITH(sinus.forward(ts::zeros({1, 11, 8})), Catch::Contains("exceed max_len 10"));
  CHECK(learned.forward(ts::zeros({1, 3, 8}), 7).shape() == ts::Shape{1, 3, 8});
}
