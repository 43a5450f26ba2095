// Heads: shapes, losses (exact, against closed forms computed here in double), class weights
// that change the trained answer, span decoding, transfer from a pretraining checkpoint, freezing.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "heads_fixture.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
using ts::Tensor;
using Catch::Matchers::Contains;

using heads_fixture::config;
using heads_fixture::ids;

namespace {

/// Fixed, distinct logits of the given shape (no two rows alike), float64.
Tensor fixed_logits(const ts::Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = 2.0 * std::sin(0.7 * i + 0.3) + 0.1 * i;
  return ts::from_vector<double>(v, shape);
}

/// -log softmax(row)[y] of the V logits at `row`, computed directly.
double nll_of(const double* row, int64_t V, int64_t y) {
  double mx = row[0];
  for (int64_t j = 1; j < V; ++j) mx = std::max(mx, row[j]);
  double z = 0;
  for (int64_t j = 0; j < V; ++j) z += std::exp(row[j] - mx);
  return mx + std::log(z) - row[y];
}

/// Mean over the positions (b, t) of logits (B, T, V) whose label labels[b][t + shift] exists and
/// is not -100 of nll(logits[b][t], that label): the causal-LM loss with shift 1, lm_loss with 0.
double shifted_nll(const Tensor& logits, const std::vector<std::vector<int64_t>>& labels,
                   int64_t shift) {
  const int64_t B = logits.size(0), T = logits.size(1), V = logits.size(2);
  const auto l = logits.to_vector<double>();
  double sum = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + shift < T; ++t) {
      const int64_t y = labels[b][t + shift];
      if (y == -100) continue;
      sum += nll_of(&l[(b * T + t) * V], V, y);
      ++n;
    }
  return sum / static_cast<double>(n);
}

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
  Tensor lg = cls.forward(x, mask);  // one forward (dropout draws differ between passes)
  Tensor y = ts::from_vector<int64_t>({0, 2});
  const float plain = ts::cross_entropy(lg, y).item<float>();
  CHECK(plain > 0);
  CHECK(cls.loss(lg, y).item<float>() == Approx(plain));
  CHECK(cls.loss(lg, y, ts::from_vector<float>({1, 1, 1})).item<float>() == Approx(plain));
  // -100 is ignored with and without weights (index_select on it once threw with weights)
  Tensor y1 = ts::from_vector<int64_t>({0, -100});
  const float row0 = ts::cross_entropy(lg.slice(0, 0, 1), y.slice(0, 0, 1)).item<float>();
  CHECK(cls.loss(lg, y1).item<float>() == Approx(row0));
  CHECK(cls.loss(lg, y1, ts::from_vector<float>({2, 1, 1})).item<float>() == Approx(row0));
  CHECK_THROWS_WITH(cls.loss(lg, ts::full({2}, -100.0, ts::kInt64)), Contains("-100"));
  models::TokenClassifier tok(config(), 7);
  CHECK(tok.forward(x, mask).shape() == ts::Shape{2, 5, 7});
  models::QuestionAnswering qa(config());
  Tensor qlogits = qa.forward(x, mask);
  CHECK(qlogits.shape() == ts::Shape{2, 5, 2});
  CHECK(models::QuestionAnswering::loss(qlogits, ts::from_vector<int64_t>({1, 2, 0, 0}, {2, 2})).item<float>() > 0);
  models::DecoderModel gpt(config());
  CHECK(models::causal_lm_loss(gpt.forward(x), x).item<float>() > 0);
}

