// ELECTRA's replaced-token detection: the samples, the labels, the two losses, gradients,
// determinism, errors and the transfer of its discriminator body into a task model.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <set>

#include "heads_fixture.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
using Catch::Matchers::Contains;
using ts::Tensor;

namespace {
models::ModelConfig config() { return heads_fixture::config(2); }
using heads_fixture::pad_mask;
// Two sequences; [MASK] (4) at three positions, the second sequence padded at its end.
Tensor masked_ids() { return ts::from_vector<int64_t>({2, 4, 6, 4, 3, 2, 8, 4, 3, 0}, {2, 5}); }
Tensor labels() {
  return ts::from_vector<int64_t>({-100, 5, -100, 7, -100, -100, -100, 9, -100, -100}, {2, 5});
}
}  // namespace

TEST_CASE("generator config: half the width and layers, at least 64 wide and 1 layer",
          "[electra]") {
  models::ModelConfig c = config();
  c.d_model = 256;
  c.num_layers = 4;
  const auto g = models::ReplacedTokenDetection::generator_config(c);
  CHECK(g.d_model == 128);
  CHECK(g.num_layers == 2);
  CHECK(g.d_ff == 512);
  CHECK(g.vocab_size == c.vocab_size);
  const auto small = models::ReplacedTokenDetection::generator_config(config());
  CHECK(small.d_model == 64);
  CHECK(small.num_layers == 1);
}

TEST_CASE("replaced-token detection: samples, labels and both losses by hand", "[electra]") {
  ts::manual_seed(41);
  models::ReplacedTokenDetection rtd(config());
  rtd.eval();  // no dropout: the hand computation sees the same activations
  // A generator that always predicts token 7: every masked position becomes 7, so the
  // positions whose original is 7 are "original" and the two others "replaced".
  {
    ts::NoGradGuard no_grad;
    std::vector<float> bias(30, 0.0f);
    bias[7] = 200.0f;
    rtd.generator->output_bias.copy_(ts::from_vector(bias, {30}));
  }
  const auto out = rtd.loss(masked_ids(), labels(), pad_mask(), 5, 0);
  CHECK(out.masked == 3);
  CHECK(out.replaced == 2);  // originals 5, 7, 9 -> 7, 7, 7
  // The generator's loss: cross entropy of its logits at the masked positions.
  const auto g = rtd.generator->masked_logits(masked_ids(), labels(), pad_mask());
  CHECK(out.generator.item<float>() ==
        Approx(ts::cross_entropy(g.logits, g.targets).item<float>()));
  CHECK(out.generator.item<float>() > 100.0f);  // the originals 5 and 9 have ~zero probability
  // The discriminator sees the filled-in sequence and scores every non-padding position.
  const Tensor filled = ts::from_vector<int64_t>({2, 7, 6, 7, 3, 2, 8, 7, 3, 0}, {2, 5});
  const Tensor h = rtd.body->forward(filled, pad_mask()).hidden;
  const auto x =
      ts::squeeze(rtd.head->forward(ts::gelu(rtd.dense->forward(h))), 2).to_vector<float>();
  const std::vector<float> y = {0, 1, 0, 0, 0, 0, 0, 1, 0, 0};
  double sum = 0;
  for (int i = 0; i < 9; ++i)  // position 9 is padding
    sum += std::log1p(std::exp(-std::abs(x[i]))) + std::max(x[i], 0.0f) - x[i] * y[i];
  CHECK(out.discriminator.item<float>() == Approx(sum / 9).epsilon(1e-5));
  CHECK(
      out.total.item<float>() ==
      Approx(out.generator.item<float>() + 50.0f * out.discriminator.item<float>()).epsilon(1e-6));
}

TEST_CASE("replaced-token detection: deterministic draws, gradients everywhere", "[electra]") {
  ts::manual_seed(42);
  models::ReplacedTokenDetection rtd(config());
  rtd.eval();
  const float a = rtd.loss(masked_ids(), labels(), pad_mask(), 9, 3).total.item<float>();
  const float b = rtd.loss(masked_ids(), labels(), pad_mask(), 9, 3).total.item<float>();
  CHECK(a == b);
  // Another stream draws other samples; over 20 streams the replacements are not all alike.
  std::set<float> seen;
  for (uint64_t s = 0; s < 20; ++s)
    seen.insert(rtd.loss(masked_ids(), labels(), pad_mask(), 9, s).total.item<float>());
  CHECK(seen.size() > 1);
  // Every parameter but the body's pooler (unused) and the token types gets a gradient.
  rtd.train();
  const auto out = rtd.loss(masked_ids(), labels(), Tensor(), 9, 3);
  out.total.backward();
  for (auto& [name, p] : rtd.named_parameters()) {
    INFO(name);
    if (name.find("pooler") != std::string::npos) continue;
    REQUIRE(p.grad().defined());
    CHECK(ts::sum(ts::abs(p.grad())).item<float>() > 0);
  }
}

TEST_CASE("replaced-token detection in float64", "[electra]") {
  ts::manual_seed(44);
  models::ReplacedTokenDetection rtd(config());
  rtd.to(ts::kFloat64);
  rtd.eval();
  const auto out = rtd.loss(masked_ids(), labels(), pad_mask(), 2, 0);
  CHECK(out.total.dtype() == ts::kFloat64);
  CHECK(out.masked == 3);
  CHECK(std::isfinite(out.total.item<double>()));
  CHECK(out.total.item<double>() ==
        Approx(out.generator.item<double>() + 50.0 * out.discriminator.item<double>()));
}

TEST_CASE("replaced-token detection: bad input is a clear error", "[electra]") {
  models::ReplacedTokenDetection rtd(config());
  CHECK_THROWS_WITH(models::ReplacedTokenDetection(config(), 0.0),
                    Contains("discriminator_weight"));
  CHECK_THROWS_WITH(rtd.loss(masked_ids(), ts::full({2, 5}, -100.0, ts::kInt64), pad_mask(), 1, 0),
                    Contains("no labelled position"));
  CHECK_THROWS_WITH(rtd.loss(masked_ids(), labels(), ts::ones({2, 4}, ts::kInt64), 1, 0),
                    Contains("attention_mask"));
  CHECK_THROWS_WITH(rtd.loss(masked_ids().to(ts::kFloat32), labels(), pad_mask(), 1, 0),
                    Contains("int64"));
}

TEST_CASE("the discriminator body transfers into a task model", "[electra][transfer]") {
  ts::manual_seed(43);
  auto path = (std::filesystem::temp_directory_path() / "taesan_electra_test.safetensors").string();
  models::ReplacedTokenDetection rtd(config());
  ts::save(rtd, path);
  models::SequenceClassifier cls(config(), 2);
  const auto report = models::load_pretrained_body(cls, path);
  CHECK(report.loaded.size() == rtd.body->state_dict().size());
  CHECK(report.new_.size() == 2);  // classifier.weight, classifier.bias
  // dense, head and the whole generator stay behind
  CHECK(report.skipped.size() == 4 + rtd.generator->state_dict().size());
  CHECK(cls.body->word_embeddings->weight.to_vector<float>() ==
        rtd.body->word_embeddings->weight.to_vector<float>());
  std::filesystem::remove(path);
}
