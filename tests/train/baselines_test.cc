// Tests of the simple baselines: hand-made data with known answers (the classifier on a separable
// set, the tagger's exact tags and BIO repair, the QA sentence, the translation memory's nearest
// pair, the n-gram NLLs in closed form), and the classifier against chance on the pack's files.
#include "taesan/train/baselines.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "common/test_util.h"
#include "taesan/core/error.h"
#include "taesan/data/data.h"
#include "taesan/train/metrics.h"

namespace ts = taesan;
namespace tr = taesan::train;

namespace {

using taesan::test::data_file;

double accuracy(const std::vector<std::string>& p, const std::vector<std::string>& g) {
  REQUIRE(p.size() == g.size());
  int64_t correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == g[i];
  return static_cast<double>(correct) / static_cast<double>(p.size());
}

}  // namespace

TEST_CASE("bag-of-words logistic regression learns a separable set", "[train][baselines]") {
  // Sentiment carried by one word each; the other words are shared by both classes.
  const std::vector<std::string> pos = {"great", "excellent", "wonderful", "훌륭한", "Superb"};
  const std::vector<std::string> neg = {"terrible", "awful", "boring", "지루한", "Dreadful"};
  const std::vector<std::string> frames = {"a {} film", "the plot was {}", "{} acting, i think",
                                           "정말 {} 영화"};
  std::vector<std::string> texts, labels;
  for (const auto& f : frames) {
    for (size_t i = 0; i < pos.size(); ++i) {
      texts.push_back(fmt::format(fmt::runtime(f), pos[i]));
      labels.push_back("positive");
      texts.push_back(fmt::format(fmt::runtime(f), neg[i]));
      labels.push_back("negative");
    }
  }
  tr::BowClassifierOptions o;
  o.features.min_document_frequency = 1;
  const auto c = tr::BowClassifier::fit(texts, labels, o);
  CHECK(c.labels() == std::vector<std::string>{"negative", "positive"});
  CHECK(accuracy(c.predict_all(texts), labels) == 1.0);
  // Unseen frames; upper case and Korean endings still find the words (lower case, n-grams).
  CHECK(c.predict("What a WONDERFUL day") == "positive");
  CHECK(c.predict("so boring") == "negative");
  CHECK(c.predict("훌륭한 배우") == "positive");
  CHECK(c.predict("지루한데") == "negative");
  const auto p = c.predict_proba("excellent");
  REQUIRE(p.size() == 2);
  CHECK(p[0] + p[1] == Approx(1.0));
  CHECK(p[1] > 0.5);
  CHECK(c.validation_accuracy() >= 0.0);
  CHECK(std::set<double>(o.l2_grid.begin(), o.l2_grid.end()).count(c.l2()) == 1);
  // Deterministic: the same fit gives the same probabilities, bit for bit.
  const auto again = tr::BowClassifier::fit(texts, labels, o);
  CHECK(again.predict_proba("a boring but excellent film") ==
        c.predict_proba("a boring but excellent film"));
  CHECK(again.l2() == c.l2());
  // An explicit validation set chooses l2 instead of a held-out part.
  const auto v = tr::BowClassifier::fit(texts, labels, {"a superb film", "a dreadful film"},
                                        {"positive", "negative"}, o);
  CHECK(v.validation_accuracy() == 1.0);
  CHECK(v.predict("superb") == "positive");
  // Three classes, labels of any spelling.
  const auto three = tr::BowClassifier::fit(
      {"red apple", "green leaf", "blue sky", "red rose", "green grass", "blue sea"},
      {"r", "g", "b", "r", "g", "b"}, o);
  CHECK(three.labels() == std::vector<std::string>{"b", "g", "r"});
  CHECK(three.predict("blue whale") == "b");
  CHECK(three.predict("red car") == "r");
}

TEST_CASE("bag-of-words logistic regression checks its input", "[train][baselines][errors]") {
  CHECK_THROWS_AS(tr::BowClassifier::fit({}, {}), ts::Error);
  CHECK_THROWS_AS(tr::BowClassifier::fit({"a", "b"}, {"x"}), ts::Error);
  tr::BowClassifierOptions o;
  o.l2_grid = {};
  CHECK_THROWS_AS(tr::BowClassifier::fit({"a"}, {"x"}, o), ts::Error);
  o.l2_grid = {-1.0};
  CHECK_THROWS_AS(tr::BowClassifier::fit({"a"}, {"x"}, o), ts::Error);
  // A validation label the training rows never had.
  CHECK_THROWS_AS(tr::BowClassifier::fit({"a", "b"}, {"x", "y"}, {"c"}, {"z"}), ts::Error);
  CHECK_THROWS_AS(tr::BowClassifier::fit({"a", "b"}, {"x", "y"}, {}, {}), ts::Error);
  CHECK_THROWS_AS(tr::BowClassifier().predict("a"), ts::Error);
}

