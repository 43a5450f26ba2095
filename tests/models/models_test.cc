// The three model families: float64 gradcheck of 2-layer models, overfitting one batch,
// incremental decoding equal to a full pass, and bad input.
#include <catch2/catch.hpp>

#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
using ts::Tensor;
using ts::TensorList;
using Catch::Matchers::Contains;

namespace {

models::ModelConfig tiny_config(int64_t vocab = 11) {
  models::ModelConfig c;
  c.vocab_size = vocab;
  c.max_position = 16;
  c.d_model = 4;
  c.num_heads = 2;
  c.num_layers = 2;
  c.d_ff = 6;
  c.dropout = 0.0;
  return c;
}

Tensor ids(std::vector<int64_t> v, int64_t b) {
  return ts::from_vector<int64_t>(v, {b, static_cast<int64_t>(v.size()) / b});
}

// gradcheck over every parameter of the model (float64) of a scalar function of its outputs.
template <typename M>
ts::GradcheckResult check_params(M& model, const std::function<Tensor()>& loss) {
  model.to(ts::kFloat64);
  model.eval();
  TensorList params = model.parameters();
  return ts::gradcheck([&](const TensorList&) { return loss(); }, params, {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3});
}

double train_steps(ts::nn::Module& model, const std::function<Tensor()>& loss, int steps, double lr) {
  ts::optim::AdamW opt(model.parameters(), {.lr = lr, .weight_decay = 0.0});
  double last = 0;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor l = loss();
    l.backward();
    opt.step();
    last = l.item<double>();
    if (last < 0.05) break;
  }
  return last;
}

}  // namespace