TEST_CASE("the masked-LM loss at masked positions only equals the full-logits loss", "[heads]") {
  ts::manual_seed(33);
  Tensor x = ids(), mask = ts::from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {2, 5});
  Tensor labels = ts::from_vector<int64_t>({-100, 5, -100, 7, -100, -100, -100, 9, -100, -100}, {2, 5});
  models::MaskedLanguageModel mlm(config());
  mlm.eval();  // no dropout: both paths see the same activations
  Tensor full = models::lm_loss(mlm.forward(x, mask), labels);
  auto params = mlm.parameters();
  auto g_full = ts::grad({full}, params, {}, {.allow_unused = true});
  Tensor fast = mlm.loss(x, labels, mask);
  auto g_fast = ts::grad({fast}, params, {}, {.allow_unused = true});
  CHECK(fast.item<float>() == Approx(full.item<float>()).epsilon(1e-5));
  REQUIRE(g_full.size() == g_fast.size());
  for (size_t i = 0; i < g_full.size(); ++i) {
    REQUIRE(g_full[i].defined() == g_fast[i].defined());
    if (!g_full[i].defined()) continue;
    auto a = g_full[i].to_vector<float>(), b = g_fast[i].to_vector<float>();
    for (size_t j = 0; j < a.size(); ++j) CHECK(b[j] == Approx(a[j]).margin(1e-6).epsilon(1e-4));
  }
  Tensor none = ts::full({2, 5}, -100.0, ts::kInt64);
  CHECK_THROWS_WITH(mlm.loss(x, none, mask), Contains("no labelled position"));
  CHECK_THROWS_WITH(mlm.loss(x, ts::zeros({2, 4}, ts::kInt64), mask), Contains("labels"));
}

TEST_CASE("token classification loss: ignored positions, class weights", "[heads]") {
  ts::manual_seed(34);
  models::TokenClassifier tok(config(), 3);
  Tensor logits = ts::randn({2, 3, 3}, ts::kFloat64);
  Tensor labels = ts::from_vector<int64_t>({0, -100, 2, 1, 1, -100}, {2, 3});
  // unweighted: the mean over the 4 labelled positions
  CHECK(tok.loss(logits, labels).item<double>() ==
        Approx(ts::cross_entropy(ts::reshape(logits, {6, 3}), ts::reshape(labels, {6})).item<double>()));
  // weighted by hand: sum w[y] * (logsumexp - logit[y]) / sum w[y]
  const auto l = logits.to_vector<double>();
  const std::vector<int64_t> y = {0, -100, 2, 1, 1, -100};
  const std::vector<double> w = {1.0, 3.0, 0.5};
  double num = 0, den = 0;
  for (int i = 0; i < 6; ++i) {
    if (y[i] < 0) continue;
    const double* r = &l[i * 3];
    const double lse = std::log(std::exp(r[0]) + std::exp(r[1]) + std::exp(r[2]));
    num += w[y[i]] * (lse - r[y[i]]);
    den += w[y[i]];
  }
  CHECK(tok.loss(logits, labels, ts::from_vector<double>(w)).item<double>() == Approx(num / den));
  CHECK_THROWS_WITH(tok.loss(logits, labels, ts::from_vector<double>({1.0, 2.0})), Contains("class weights"));
  CHECK_THROWS_WITH(tok.loss(logits, ts::full({2, 3}, -100.0, ts::kInt64), ts::from_vector<double>(w)),
                    Contains("no labelled position"));
  // Unweighted too (it returned NaN), and lm_loss
  CHECK_THROWS_WITH(tok.loss(logits, ts::full({2, 3}, -100.0, ts::kInt64)), Contains("-100"));
  CHECK_THROWS_WITH(models::lm_loss(logits, ts::full({2, 3}, -100.0, ts::kInt64)),
                    Contains("lm_loss") && Contains("no position"));
}

TEST_CASE("SequenceClassifier pools the mean by default (bodies pretrained as LMs)", "[heads]") {
  CHECK(models::SequenceClassifier(config(), 2).pooling == models::Pooling::kMean);
  CHECK(models::SequenceClassifier(config(), 2, 0.1, models::Pooling::kCls).pooling ==
        models::Pooling::kCls);
}