TEST_CASE("bag-of-words logistic regression beats chance on the pack", "[train][baselines][pack]") {
  TS_SKIP_WITHOUT_PACK();
  struct Case {
    const char* file;
    bool header;
    int label, text;
    double floor;  // chance: NSMC is balanced (0.5); SMS is 86.6% ham
  };
  for (const Case& k : {Case{"ko_nsmc_raw_sentiment_train.tsv", true, 2, 1, 0.75},
                        Case{"en_sms_spam.tsv", false, 0, 1, 0.96}}) {
    const auto file =
        ts::data::read_tsv(data_file(k.file), {.min_columns = 2, .has_header = k.header});
    std::vector<std::string> texts, labels;
    for (const auto& row : file.rows) {
      texts.push_back(row.fields[k.text]);
      labels.push_back(row.fields[k.label]);
    }
    const auto split = ts::data::split_indices(static_cast<int64_t>(texts.size()), 0.0, 0.2, 11);
    const auto start = std::chrono::steady_clock::now();
    const auto c = tr::BowClassifier::fit(ts::data::select(texts, split.train),
                                          ts::data::select(labels, split.train));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double acc = accuracy(c.predict_all(ts::data::select(texts, split.test)),
                                ts::data::select(labels, split.test));
    INFO(k.file << ": test accuracy " << acc << ", l2 " << c.l2() << ", held-out accuracy "
                << c.validation_accuracy() << ", " << c.num_features() << " features, fit "
                << seconds << " s");
    CHECK(acc > k.floor);
  }
}

TEST_CASE("most frequent tag per word, with the lower-case fallback and BIO repair",
          "[train][baselines]") {
  // A toy CoNLL file.
  std::vector<std::vector<std::string>> words = {
      {"John", "lives", "in", "New", "York", "."},  {"New", "York", "is", "big", "."},
      {"Apple", "hired", "John", "Smith", "."},     {"I", "ate", "an", "apple", "."},
      {"Paris", "Hilton", "visited", "Paris", "."}, {"She", "visited", "Paris", "."}};
  std::vector<std::vector<std::string>> tags = {
      {"B-PER", "O", "O", "B-LOC", "I-LOC", "O"}, {"B-LOC", "I-LOC", "O", "O", "O"},
      {"B-ORG", "O", "B-PER", "I-PER", "O"},      {"O", "O", "O", "O", "O"},
      {"B-PER", "I-PER", "O", "B-LOC", "O"},      {"O", "O", "B-LOC", "O"}};
  const auto t = tr::MostFrequentTagTagger::fit(words, tags);
  // Exact words: "Paris" is B-LOC twice, B-PER once; "Apple" B-ORG; "apple" O.
  CHECK(t.predict({"Paris", "is", "in", "New", "York"}) ==
        std::vector<std::string>{"B-LOC", "O", "O", "B-LOC", "I-LOC"});
  CHECK(t.predict({"Apple", "apple"}) == std::vector<std::string>{"B-ORG", "O"});
  // Lower-case fallback: "JOHN" and "paris" are unseen; their lower-case forms were counted over
  // all case variants ("apple": B-ORG once, O once: the tie goes to O).
  CHECK(t.predict({"JOHN", "paris", "APPLE", "Berlin"}) ==
        std::vector<std::string>{"B-PER", "B-LOC", "O", "O"});
  // BIO repair: "York" and "Smith" alone are I- tags with no entity open: they start one.
  CHECK(t.predict({"York", "Smith"}) == std::vector<std::string>{"B-LOC", "B-PER"});
  CHECK(t.predict({"John", "York"}) == std::vector<std::string>{"B-PER", "B-LOC"});
  CHECK(t.predict({"John", "Smith"}) == std::vector<std::string>{"B-PER", "I-PER"});
  CHECK(t.predict(std::vector<std::string>{}).empty());
  // On its own training sentences it is nearly right (entity F1 of the seqeval kind).
  const auto s = ts::models::entity_f1(t.predict_all(words), tags);
  CHECK(s.gold == 8);
  CHECK(s.predicted == 9);
  CHECK(s.correct == 7);  // "Paris Hilton" is read as a place and a person: two wrong, one missed
  // From data::read_conll's sentences: the same tagger.
  std::vector<ts::data::NerSentence> sentences;
  for (size_t i = 0; i < words.size(); ++i) sentences.push_back({words[i], tags[i], {}});
  CHECK(tr::MostFrequentTagTagger::fit(sentences).predict_all(words) == t.predict_all(words));
  CHECK_THROWS_AS(tr::MostFrequentTagTagger::fit({}, {}), ts::Error);
  CHECK_THROWS_AS(tr::MostFrequentTagTagger::fit({{}}, {{}}), ts::Error);
  CHECK_THROWS_AS(tr::MostFrequentTagTagger::fit({{"a", "b"}}, {{"O"}}), ts::Error);
}