TEST_CASE("2-layer models of each kind pass gradcheck in float64", "[models][gradcheck]") {
  ts::manual_seed(10);
  Tensor x = ids({1, 2, 3, 6, 4, 5}, 2), mask = ids({1, 1, 1, 0, 1, 1}, 2);  // no pad id: its row gets no gradient by design
  SECTION("encoder (BERT-like)") {
    models::EncoderModel m(tiny_config());
    auto r = check_params(m, [&] { auto o = m.forward(x, mask); return o.hidden.pow(2).sum() + o.pooled.sum(); });
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("decoder-only (GPT-like)") {
    models::DecoderModel m(tiny_config());
    auto r = check_params(m, [&] { return ts::cross_entropy(m.forward(x).reshape({-1, 11}), ids({2, 3, 0, 4, 5, 6}, 1).reshape({-1})); });
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("masked LM loss at the masked positions only") {
    models::MaskedLanguageModel m(tiny_config());
    Tensor labels = ids({-100, 7, -100, -100, 9, -100}, 2);
    auto r = check_params(m, [&] { return m.loss(x, labels, mask); });
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("ELECTRA replaced-token detection (generator and discriminator, fixed draws)") {
    // The samples are fixed by (seed, stream); a step of 1e-6 in the generator's logits does not
    // move an inverse-CDF draw here, so the loss is smooth in every parameter around this point.
    // Every discriminator parameter, and the generator's head (its 64-wide body alone would
    // take half a minute of finite differences).
    models::ReplacedTokenDetection m(tiny_config());
    m.to(ts::kFloat64);
    m.eval();
    TensorList params;
    for (auto& [name, p] : m.named_parameters())
      if (name.rfind("generator.body.", 0) != 0) params.push_back(p);
    REQUIRE(params.size() > m.body->parameters().size() + 4);  // + dense, head, generator head
    Tensor masked = ids({1, 10, 3, 6, 10, 5}, 2), labels = ids({-100, 7, -100, -100, 9, -100}, 2);
    auto r = ts::gradcheck([&](const TensorList&) { return m.loss(masked, labels, mask, 3, 0).total; },
                           params, {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3});
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("sequence classifier with mean pooling") {
    models::SequenceClassifier m(tiny_config(), 3, 0.0, models::Pooling::kMean);
    auto r = check_params(m, [&] { return m.loss(m.forward(x, mask), ids({2, 0}, 2).reshape({-1})); });
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("token classifier with class weights") {
    models::TokenClassifier m(tiny_config(), 3);
    Tensor labels = ids({0, 2, 1, -100, 1, 2}, 2);
    Tensor w = ts::from_vector<double>({0.5, 2.0, 1.5});
    auto r = check_params(m, [&] { return m.loss(m.forward(x, mask), labels, w); });
    INFO(r.report);
    CHECK(r.ok);
  }
  SECTION("encoder-decoder") {
    models::EncoderDecoderModel m(tiny_config());
    auto r = check_params(m, [&] {
      return ts::cross_entropy(m.forward(x, mask, ids({7, 8, 9, 10}, 2)).reshape({-1, 11}), ids({8, 9, 10, 1}, 1).reshape({-1}));
    });
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("each model overfits a single batch", "[models][train]") {
  ts::manual_seed(11);
  models::ModelConfig c = tiny_config(32);
  c.d_model = 32, c.d_ff = 64, c.num_heads = 4;
  Tensor x = ids({3, 7, 1, 9, 4, 4, 2, 8, 5, 6, 10, 11, 12, 13, 14, 15}, 2);
  SECTION("decoder: next-token prediction") {
    models::DecoderModel m(c);
    Tensor inp = x.slice(1, 0, 7), tgt = x.slice(1, 1, 8);
    double loss = train_steps(m, [&] { return ts::cross_entropy(m.forward(inp).reshape({-1, 32}), tgt.reshape({-1})); }, 300, 1e-2);
    CHECK(loss < 0.05);
  }
  SECTION("encoder: classification of the pooled vector") {
    models::EncoderModel m(c);
    ts::nn::Linear head(32, 2);
    m.register_module("head", std::shared_ptr<ts::nn::Linear>(&head, [](auto*) {}));
    Tensor labels = ts::from_vector<int64_t>({0, 1});
    double loss = train_steps(m, [&] { return ts::cross_entropy(head.forward(m.forward(x).pooled), labels); }, 300, 1e-2);
    CHECK(loss < 0.05);
  }
  SECTION("encoder-decoder: copy the source") {
    models::EncoderDecoderModel m(c);
    Tensor dec_in = x.slice(1, 0, 7), dec_out = x.slice(1, 1, 8);
    double loss = train_steps(m, [&] { return ts::cross_entropy(m.forward(x, Tensor(), dec_in).reshape({-1, 32}), dec_out.reshape({-1})); }, 300, 1e-2);
    CHECK(loss < 0.05);
  }
}

TEST_CASE("incremental decoding gives the logits of a full forward pass", "[models]") {
  ts::manual_seed(12);
  models::ModelConfig c = tiny_config(20);
  c.d_model = 16, c.num_heads = 2;
  Tensor x = ids({1, 5, 7, 2, 9, 3, 4, 4, 8, 0}, 2);
  SECTION("decoder-only") {
    models::DecoderModel m(c);
    m.eval();
    Tensor full = m.forward(x);
    auto caches = m.new_cache();
    for (int64_t t = 0; t < 5; ++t) {
      auto a = m.forward(x.slice(1, t, t + 1), Tensor(), &caches).to_vector<float>();
      auto b = full.slice(1, t, t + 1).to_vector<float>();
      for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-5));
    }
  }
  SECTION("encoder-decoder") {
    models::EncoderDecoderModel m(c);
    m.eval();
    Tensor src = ids({3, 4, 5, 6, 7, 8}, 2);
    Tensor full = m.forward(src, Tensor(), x);
    Tensor memory = m.encode(src);
    auto caches = m.new_cache();
    for (int64_t t = 0; t < 5; ++t) {
      auto a = m.decode(x.slice(1, t, t + 1), memory, Tensor(), Tensor(), &caches).to_vector<float>();
      auto b = full.slice(1, t, t + 1).to_vector<float>();
      for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-5));
    }
  }
}

TEST_CASE("presets and bad model input", "[models][errors]") {
  auto tiny = models::ModelConfig::preset("tiny", 256);
  CHECK(tiny.d_model == 128);
  CHECK(tiny.to_string().find("d_model=128") != std::string::npos);
  models::DecoderModel gpt(tiny);
  // embeddings 256*128 + 128*128, 4 blocks of 12 d^2 + 13 d (approx), final norm
  CHECK(gpt.num_parameters() > 800000);
  CHECK(gpt.num_parameters() < 900000);
  CHECK_THROWS_WITH(models::ModelConfig::preset("huge", 10), Contains("huge"));
  models::ModelConfig bad = tiny_config();
  bad.num_heads = 3;
  CHECK_THROWS_WITH(models::EncoderModel(bad), Contains("num_heads"));
  models::DecoderModel m(tiny_config());
  CHECK_THROWS_WITH(m.forward(ids({1, 11}, 1)), Contains("11") && Contains("vocabulary"));
  CHECK_THROWS_WITH(m.forward(ts::zeros({1, 17}, ts::kInt64)), Contains("max_position"));
  CHECK_THROWS_WITH(m.forward(ts::zeros({1, 3})), Contains("int64"));
  // An encoder sequence needs its [CLS] position (T = 0 once gave a (B, 0, d) "pooled" output).
  models::EncoderModel enc(tiny_config());
  CHECK_THROWS_WITH(enc.forward(ts::zeros({2, 0}, ts::kInt64)), Contains("T = 0"));
}

TEST_CASE("ModelConfig's layer_norm_eps reaches every LayerNorm of every model", "[models]") {
  models::ModelConfig c = tiny_config();
  c.layer_norm_eps = 1e-3;
  auto check_all = [&](ts::nn::Module& m, const char* name) {
    int norms = 0;
    m.apply([&](ts::nn::Module& sub) {
      if (auto* ln = dynamic_cast<ts::nn::LayerNorm*>(&sub)) {
        INFO(name);
        CHECK(ln->eps() == 1e-3);
        ++norms;
      }
    });
    CHECK(norms > 0);
  };
  models::EncoderModel enc(c);
  check_all(enc, "encoder");
  models::DecoderModel dec(c);
  check_all(dec, "decoder");
  models::EncoderDecoderModel encdec(c);
  check_all(encdec, "encoder-decoder");
  models::MaskedLanguageModel mlm(c);
  check_all(mlm, "masked LM");
}

TEST_CASE("type_vocab_size sizes the segment embedding, and segments change the output",
          "[models]") {
  models::ModelConfig c = tiny_config();
  c.type_vocab_size = 3;
  ts::manual_seed(43);
  models::EncoderModel enc(c);
  enc.eval();
  CHECK(enc.token_type_embeddings->weight.shape() == ts::Shape{3, c.d_model});
  const Tensor x = ids({2, 5, 6, 3}, 1);
  const auto t0 = enc.forward(x, Tensor(), ids({0, 0, 0, 0}, 1)).hidden.to_vector<float>();
  const auto t2 = enc.forward(x, Tensor(), ids({0, 0, 2, 2}, 1)).hidden.to_vector<float>();
  double diff = 0;
  for (size_t i = 0; i < t0.size(); ++i) diff = std::max(diff, double(std::abs(t0[i] - t2[i])));
  CHECK(diff > 1e-3);
  CHECK_THROWS_AS(enc.forward(x, Tensor(), ids({0, 0, 3, 0}, 1)), ts::Error);  // beyond 3 types
}