TEST_CASE("mean pooling ignores padding; cls pooling reads position 0", "[heads]") {
  ts::manual_seed(35);
  models::SequenceClassifier mean_cls(config(), 3, 0.0, models::Pooling::kMean);
  mean_cls.eval();
  Tensor short_ids = ts::from_vector<int64_t>({2, 5, 6, 3}, {1, 4});
  Tensor padded_ids = ts::from_vector<int64_t>({2, 5, 6, 3, 0, 0}, {1, 6});
  Tensor padded_mask = ts::from_vector<int64_t>({1, 1, 1, 1, 0, 0}, {1, 6});
  const auto a = mean_cls.forward(short_ids).to_vector<float>();
  const auto b = mean_cls.forward(padded_ids, padded_mask).to_vector<float>();
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(b[i] == Approx(a[i]).margin(1e-5));
  // without the mask the padding is averaged in: a different answer
  const auto c = mean_cls.forward(padded_ids).to_vector<float>();
  double diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff += std::abs(c[i] - a[i]);
  CHECK(diff > 1e-4);
  // gradients flow through the mean into the body and the pooler
  mean_cls.train();
  Tensor loss = mean_cls.loss(mean_cls.forward(padded_ids, padded_mask), ts::from_vector<int64_t>({1}));
  auto g = ts::grad({loss}, {mean_cls.body->pooler->weight, mean_cls.body->word_embeddings->weight});
  CHECK(ts::sum(ts::abs(g[0])).item<float>() > 0);
  CHECK(ts::sum(ts::abs(g[1])).item<float>() > 0);
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
  // A tensor of the right shape but another dtype is an error, not listed as loaded and skipped.
  ts::nn::NamedTensors sd = mlm.state_dict();
  for (auto& [name, t] : sd)
    if (name == "body.pooler.bias") t = ts::zeros(t.shape(), ts::kInt64);
  ts::safetensors::save(path, sd);
  models::SequenceClassifier cls2(config(), 2);
  CHECK_THROWS_WITH(models::load_pretrained_body(cls2, path),
                    Contains("body.pooler.bias") && Contains("int64") && Contains("float32"));
  std::remove(path.c_str());
}

TEST_CASE("causal_lm_loss: logits at t score the token at t + 1, exactly", "[heads][exact]") {
  const Tensor logits = fixed_logits({2, 4, 5});
  const std::vector<std::vector<int64_t>> tokens = {{1, 4, 0, 2}, {3, 3, 1, 0}};
  const Tensor x = ts::from_vector<int64_t>({1, 4, 0, 2, 3, 3, 1, 0}, {2, 4});
  const double want = shifted_nll(logits, tokens, 1);
  // the shift matters: no shift, or a shift by two, gives another number
  REQUIRE(std::abs(want - shifted_nll(logits, tokens, 0)) > 0.1);
  REQUIRE(std::abs(want - shifted_nll(logits, tokens, 2)) > 0.1);
  CHECK(models::causal_lm_loss(logits, x).item<double>() == Approx(want).epsilon(1e-12));
  // and from a model's own logits: the same closed form over its float32 output
  ts::manual_seed(36);
  models::DecoderModel gpt(config());
  gpt.eval();
  const Tensor lg = gpt.forward(ids()).to(ts::kFloat64);
  const auto fixture_ids = ids().to_vector<int64_t>();
  const std::vector<std::vector<int64_t>> rows = {{fixture_ids.begin(), fixture_ids.begin() + 5},
                                                  {fixture_ids.begin() + 5, fixture_ids.end()}};
  CHECK(models::causal_lm_loss(gpt.forward(ids()), ids()).item<float>() ==
        Approx(shifted_nll(lg, rows, 1)).epsilon(1e-5));
}

TEST_CASE("lm_loss: the mean over labelled positions, exactly", "[heads][exact]") {
  const Tensor logits = fixed_logits({2, 3, 4});
  const std::vector<std::vector<int64_t>> y = {{2, -100, 0}, {-100, 3, 1}};
  const Tensor labels = ts::from_vector<int64_t>({2, -100, 0, -100, 3, 1}, {2, 3});
  CHECK(models::lm_loss(logits, labels).item<double>() ==
        Approx(shifted_nll(logits, y, 0)).epsilon(1e-12));
}