TEST_CASE("best-overlap sentence answers with a sentence of the context", "[train][baselines]") {
  const std::string context =
      "  Émile Zola was born in Paris in 1840. He wrote the novel Germinal in 1885!  "
      "티끌 모아 태산은 속담이다. The novel was about coal miners.";
  // "novel", "germinal", "1885" are in the second sentence; "wrote" too.
  auto a = tr::best_overlap_sentence(context, "In which year did Zola write the novel Germinal?");
  CHECK(a.text == "He wrote the novel Germinal in 1885!");
  CHECK(context.substr(a.begin, a.end - a.begin) == a.text);
  // Upper case and accents: "ÉMILE" matches "Émile" in the first sentence.
  a = tr::best_overlap_sentence(context, "Where was ÉMILE born?");
  CHECK(a.text == "Émile Zola was born in Paris in 1840.");
  CHECK(a.begin == 2);
  a = tr::best_overlap_sentence(context, "티끌 모아 무엇?");
  CHECK(a.text == "티끌 모아 태산은 속담이다.");
  // Ties ("novel" in two sentences) go to the first; stop words alone match nothing.
  CHECK(tr::best_overlap_sentence(context, "the novel").text ==
        "He wrote the novel Germinal in 1885!");
  CHECK(tr::best_overlap_sentence(context, "What was the?").text ==
        "Émile Zola was born in Paris in 1840.");
  // Coal miners: last sentence, more shared words than the second.
  CHECK(tr::best_overlap_sentence(context, "What was the novel about? Coal miners?").text ==
        "The novel was about coal miners.");
  CHECK_THROWS_AS(tr::best_overlap_sentence("", "what?"), ts::Error);
  CHECK_THROWS_AS(tr::best_overlap_sentence(" \n ", "what?"), ts::Error);
  CHECK_THROWS_AS(tr::best_overlap_sentence("Some text.", ""), ts::Error);
}

TEST_CASE("the translation memory returns the nearest pair's target", "[train][baselines]") {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"Where is the station?", "역이 어디예요?"},
      {"I like coffee.", "나는 커피를 좋아해요."},
      {"I like green tea very much.", "나는 녹차를 아주 좋아해요."},
      {"The station is near.", "역은 가까워요."},
      {"I like coffee.", "커피 좋아해요."}};
  const auto t = tr::NearestNeighbourTranslator::fit(pairs);
  CHECK(t.nearest("Where is the station?") == 0);
  CHECK(t.nearest("where's the STATION") == 0);
  CHECK(t.translate("I like tea.") == "나는 녹차를 아주 좋아해요.");
  CHECK(t.nearest("Is the station near?") == 3);
  // Duplicate sources: the first pair.
  CHECK(t.translate("I like coffee.") == "나는 커피를 좋아해요.");
  // Nothing in common with any source: the first pair.
  CHECK(t.nearest("ZZZ ###") == 0);
  CHECK(t.translate_all({"coffee", "green tea"}) ==
        std::vector<std::string>{"나는 커피를 좋아해요.", "나는 녹차를 아주 좋아해요."});
  // Korean -> English: character n-grams match inflected forms.
  std::vector<std::pair<std::string, std::string>> reversed;
  for (const auto& [en, ko] : pairs) reversed.emplace_back(ko, en);
  CHECK(tr::NearestNeighbourTranslator::fit(reversed).translate("녹차가 좋아") ==
        "I like green tea very much.");
  CHECK_THROWS_AS(tr::NearestNeighbourTranslator::fit({}), ts::Error);
}

