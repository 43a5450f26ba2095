// ts::save / ts::load: module round trips, errors that name every mismatched tensor, the
// non-strict mode for transfer learning, and a PyTorch-written state dict that loads into the
// matching taesan model and reproduces PyTorch's outputs.
#include <catch2/catch.hpp>
#include <memory>

#include "common/test_util.h"
#include "taesan/autograd/factory.h"
#include "taesan/core/random.h"
#include "taesan/nn/nn.h"
#include "taesan/ops/ops.h"

namespace ts = taesan;
namespace nn = ts::nn;

namespace {

struct Net : nn::Module {
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Linear> head;
  explicit Net(int64_t classes = 3) {
    emb = register_module("emb", std::make_shared<nn::Embedding>(11, 4, 0));
    norm = register_module("norm", std::make_shared<nn::LayerNorm>(4));
    head = register_module("head", std::make_shared<nn::Linear>(4, classes));
    register_buffer("step", ts::zeros({1}, ts::kInt64));
  }
};

std::shared_ptr<nn::Sequential> torch_like_mlp() {
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(6, 16), std::make_shared<nn::LayerNorm>(16),
      std::make_shared<nn::GELU>(), std::make_shared<nn::Dropout>(0.2),
      std::make_shared<nn::Linear>(16, 4), std::make_shared<nn::Tanh>());
}

}  // namespace

TEST_CASE("save and load round-trip a module", "[nn][serialize]") {
  ts::test::ScratchDir dir;
  ts::manual_seed(1);
  auto a = std::make_shared<Net>();
  a->named_buffers()[0].second.fill_(42);
  ts::save(a, dir.file("net.safetensors"), {{"epoch", "3"}});
  ts::manual_seed(2);
  auto b = std::make_shared<Net>();
  REQUIRE(b->head->weight.to_vector<float>() != a->head->weight.to_vector<float>());
  CHECK(ts::load(b, dir.file("net.safetensors")).ok());
  for (size_t i = 0; i < a->state_dict().size(); ++i)
    CHECK(a->state_dict()[i].second.to_vector<double>() ==
          b->state_dict()[i].second.to_vector<double>());
  CHECK(ts::safetensors::load(dir.file("net.safetensors")).metadata.at("epoch") == "3");
  CHECK(ts::load(*b, dir.file("net.safetensors")).ok());  // Module& overload
}

TEST_CASE("strict load names every mismatch and changes nothing", "[nn][serialize]") {
  ts::test::ScratchDir dir;
  ts::manual_seed(1);
  auto five = std::make_shared<Net>(5);
  ts::save(five, dir.file("five.safetensors"));
  ts::manual_seed(2);
  auto three = std::make_shared<Net>(3);
  const auto before = three->head->weight.to_vector<float>();
  const auto emb_before = three->emb->weight.to_vector<float>();
  try {
    ts::load(three, dir.file("five.safetensors"));
    FAIL("expected a ts::Error");
  } catch (const ts::Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg,
               Catch::Contains("five.safetensors") &&
                   Catch::Contains("head.weight: source [5, 4] float32, module [3, 4] float32") &&
                   Catch::Contains("head.bias: source [5] float32, module [3] float32"));
  }
  CHECK(three->head->weight.to_vector<float>() == before);
  CHECK(three->emb->weight.to_vector<float>() == emb_before);

  // Transfer learning: load the body, keep the new head.
  const nn::LoadResult r = ts::load(three, dir.file("five.safetensors"), /*strict=*/false);
  CHECK(r.mismatched_keys.size() == 2);
  CHECK(r.missing_keys.empty());
  CHECK(three->emb->weight.to_vector<float>() == five->emb->weight.to_vector<float>());
  CHECK(three->head->weight.to_vector<float>() == before);
  CHECK_THAT(r.summary(), Catch::Contains("2 mismatched"));

  struct Bigger : Net {
    std::shared_ptr<nn::Linear> extra =
        register_module("extra", std::make_shared<nn::Linear>(2, 2));
  };
  auto bigger = std::make_shared<Bigger>();
  CHECK_THROWS_WITH(ts::load(bigger, dir.file("five.safetensors")),
                    Catch::Contains("missing") && Catch::Contains("extra.weight") &&
                        Catch::Contains("extra.bias"));
  ts::save(bigger, dir.file("bigger.safetensors"));
  CHECK_THROWS_WITH(ts::load(five, dir.file("bigger.safetensors")),
                    Catch::Contains("unexpected") && Catch::Contains("extra.weight"));
  CHECK_THROWS_WITH(ts::load(five, dir.file("absent.safetensors")), Catch::Contains("cannot open"));
}

TEST_CASE("a PyTorch state dict loads into the matching model and reproduces its outputs",
          "[nn][serialize][parity]") {
  auto mlp = torch_like_mlp();
  const nn::LoadResult r = ts::load(mlp, ts::test::fixture("nn", "torch_mlp.safetensors"));
  CHECK(r.ok());
  mlp->eval();
  const auto io = ts::safetensors::load(ts::test::fixture("nn", "torch_mlp_io.safetensors"));
  const ts::Tensor y = mlp->forward(io.find("x"));
  CHECK(ts::test::max_scaled_error(y, io.find("y")) < 1e-5);
  // Written back, the file holds the same names, shapes and values.
  ts::test::ScratchDir dir;
  ts::save(mlp, dir.file("back.safetensors"));
  const auto original = ts::safetensors::load(ts::test::fixture("nn", "torch_mlp.safetensors"));
  const auto back = ts::safetensors::load(dir.file("back.safetensors"));
  REQUIRE(back.tensors.size() == original.tensors.size());
  for (const auto& [n, t] : original.tensors)
    CHECK(back.find(n).to_vector<float>() == t.to_vector<float>());
}
