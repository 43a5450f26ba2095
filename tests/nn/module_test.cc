// nn::Module: registration and its checks, dotted names in PyTorch's order, buffers, children,
// train/eval propagation, zero_grad, parameter counts, printing, dtype conversion, state dicts.
#include <catch2/catch.hpp>
#include <limits>
#include <memory>

#include "taesan/autograd/factory.h"
#include "taesan/core/random.h"
#include "taesan/nn/nn.h"
#include "taesan/ops/ops.h"

namespace ts = taesan;
namespace nn = ts::nn;

namespace {

// The example of API.md.
struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc1, fc2;
  Net() {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(2, 8));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(8, 1));
  }
  ts::Tensor forward(const ts::Tensor& x) { return fc2->forward(ts::tanh(fc1->forward(x))); }
};

struct Block : nn::Module {
  std::shared_ptr<nn::Linear> proj;
  std::shared_ptr<nn::Dropout> drop;
  Block() {
    proj = register_module("proj", std::make_shared<nn::Linear>(4, 4, /*bias=*/false));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.1));
    register_buffer("running", ts::zeros({4}));
    register_buffer("scratch", ts::zeros({2}), /*persistent=*/false);
  }
};

struct Encoder : nn::Module {
  std::shared_ptr<nn::ModuleList> layers;
  ts::Tensor scale;
  Encoder() {
    layers = register_module("layers", std::make_shared<nn::ModuleList>());
    layers->push_back(std::make_shared<Block>());
    layers->push_back(std::make_shared<Block>());
    // Registered after the children: still listed first, as PyTorch does.
    scale = register_parameter("scale", ts::ones({1}));
  }
};