TEST_CASE("QuestionAnswering::loss: the mean of the start and end cross entropies, exactly",
          "[heads][exact]") {
  const int64_t B = 2, T = 5;
  const Tensor logits = fixed_logits({B, T, 2});
  const std::vector<int64_t> pos = {1, 3, 0, 4};  // (start, end) per row
  const auto l = logits.to_vector<double>();
  auto ce = [&](int64_t b, int64_t which, int64_t y) {  // which: 0 start, 1 end
    std::vector<double> row(T);
    for (int64_t t = 0; t < T; ++t) row[t] = l[(b * T + t) * 2 + which];
    return nll_of(row.data(), T, y);
  };
  double start = 0, end = 0, swapped = 0;
  for (int64_t b = 0; b < B; ++b) {
    start += ce(b, 0, pos[b * 2]) / B;
    end += ce(b, 1, pos[b * 2 + 1]) / B;
    swapped += (ce(b, 0, pos[b * 2 + 1]) + ce(b, 1, pos[b * 2])) / (2 * B);
  }
  const double want = 0.5 * (start + end);
  REQUIRE(std::abs(want - swapped) > 0.1);  // start and end are told apart
  CHECK(models::QuestionAnswering::loss(logits, ts::from_vector<int64_t>(pos, {B, 2}))
            .item<double>() == Approx(want).epsilon(1e-12));
}

TEST_CASE("sequence classification: class weights give torch's weighted mean", "[heads][exact]") {
  models::SequenceClassifier cls(config(), 3);
  const Tensor logits = fixed_logits({4, 3});
  const std::vector<int64_t> y = {0, 2, 1, 2};
  const std::vector<double> w = {0.5, 3.0, 1.5};
  const auto l = logits.to_vector<double>();
  double num = 0, den = 0, plain = 0;
  for (int i = 0; i < 4; ++i) {
    num += w[y[i]] * nll_of(&l[i * 3], 3, y[i]);
    den += w[y[i]];
    plain += nll_of(&l[i * 3], 3, y[i]) / 4;
  }
  REQUIRE(std::abs(num / den - plain) > 0.05);  // these weights change the loss
  const Tensor labels = ts::from_vector<int64_t>(y);
  CHECK(cls.loss(logits, labels, ts::from_vector<double>(w)).item<double>() ==
        Approx(num / den).epsilon(1e-12));
  CHECK(cls.loss(logits, labels).item<double>() == Approx(plain).epsilon(1e-12));
}

TEST_CASE("class weights change the trained answer", "[heads][exact]") {
  // One shared logit vector b (the model's whole output) fitted to labels 0, 0, 0, 1. The
  // weighted cross entropy sum_i w[y_i] (lse(b) - b[y_i]) is minimal where softmax(b)[c] is
  // proportional to the total weight of class c: (3/4, 1/4) unweighted, predicting class 0, and
  // (3, 6) / 9 with w = (1, 6), predicting class 1.
  models::SequenceClassifier cls(config(), 2);
  const Tensor labels = ts::from_vector<int64_t>({0, 0, 0, 1});
  auto fit = [&](const Tensor& weights) {
    Tensor b = ts::zeros({1, 2}, ts::kFloat64).requires_grad_();
    ts::optim::SGD opt({b}, {.lr = 2.0});
    for (int step = 0; step < 300; ++step) {
      opt.zero_grad();
      cls.loss(ts::expand(b, {4, 2}), labels, weights).backward();
      opt.step();
    }
    return ts::softmax(b.detach(), -1).to_vector<double>();
  };
  const auto plain = fit(Tensor());
  CHECK(plain[0] == Approx(0.75).margin(1e-6));
  CHECK(plain[1] == Approx(0.25).margin(1e-6));
  const auto weighted = fit(ts::from_vector<double>({1.0, 6.0}));
  CHECK(weighted[0] == Approx(1.0 / 3).margin(1e-6));
  CHECK(weighted[1] == Approx(2.0 / 3).margin(1e-6));
  CHECK(plain[0] > plain[1]);
  CHECK(weighted[1] > weighted[0]);  // the weights flip the prediction
}
