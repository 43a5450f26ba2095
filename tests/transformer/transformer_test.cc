// Transformer blocks: gradcheck of attention and layers in float64, the causal and padding
// properties tested directly, incremental decoding equal to a full pass, and bad input.
#include <catch2/catch.hpp>
#include <limits>

#include <taesan/taesan.h>

namespace ts = taesan;
namespace nn = ts::nn;
using ts::Tensor;
using ts::TensorList;
using Catch::Matchers::Contains;

namespace {

// Runs fn with the module's parameters replaced by the gradcheck inputs (all float64).
template <typename M>
ts::GradcheckResult check_module(M& module, const TensorList& extra_inputs,
                                 const std::function<Tensor(const TensorList&)>& fn) {
  module.to(ts::kFloat64);
  module.eval();  // no dropout
  TensorList inputs = extra_inputs;
  for (const Tensor& p : module.parameters()) inputs.push_back(p);
  return ts::gradcheck(fn, inputs, {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3});
}

Tensor rnd(ts::Shape s) { return ts::randn(s, ts::kFloat64).requires_grad_(); }

}  // namespace

TEST_CASE("MultiheadAttention passes gradcheck with every kind of mask", "[transformer][gradcheck]") {
  ts::manual_seed(1);
  nn::MultiheadAttention mha(4, 2);
  Tensor x = rnd({2, 3, 4}), mem = rnd({2, 4, 4});
  Tensor kpm = ts::from_vector<bool>({false, false, false, true, false, false, true, true}, {2, 4});
  Tensor causal = ts::gt(ts::arange(3).unsqueeze(0), ts::arange(3).unsqueeze(1));  // bool (3, 3)
  SECTION("self-attention, causal flag") {
    auto r = check_module(mha, {x}, [&](const TensorList& in) {
      return mha.forward(in[0], in[0], in[0], {.is_causal = true}).output;
    });
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("self-attention, bool attn_mask and weights") {
    auto r = check_module(mha, {x}, [&](const TensorList& in) {
      auto out = mha.forward(in[0], in[0], in[0], {.attn_mask = causal, .need_weights = true});
      return ts::add(out.output.sum(), out.weights.sum(-1).sum() * 0.0) + out.weights.pow(2).sum();
    });
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("cross-attention with key padding") {
    auto r = check_module(mha, {x, mem}, [&](const TensorList& in) {
      return mha.forward(in[0], in[1], in[1], {.key_padding_mask = kpm}).output;
    });
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("encoder and decoder layers pass gradcheck (post-LN and pre-LN)", "[transformer][gradcheck]") {
  ts::manual_seed(2);
  for (bool norm_first : {false, true}) {
    INFO("norm_first " << norm_first);
    nn::TransformerEncoderLayer enc(4, 2, 6, {.dropout = 0.1, .activation = "gelu", .norm_first = norm_first});
    Tensor x = rnd({2, 3, 4});
    auto r = check_module(enc, {x}, [&](const TensorList& in) {
      return enc.forward(in[0], {.is_causal = true});
    });
    INFO(r.report);
    CHECK(r.ok);
    nn::TransformerDecoderLayer dec(4, 2, 6, {.dropout = 0.1, .norm_first = norm_first});
    Tensor t = rnd({1, 3, 4}), m = rnd({1, 2, 4});
    auto r2 = check_module(dec, {t, m}, [&](const TensorList& in) {
      return dec.forward(in[0], in[1], {.tgt_is_causal = true});
    });
    INFO(r2.report);
    CHECK(r2.ok);
  }
}

TEST_CASE("a 2-layer encoder-decoder passes gradcheck", "[transformer][gradcheck]") {
  ts::manual_seed(3);
  nn::Transformer model({.d_model = 4, .nhead = 2, .num_encoder_layers = 2, .num_decoder_layers = 2,
                         .dim_feedforward = 4});
  Tensor src = rnd({1, 3, 4}), tgt = rnd({1, 2, 4});
  auto r = check_module(model, {src, tgt}, [&](const TensorList& in) {
    return model.forward(in[0], in[1], {}, {.tgt_is_causal = true});
  });
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("the decoder never looks ahead: outputs at t are unchanged by inputs after t", "[transformer]") {
  ts::manual_seed(4);
  nn::TransformerEncoder stack(8, 2, 16, 2, {.dropout = 0.0, .norm_first = true}, true);
  stack.eval();
  Tensor x = ts::randn({2, 6, 8});
  Tensor y = stack.forward(x, {.is_causal = true});
  for (int64_t t = 0; t < 5; ++t) {
    Tensor x2 = x.clone();
    {
      ts::NoGradGuard g;
      x2.slice(1, t + 1, 6).copy_(ts::randn({2, 5 - t, 8}));
    }
    Tensor y2 = stack.forward(x2, {.is_causal = true});
    CHECK(y2.slice(1, 0, t + 1).to_vector<float>() == y.slice(1, 0, t + 1).to_vector<float>());
    CHECK(y2.slice(1, t + 1, 6).to_vector<float>() != y.slice(1, t + 1, 6).to_vector<float>());
  }
}

TEST_CASE("padded positions do not change the other outputs", "[transformer]") {
  ts::manual_seed(5);
  nn::TransformerEncoderLayer layer(8, 2, 16, {.dropout = 0.0});
  layer.eval();
  Tensor x = ts::randn({2, 5, 8});
  Tensor pad = ts::from_vector<bool>({false, false, false, true, true, false, false, false, false, false}, {2, 5});
  Tensor y = layer.forward(x, {.src_key_padding_mask = pad});
  Tensor x2 = x.clone();
  {
    ts::NoGradGuard g;
    x2.slice(0, 0, 1).slice(1, 3, 5).copy_(ts::randn({1, 2, 8}) * 10.0);
  }
  Tensor y2 = layer.forward(x2, {.src_key_padding_mask = pad});
  auto a = y.slice(0, 0, 1).slice(1, 0, 3).to_vector<float>();
  auto b = y2.slice(0, 0, 1).slice(1, 0, 3).to_vector<float>();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-5));
  CHECK(y.slice(0, 1, 2).to_vector<float>() == y2.slice(0, 1, 2).to_vector<float>());
}

TEST_CASE("incremental decoding with the KV cache gives the full pass's outputs", "[transformer]") {
  ts::manual_seed(6);
  nn::TransformerDecoder dec(8, 2, 16, 2, {.dropout = 0.0}, true);
  dec.eval();
  Tensor tgt = ts::randn({2, 5, 8}), memory = ts::randn({2, 4, 8});
  Tensor full = dec.forward(tgt, memory, {.tgt_is_causal = true});
  auto caches = dec.new_cache();
  for (int64_t t = 0; t < 5; ++t) {
    Tensor step = dec.forward(tgt.slice(1, t, t + 1), memory, {.tgt_is_causal = true}, &caches);
    auto a = step.to_vector<float>(), b = full.slice(1, t, t + 1).to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-5));
  }
  CHECK(caches[0].self_attn.length() == 5);
  // A chunk of two positions at once also matches.
  auto caches2 = dec.new_cache();
  dec.forward(tgt.slice(1, 0, 3), memory, {.tgt_is_causal = true}, &caches2);
  Tensor chunk = dec.forward(tgt.slice(1, 3, 5), memory, {.tgt_is_causal = true}, &caches2);
  auto a = chunk.to_vector<float>(), b = full.slice(1, 3, 5).to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i] == Approx(b[i]).margin(1e-5));
}