std::vector<std::string> names(const nn::NamedTensors& named) {
  std::vector<std::string> out;
  for (const auto& [n, t] : named) out.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("parameters have dotted names in PyTorch's order", "[nn][module]") {
  auto net = std::make_shared<Net>();
  CHECK(names(net->named_parameters()) ==
        std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"});
  CHECK(net->parameters().size() == 4);
  CHECK(net->parameters()[0].impl() == net->fc1->weight.impl());
  CHECK(net->num_parameters() == 2 * 8 + 8 + 8 * 1 + 1);
  CHECK(net->children().size() == 2);
  CHECK(net->named_children()[1].first == "fc2");
  CHECK(names(net->named_parameters(/*recurse=*/false)).empty());
  for (const auto& p : net->parameters()) CHECK(p.requires_grad());

  Encoder enc;
  CHECK(names(enc.named_parameters()) ==
        std::vector<std::string>{"scale", "layers.0.proj.weight", "layers.1.proj.weight"});
  CHECK(names(enc.named_buffers()) ==
        std::vector<std::string>{"layers.0.running", "layers.0.scratch", "layers.1.running",
                                 "layers.1.scratch"});
  // state_dict: own parameters, own persistent buffers, then each child (a Block's buffer
  // comes before its child's weight).
  CHECK(names(enc.state_dict()) ==
        std::vector<std::string>{"scale", "layers.0.running", "layers.0.proj.weight",
                                 "layers.1.running", "layers.1.proj.weight"});
}

TEST_CASE("registration rejects bad names and tensors", "[nn][module]") {
  nn::Module m;
  m.register_parameter("w", ts::zeros({2}));
  CHECK_THROWS_WITH(m.register_parameter("w", ts::zeros({2})),
                    Catch::Contains("already a parameter"));
  CHECK_THROWS_WITH(m.register_buffer("w", ts::zeros({2})), Catch::Contains("already a parameter"));
  CHECK_THROWS_WITH(m.register_parameter("a.b", ts::zeros({2})), Catch::Contains("'.'"));
  CHECK_THROWS_WITH(m.register_parameter("", ts::zeros({2})), Catch::Contains("empty"));
  CHECK_THROWS_WITH(m.register_parameter("i", ts::zeros({2}, ts::kInt64)),
                    Catch::Contains("floating-point"));
  CHECK_THROWS_WITH(m.register_parameter("u", ts::Tensor()), Catch::Contains("undefined"));
  ts::Tensor leaf = ts::ones({2}).requires_grad_();
  CHECK_THROWS_WITH(m.register_parameter("n", leaf * 2.0), Catch::Contains("grad_fn"));
  CHECK_THROWS_WITH(m.register_module("null", std::shared_ptr<nn::Linear>()),
                    Catch::Contains("null"));
  m.register_module("child", std::make_shared<nn::ReLU>());
  CHECK_THROWS_WITH(m.register_buffer("child", ts::zeros({1})), Catch::Contains("already a child"));
}

TEST_CASE("a tensor registered twice is one parameter but two state entries", "[nn][module]") {
  struct Tied : nn::Module {
    std::shared_ptr<nn::Embedding> emb;
    std::shared_ptr<nn::Linear> head;
    Tied() {
      emb = register_module("emb", std::make_shared<nn::Embedding>(5, 3));
      head = register_module("head", std::make_shared<nn::Linear>(3, 5, false));
    }
  };
  Tied t;
  struct Holder : nn::Module {
    explicit Holder(const ts::Tensor& w) { register_parameter("weight", w); }
  };
  nn::Module root;
  root.register_module("a", std::make_shared<Holder>(t.emb->weight));
  root.register_module("b", std::make_shared<Holder>(t.emb->weight));
  CHECK(root.parameters().size() == 1);
  CHECK(root.num_parameters() == 15);
  CHECK(names(root.state_dict()) == std::vector<std::string>{"a.weight", "b.weight"});
}

TEST_CASE("train and eval reach every descendant", "[nn][module]") {
  Encoder enc;
  CHECK(enc.is_training());
  enc.eval();
  CHECK_FALSE(enc.is_training());
  CHECK_FALSE(enc.layers->at<Block>(1)->drop->is_training());
  enc.train();
  CHECK(enc.layers->at<Block>(-1)->drop->is_training());
  int visited = 0;
  enc.apply([&](nn::Module&) { ++visited; });
  CHECK(visited == 1 + 1 + 2 * 3);
}

TEST_CASE("zero_grad clears or zeroes every gradient", "[nn][module]") {
  auto net = std::make_shared<Net>();
  ts::Tensor x = ts::randn({3, 2});
  net->forward(x).sum().backward();
  for (const auto& p : net->parameters()) REQUIRE(p.grad().defined());
  net->zero_grad(/*set_to_none=*/false);
  for (const auto& p : net->parameters()) {
    REQUIRE(p.grad().defined());
    for (float v : p.grad().to_vector<float>()) CHECK(v == 0.0f);
  }
  net->zero_grad();
  for (const auto& p : net->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("modules print as a tree with parameter counts", "[nn][module]") {
  auto net = std::make_shared<Net>();
  const std::string expected =
      "Net(  # 33 parameters\n"
      "  (fc1): Linear(in_features=2, out_features=8, bias=true)  # 24 parameters\n"
      "  (fc2): Linear(in_features=8, out_features=1, bias=true)  # 9 parameters\n"
      ")";
  CHECK(net->to_string() == expected);
  CHECK(fmt::format("{}", net) == expected);
  CHECK(fmt::format("{}", *net) == expected);
  auto seq = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Embedding>(1000, 64, 0), std::make_shared<nn::LayerNorm>(64),
      std::make_shared<nn::GELU>("tanh"), std::make_shared<nn::Dropout>(0.1));
  CHECK(seq->to_string() ==
        "Sequential(  # 64,128 parameters\n"
        "  (0): Embedding(1000, 64, padding_idx=0)  # 64,000 parameters\n"
        "  (1): LayerNorm((64,), eps=1e-05, elementwise_affine=true)  # 128 parameters\n"
        "  (2): GELU(approximate='tanh')  # 0 parameters\n"
        "  (3): Dropout(p=0.1)  # 0 parameters\n"
        ")");
  CHECK(nn::format_count(1234567) == "1,234,567");
  CHECK(nn::format_count(999) == "999");
  CHECK(nn::format_count(-1234) == "-1,234");
  CHECK(nn::format_count(std::numeric_limits<int64_t>::min()) == "-9,223,372,036,854,775,808");
}

TEST_CASE("Module::to converts parameters in place", "[nn][module]") {
  auto net = std::make_shared<Net>();
  const auto before = net->fc1->weight.to_vector<double>();
  net->to(ts::kFloat64);
  CHECK(net->fc1->weight.dtype() == ts::kFloat64);  // the layer's own handle sees it
  CHECK(net->parameters()[0].dtype() == ts::kFloat64);
  CHECK(net->fc1->weight.to_vector<double>() == before);
  CHECK(net->fc1->weight.requires_grad());
  CHECK(net->forward(ts::randn({2, 2}, ts::kFloat64)).dtype() == ts::kFloat64);
  CHECK_THROWS_AS(net->to(ts::kInt64), ts::Error);
}

TEST_CASE("load_state_dict checks names and shapes", "[nn][module]") {
  ts::manual_seed(1);
  Net a;
  ts::manual_seed(2);
  Net b;
  REQUIRE(a.fc1->weight.to_vector<float>() != b.fc1->weight.to_vector<float>());
  b.load_state_dict(a.state_dict());
  CHECK(a.fc1->weight.to_vector<float>() == b.fc1->weight.to_vector<float>());
  CHECK(a.fc2->bias.to_vector<float>() == b.fc2->bias.to_vector<float>());

  ts::manual_seed(3);
  Net c;
  const auto c_before = c.fc2->weight.to_vector<float>();
  nn::NamedTensors partial = a.state_dict();
  partial.erase(partial.begin());                        // fc1.weight missing
  partial[0].second = ts::zeros({9});                    // fc1.bias mismatched
  partial.emplace_back("extra.weight", ts::zeros({1}));  // unexpected
  try {
    c.load_state_dict(partial);
    FAIL("expected a ts::Error");
  } catch (const ts::Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("fc1.weight") && Catch::Contains("extra.weight") &&
                        Catch::Contains("fc1.bias: source [9] float32, module [8] float32"));
  }
  CHECK(c.fc2->weight.to_vector<float>() == c_before);  // nothing written
  const nn::LoadResult r = c.load_state_dict(partial, /*strict=*/false);
  CHECK(r.missing_keys == std::vector<std::string>{"fc1.weight"});
  CHECK(r.unexpected_keys == std::vector<std::string>{"extra.weight"});
  CHECK(r.mismatched_keys.size() == 1);
  CHECK(c.fc2->weight.to_vector<float>() == a.fc2->weight.to_vector<float>());  // loaded
  CHECK(c.fc1->bias.to_vector<float>() != a.fc1->bias.to_vector<float>());      // skipped

  // float64 sources convert into float32 modules.
  nn::NamedTensors doubles;
  for (const auto& [n, t] : a.state_dict()) doubles.emplace_back(n, t.to(ts::kFloat64));
  CHECK(c.load_state_dict(doubles).ok());
  CHECK(c.fc1->weight.to_vector<float>() == a.fc1->weight.to_vector<float>());
}