TEST_CASE("n-gram language models: closed forms and the chosen model", "[train][baselines]") {
  // Training counts over every token: 0 x1, 1 x2, 2 x1, 3 x0; N = 4, V = 4.
  const std::vector<std::vector<int64_t>> train = {{0, 1, 1, 2}};
  // Predicted test tokens: 1 (after 3) and 2 (after 1); the first token 3 is not predicted.
  const std::vector<std::vector<int64_t>> test = {{3, 1, 2}, {0}};
  // Add-one: p(1) = 3/8, p(2) = 2/8.
  CHECK(tr::unigram_nll(train, test, 4, 1.0) ==
        Approx(-(std::log(3.0 / 8) + std::log(2.0 / 8)) / 2).epsilon(1e-12));
  // Add-0.5: p(w) = (c + 0.5) / 6.
  CHECK(tr::unigram_nll(train, test, 4, 0.5) ==
        Approx(-(std::log(2.5 / 6) + std::log(1.5 / 6)) / 2).epsilon(1e-12));
  // Bigram: 3 was never a context (unigram alone); after 1: c(1, 2) / c(1) = 1 / 2.
  const double l = 0.3;
  CHECK(tr::bigram_nll(train, test, 4, 1.0, l) ==
        Approx(-(std::log(3.0 / 8) + std::log(l * 0.5 + (1 - l) * 2.0 / 8)) / 2).epsilon(1e-12));
  CHECK(tr::bigram_nll(train, test, 4, 1.0, 0.0) == tr::unigram_nll(train, test, 4, 1.0));

  // An alternating stream: the bigram knows the next token, the unigram does not.
  std::vector<std::vector<int64_t>> alt, alt_test = {{0, 1, 0, 1, 0, 1}};
  for (int s = 0; s < 20; ++s) alt.push_back({0, 1, 0, 1, 0, 1, 0, 1});
  const auto r = tr::ngram_lm_baseline(alt, alt_test, 5);
  CHECK(r.model == "bigram");
  CHECK(r.lambda == 0.9);
  CHECK(r.k == 0.01);
  CHECK(r.tokens == 5);
  CHECK(r.value == Approx(-tr::bigram_nll(alt, alt_test, 5, r.k, r.lambda)));
  CHECK(r.value > -0.2);
  // The held-out sequences are the same stream (counts from 18 of the 20 sequences).
  CHECK(r.validation_value == Approx(r.value).epsilon(1e-3));
  // Tokens drawn independently and uniformly from 50: bigram counts of 320 tokens are noise, and
  // the unigram is kept.
  std::vector<std::vector<int64_t>> iid(40), iid_test(5);
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int64_t>((state >> 33) % 50);
  };
  for (auto& s : iid)
    for (int i = 0; i < 8; ++i) s.push_back(next());
  for (auto& s : iid_test)
    for (int i = 0; i < 8; ++i) s.push_back(next());
  const auto u = tr::ngram_lm_baseline(iid, iid_test, 50);
  CHECK(u.model == "unigram");
  CHECK(u.lambda == 0.0);
  CHECK(u.value == Approx(-tr::unigram_nll(iid, iid_test, 50, u.k)));
  CHECK(u.value > -std::log(50.0) - 0.5);
  // A single training sequence: its last tenth (4 tokens) is held out.
  std::vector<int64_t> one;
  for (int i = 0; i < 40; ++i) one.push_back(i % 2);
  CHECK(tr::ngram_lm_baseline({one}, alt_test, 2).model == "bigram");

  CHECK_THROWS_AS(tr::unigram_nll({}, test, 4, 1.0), ts::Error);
  CHECK_THROWS_AS(tr::unigram_nll(train, {{1}}, 4, 1.0), ts::Error);  // nothing to predict
  CHECK_THROWS_AS(tr::unigram_nll(train, test, 3, 1.0), ts::Error);   // id 3 outside vocab 3
  CHECK_THROWS_AS(tr::unigram_nll({{-1}}, test, 4, 1.0), ts::Error);
  CHECK_THROWS_AS(tr::unigram_nll(train, test, 4, 0.0), ts::Error);
  CHECK_THROWS_AS(tr::bigram_nll(train, test, 4, 1.0, 1.5), ts::Error);
  CHECK_THROWS_AS(tr::ngram_lm_baseline({}, test, 4), ts::Error);
}