TEST_CASE("bad transformer input is a clear error", "[transformer][errors]") {
  CHECK_THROWS_WITH(nn::MultiheadAttention(10, 3), Contains("divisible") && Contains("10") && Contains("3"));
  CHECK_THROWS_WITH(nn::MultiheadAttention(6, 2, {.kdim = -1}), Contains("kdim"));
  nn::MultiheadAttention mha(8, 2);
  Tensor x = ts::randn({2, 3, 8});
  CHECK_THROWS_WITH(mha.forward(ts::randn({2, 3, 6}), x, x), Contains("query"));
  CHECK_THROWS_WITH(mha.forward(x, x, x, {.attn_mask = ts::ones({4, 4}, ts::kBool)}), Contains("attn_mask"));
  CHECK_THROWS_WITH(mha.forward(x, x, x, {.key_padding_mask = ts::ones({2, 5}, ts::kBool)}),
                    Contains("key_padding_mask"));
  CHECK_THROWS_WITH(ts::scaled_dot_product_attention(ts::randn({1, 2, 3, 4}), ts::randn({1, 2, 3, 5}),
                                                     ts::randn({1, 2, 3, 4})),
                    Contains("head dim"));
  CHECK_THROWS_WITH(ts::scaled_dot_product_attention(x, x, x, ts::ones({5, 5}, ts::kBool)), Contains("attn_mask"));
  CHECK_THROWS_WITH(nn::TransformerEncoderLayer(8, 2, 16, {.activation = "swish"}), Contains("swish"));
}

