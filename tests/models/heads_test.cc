// Heads: shapes, losses, span decoding, transfer from a pretraining checkpoint, freezing.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>

#include <taesan.h>

namespace ts = taesan;
namespace models = ts::models;
using ts::Tensor;
using Catch::Matchers::Contains;

namespace {
models::ModelConfig config() {
  models::ModelConfig c;
  c.vocab_size = 30;
  c.max_position = 16;
  c.d_model = 8;
  c.num_heads = 2;
  c.num_layers = 1;
  c.d_ff = 16;
  return c;
}
Tensor ids() { return ts::from_vector<int64_t>({2, 5, 6, 7, 3, 2, 8, 9, 3, 0}, {2, 5}); }
}  // namespace

TEST_CASE("heads produce the right shapes and losses", "[heads]") {
  ts::manual_seed(31);
  Tensor x = ids(), mask = ts::from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {2, 5});
  models::MaskedLanguageModel mlm(config());
  Tensor logits = mlm.forward(x, mask);
  CHECK(logits.shape() == ts::Shape{2, 5, 30});
  Tensor labels = ts::from_vector<int64_t>({-100, 5, -100, -100, -100, -100, -100, 9, -100, -100}, {2, 5});
  CHECK(models::lm_loss(logits, labels).item<float>() > 0);
  models::SequenceClassifier cls(config(), 3);
  CHECK(cls.forward(x, mask).shape() == ts::Shape{2, 3});
  Tensor l = cls.loss(cls.forward(x, mask), ts::from_vector<int64_t>({0, 2}), ts::from_vector<float>({1, 1, 1}));
  Tensor l2 = ts::cross_entropy(cls.forward(x, mask), ts::from_vector<int64_t>({0, 2}));
  CHECK(l.item<float>() > 0);
  (void)l2;
  models::TokenClassifier tok(config(), 7);
  CHECK(tok.forward(x, mask).shape() == ts::Shape{2, 5, 7});
  models::QuestionAnswering qa(config());
  Tensor qlogits = qa.forward(x, mask);
  CHECK(qlogits.shape() == ts::Shape{2, 5, 2});
  CHECK(models::QuestionAnswering::loss(qlogits, ts::from_vector<int64_t>({1, 2, 0, 0}, {2, 2})).item<float>() > 0);
  models::DecoderModel gpt(config());
  CHECK(models::causal_lm_loss(gpt.forward(x), x).item<float>() > 0);
}

TEST_CASE("best span respects order, length and the no-answer score", "[heads]") {
  Tensor s = ts::from_vector<double>({0.0, 1.0, 5.0, 0.5});
  Tensor e = ts::from_vector<double>({0.0, 4.0, 0.1, 3.0});
  std::vector<bool> allowed = {false, true, true, true};
  auto span = models::QuestionAnswering::best_span(s, e, allowed, 30);
  CHECK(span.start == 2);
  CHECK(span.end == 3);  // end before start (position 1) is not allowed
  auto short_span = models::QuestionAnswering::best_span(s, e, allowed, 1);
  CHECK(short_span.start == short_span.end);
  Tensor s0 = ts::from_vector<double>({20.0, 1.0, 1.0, 1.0});
  CHECK(models::QuestionAnswering::best_span(s0, e, allowed).start == 0);  // no answer wins
}

TEST_CASE("a pretrained body transfers into a task model; freezing works", "[heads][transfer]") {
  ts::manual_seed(32);
  auto path = (std::filesystem::temp_directory_path() / "taesan_heads_test_mlm.safetensors").string();
  models::MaskedLanguageModel mlm(config());
  ts::save(mlm, path);
  models::SequenceClassifier cls(config(), 2);
  auto report = models::load_pretrained_body(cls, path);
  CHECK(report.loaded.size() == mlm.body->state_dict().size());
  CHECK(report.new_.size() == 2);  // classifier.weight, classifier.bias
  CHECK(report.skipped.size() == 5);  // transform.{weight,bias}, transform_norm.{weight,bias}, output_bias
  CHECK_THAT(report.summary(), Contains("classifier.weight"));
  CHECK(cls.body->word_embeddings->weight.to_vector<float>() == mlm.body->word_embeddings->weight.to_vector<float>());
  models::freeze(cls, "body.");
  for (auto& [name, p] : cls.named_parameters()) CHECK(p.requires_grad() == (name.rfind("body.", 0) != 0));
  CHECK_THROWS_WITH(models::freeze(cls, "nothing."), Contains("nothing."));
  // Another configuration: a clear error naming the shapes.
  models::ModelConfig other = config();
  other.d_model = 16;
  models::SequenceClassifier wrong(other, 2);
  CHECK_THROWS_WITH(models::load_pretrained_body(wrong, path), Contains("another model configuration"));
  std::remove(path.c_str());
}