TEST_CASE("memory_is_causal masks the memory as a causal memory_mask does", "[transformer]") {
  ts::manual_seed(41);
  nn::TransformerDecoderLayer layer(4, 2, 8, {.dropout = 0.0});
  layer.eval();
  const Tensor tgt = ts::randn({2, 4, 4}), memory = ts::randn({2, 4, 4});
  const Tensor causal =
      ts::gt(ts::arange(4).unsqueeze(0), ts::arange(4).unsqueeze(1));  // true above the diagonal
  const Tensor with_flag = layer.forward(tgt, memory, {.memory_is_causal = true});
  const Tensor with_mask = layer.forward(tgt, memory, {.memory_mask = causal});
  const Tensor unmasked = layer.forward(tgt, memory);
  const auto a = with_flag.to_vector<float>(), b = with_mask.to_vector<float>(),
             c = unmasked.to_vector<float>();
  double flag_vs_mask = 0, flag_vs_none = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    flag_vs_mask = std::max(flag_vs_mask, double(std::abs(a[i] - b[i])));
    flag_vs_none = std::max(flag_vs_none, double(std::abs(a[i] - c[i])));
  }
  CHECK(flag_vs_mask < 1e-5);
  CHECK(flag_vs_none > 1e-3);  // the mask matters for these inputs
}

TEST_CASE("layer_norm_eps reaches every LayerNorm of the blocks and the computation",
          "[transformer]") {
  const double eps = 0.5;
  auto eps_of_all_norms = [](nn::Module& m) {
    std::vector<double> out;
    m.apply([&](nn::Module& sub) {
      if (auto* ln = dynamic_cast<nn::LayerNorm*>(&sub)) out.push_back(ln->eps());
    });
    return out;
  };
  nn::TransformerEncoder enc(4, 2, 8, 2, {.dropout = 0.0, .layer_norm_eps = eps}, true);
  nn::TransformerDecoder dec(4, 2, 8, 2, {.dropout = 0.0, .layer_norm_eps = eps}, true);
  CHECK(eps_of_all_norms(enc) == std::vector<double>(5, eps));  // 2 per layer + the final one
  CHECK(eps_of_all_norms(dec) == std::vector<double>(7, eps));  // 3 per layer + the final one
  // A large eps changes the output against the default, on the same weights.
  ts::manual_seed(42);
  nn::TransformerEncoderLayer big(4, 2, 8, {.dropout = 0.0, .layer_norm_eps = eps});
  ts::manual_seed(42);
  nn::TransformerEncoderLayer small(4, 2, 8, {.dropout = 0.0});
  big.eval();
  small.eval();
  const Tensor x = ts::randn({1, 3, 4});
  const auto a = big.forward(x).to_vector<float>(), b = small.forward(x).to_vector<float>();
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = std::max(diff, double(std::abs(a[i] - b[i])));
  CHECK(diff > 1e-2);
}
