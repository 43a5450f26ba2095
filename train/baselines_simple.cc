// The count-based baselines (see baselines.h): most frequent tag per word (NER), best-overlap
// sentence (extractive QA), add-k unigram and interpolated bigram language models.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "taesan/core/error.h"
#include "taesan/data/split.h"
#include "taesan/data/text_io.h"
#include "taesan/data/unicode.h"
#include "taesan/train/baselines.h"
#include "taesan/train/baselines_internal.h"

namespace taesan::train {

// ---- NER ----

namespace {

// The most frequent tag of each word; ties: "O" first, then the smallest tag.
std::unordered_map<std::string, std::string> best_tags(
    const std::unordered_map<std::string, std::map<std::string, int64_t>>& counts) {
  std::unordered_map<std::string, std::string> out;
  for (const auto& [word, tags] : counts) {
    const std::string* best = nullptr;
    int64_t best_count = 0;
    for (const auto& [tag, count] : tags) {  // ascending tags: a later tag must do strictly better
      if (best == nullptr || count > best_count || (count == best_count && tag == "O")) {
        best = &tag;
        best_count = count;
      }
    }
    out.emplace(word, *best);
  }
  return out;
}

}  // namespace

MostFrequentTagTagger MostFrequentTagTagger::fit(
    const std::vector<std::vector<std::string>>& words,
    const std::vector<std::vector<std::string>>& tags) {
  TS_CHECK(words.size() == tags.size(),
           "MostFrequentTagTagger::fit: {} sentences of words for {} "
           "of tags",
           words.size(), tags.size());
  std::unordered_map<std::string, std::map<std::string, int64_t>> exact, lower;
  int64_t total = 0;
  for (size_t s = 0; s < words.size(); ++s) {
    TS_CHECK(words[s].size() == tags[s].size(),
             "MostFrequentTagTagger::fit: sentence {} has {} words and {} tags", s, words[s].size(),
             tags[s].size());
    for (size_t i = 0; i < words[s].size(); ++i) {
      exact[words[s][i]][tags[s][i]]++;
      lower[data::lowercase(words[s][i])][tags[s][i]]++;
      ++total;
    }
  }
  TS_CHECK(total > 0, "MostFrequentTagTagger::fit: no training words ({} sentences)", words.size());
  MostFrequentTagTagger t;
  t.exact_ = best_tags(exact);
  t.lower_ = best_tags(lower);
  return t;
}

MostFrequentTagTagger MostFrequentTagTagger::fit(const std::vector<data::NerSentence>& sentences) {
  std::vector<std::vector<std::string>> words, tags;
  for (const auto& s : sentences) {
    words.push_back(s.words);
    tags.push_back(s.tags);
  }
  return fit(words, tags);
}

std::vector<std::string> MostFrequentTagTagger::predict(
    const std::vector<std::string>& words) const {
  std::vector<std::string> out;
  out.reserve(words.size());
  for (const std::string& w : words) {
    auto it = exact_.find(w);
    if (it == exact_.end()) it = lower_.find(data::lowercase(w));
    out.push_back(it == lower_.end() ? "O" : it->second);
  }
  // BIO repair, part of the baseline: per-word tags can put an I-X where no X entity is open
  // ("O I-LOC", "B-PER I-LOC"); that I-X starts the entity, so it becomes B-X.
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i].rfind("I-", 0) != 0) continue;
    const std::string type = out[i].substr(2);
    const bool continues = i > 0 && (out[i - 1] == "B-" + type || out[i - 1] == "I-" + type);
    if (!continues) out[i] = "B-" + type;
  }
  return out;
}

std::vector<std::vector<std::string>> MostFrequentTagTagger::predict_all(
    const std::vector<std::vector<std::string>>& sentences) const {
  std::vector<std::vector<std::string>> out;
  out.reserve(sentences.size());
  for (const auto& s : sentences) out.push_back(predict(s));
  return out;
}

// ---- extractive QA ----

namespace {

// Function words of English questions and answers, lower case (a question's "what", "did", "the"
// say nothing about where its answer is).
const std::set<std::string, std::less<>>& stop_words() {
  static const std::set<std::string, std::less<>> words = {
      "a",      "about", "after",  "all",   "also",  "am",    "an",   "and",   "any",   "are",
      "as",     "at",    "be",     "been",  "being", "but",   "by",   "can",   "could", "did",
      "do",     "does",  "during", "for",   "from",  "had",   "has",  "have",  "he",    "her",
      "him",    "his",   "how",    "i",     "if",    "in",    "into", "is",    "it",    "its",
      "many",   "may",   "me",     "might", "more",  "most",  "much", "must",  "my",    "no",
      "not",    "of",    "on",     "one",   "or",    "other", "our",  "s",     "shall", "she",
      "should", "so",    "some",   "such",  "than",  "that",  "the",  "their", "them",  "then",
      "there",  "these", "they",   "this",  "those", "to",    "up",   "us",    "was",   "we",
      "were",   "what",  "when",   "where", "which", "while", "who",  "whom",  "whose", "why",
      "will",   "with",  "would",  "you",   "your"};
  return words;
}

std::set<std::string> content_words(std::string_view text) {
  std::set<std::string> out;
  for (auto& t : detail::text_tokens(text))
    if (t.word && stop_words().count(t.text) == 0) out.insert(std::move(t.text));
  return out;
}

bool is_space_at(std::string_view s, size_t pos, size_t* length) {
  const auto ch = data::decode_utf8(s, pos);
  *length = ch.length;
  return ch.valid && data::char_class(ch.code_point) == data::CharClass::kSpace;
}

}  // namespace

SentenceAnswer best_overlap_sentence(std::string_view context, std::string_view question) {
  TS_CHECK(!question.empty(), "best_overlap_sentence: the question is empty");
  const std::set<std::string> wanted = content_words(question);
  SentenceAnswer best;
  int64_t best_score = -1;
  for (std::string_view piece : data::split_sentences(context)) {
    // Byte range of the piece in the context, white space trimmed from both ends.
    auto begin = static_cast<size_t>(piece.data() - context.data());
    auto end = begin + piece.size();
    size_t len = 0;
    while (begin < end && is_space_at(context, begin, &len)) begin += len;
    while (end > begin) {
      const size_t last = data::floor_char_boundary(context, end - 1);
      if (!is_space_at(context, last, &len)) break;
      end = last;
    }
    if (begin == end) continue;
    const std::string_view sentence = context.substr(begin, end - begin);
    std::set<std::string> shared;  // distinct question words in the sentence
    for (auto& t : detail::text_tokens(sentence))
      if (t.word && wanted.count(t.text) != 0) shared.insert(std::move(t.text));
    const auto score = static_cast<int64_t>(shared.size());
    if (score > best_score) {
      best_score = score;
      best = {static_cast<int64_t>(begin), static_cast<int64_t>(end), std::string(sentence)};
    }
  }
  TS_CHECK(best_score >= 0,
           "best_overlap_sentence: the context has no text ({} bytes of white "
           "space)",
           context.size());
  return best;
}

// ---- language models ----

namespace {

// Counts of one set of training sequences.
struct NgramCounts {
  int64_t vocab = 0;
  std::vector<int64_t> unigram;  // every token
  int64_t total = 0;
  std::vector<int64_t> context;                  // bigrams starting with v
  std::unordered_map<uint64_t, int64_t> bigram;  // v * vocab + w
};

void check_ids(const std::vector<std::vector<int64_t>>& seqs, int64_t vocab, const char* fn,
               const char* what) {
  for (size_t s = 0; s < seqs.size(); ++s)
    for (size_t i = 0; i < seqs[s].size(); ++i)
      TS_CHECK(seqs[s][i] >= 0 && seqs[s][i] < vocab,
               "{}: {} sequence {} has id {} at {}, outside [0, {})", fn, what, s, seqs[s][i], i,
               vocab);
}

int64_t predicted_tokens(const std::vector<std::vector<int64_t>>& seqs) {
  int64_t n = 0;
  for (const auto& s : seqs) n += s.empty() ? 0 : static_cast<int64_t>(s.size()) - 1;
  return n;
}

NgramCounts count(const std::vector<std::vector<int64_t>>& seqs, int64_t vocab) {
  NgramCounts c;
  c.vocab = vocab;
  c.unigram.assign(static_cast<size_t>(vocab), 0);
  c.context.assign(static_cast<size_t>(vocab), 0);
  for (const auto& s : seqs) {
    for (size_t i = 0; i < s.size(); ++i) {
      c.unigram[static_cast<size_t>(s[i])]++;
      ++c.total;
      if (i + 1 < s.size()) {
        c.context[static_cast<size_t>(s[i])]++;
        c.bigram[static_cast<uint64_t>(s[i]) * static_cast<uint64_t>(vocab) +
                 static_cast<uint64_t>(s[i + 1])]++;
      }
    }
  }
  return c;
}

// Mean NLL of the predicted tokens of `seqs`; lambda = 0 is the unigram.
double mean_nll(const NgramCounts& c, const std::vector<std::vector<int64_t>>& seqs, double k,
                double lambda) {
  const double denominator = static_cast<double>(c.total) + k * static_cast<double>(c.vocab);
  double sum = 0;
  int64_t n = 0;
  for (const auto& s : seqs) {
    for (size_t i = 1; i < s.size(); ++i) {
      const auto v = static_cast<size_t>(s[i - 1]), w = static_cast<size_t>(s[i]);
      double p = (static_cast<double>(c.unigram[w]) + k) / denominator;
      if (lambda > 0 && c.context[v] > 0) {
        auto it = c.bigram.find(static_cast<uint64_t>(v) * static_cast<uint64_t>(c.vocab) + w);
        const double pair = it == c.bigram.end() ? 0.0 : static_cast<double>(it->second);
        p = lambda * pair / static_cast<double>(c.context[v]) + (1 - lambda) * p;
      }
      sum -= std::log(p);
      ++n;
    }
  }
  return sum / static_cast<double>(n);
}

void check_lm_input(const std::vector<std::vector<int64_t>>& train,
                    const std::vector<std::vector<int64_t>>& test, int64_t vocab, const char* fn) {
  TS_CHECK(vocab > 0, "{}: vocab_size {} must be positive", fn, vocab);
  check_ids(train, vocab, fn, "training");
  check_ids(test, vocab, fn, "test");
  int64_t train_tokens = 0;
  for (const auto& s : train) train_tokens += static_cast<int64_t>(s.size());
  TS_CHECK(train_tokens > 0, "{}: no training tokens ({} sequences)", fn, train.size());
  TS_CHECK(predicted_tokens(test) > 0,
           "{}: no test token to predict ({} sequences; each predicts its tokens after the first)",
           fn, test.size());
}

void check_k_lambda(double k, double lambda, const char* fn) {
  TS_CHECK(k > 0 && std::isfinite(k), "{}: add-k {} must be positive", fn, k);
  TS_CHECK(lambda >= 0 && lambda <= 1, "{}: lambda {} is outside [0, 1]", fn, lambda);
}

}  // namespace

double unigram_nll(const std::vector<std::vector<int64_t>>& train,
                   const std::vector<std::vector<int64_t>>& test, int64_t vocab_size, double k) {
  check_lm_input(train, test, vocab_size, "unigram_nll");
  check_k_lambda(k, 0.0, "unigram_nll");
  return mean_nll(count(train, vocab_size), test, k, 0.0);
}

double bigram_nll(const std::vector<std::vector<int64_t>>& train,
                  const std::vector<std::vector<int64_t>>& test, int64_t vocab_size, double k,
                  double lambda) {
  check_lm_input(train, test, vocab_size, "bigram_nll");
  check_k_lambda(k, lambda, "bigram_nll");
  return mean_nll(count(train, vocab_size), test, k, lambda);
}

NgramLmResult ngram_lm_baseline(const std::vector<std::vector<int64_t>>& train,
                                const std::vector<std::vector<int64_t>>& test, int64_t vocab_size,
                                const NgramLmOptions& options) {
  check_lm_input(train, test, vocab_size, "ngram_lm_baseline");
  TS_CHECK(!options.k_grid.empty() && !options.lambda_grid.empty(),
           "ngram_lm_baseline: the k grid ({} values) and lambda grid ({}) must not be empty",
           options.k_grid.size(), options.lambda_grid.size());
  for (double k : options.k_grid) check_k_lambda(k, 0.0, "ngram_lm_baseline");
  for (double l : options.lambda_grid) check_k_lambda(1.0, l, "ngram_lm_baseline");
  TS_CHECK(options.holdout_fraction > 0 && options.holdout_fraction < 1,
           "ngram_lm_baseline: holdout_fraction {} is outside (0, 1)", options.holdout_fraction);
  // The held-out sequences.
  std::vector<std::vector<int64_t>> fit_part, held;
  if (train.size() >= 2) {
    auto split = data::split_indices(static_cast<int64_t>(train.size()), options.holdout_fraction,
                                     0.0, options.seed);
    if (split.validation.empty()) {
      split.validation.push_back(split.train.back());
      split.train.pop_back();
    }
    fit_part = data::select(train, split.train);
    held = data::select(train, split.validation);
  } else {
    const auto& s = train[0];
    const auto cut = static_cast<std::ptrdiff_t>(
        std::ceil(static_cast<double>(s.size()) * (1.0 - options.holdout_fraction)));
    fit_part.emplace_back(s.begin(), s.begin() + std::min<std::ptrdiff_t>(cut, s.size()));
    held.emplace_back(s.begin() + std::min<std::ptrdiff_t>(cut, s.size()), s.end());
  }
  NgramLmResult r{.model = "unigram", .k = 1.0, .lambda = 0.0};
  bool chosen = false;
  for (const auto& s : fit_part) chosen = chosen || !s.empty();
  if (chosen && predicted_tokens(held) > 0) {
    const NgramCounts c = count(fit_part, vocab_size);
    double best = -std::numeric_limits<double>::infinity();
    // Unigrams first: a bigram must do strictly better to be chosen.
    for (double k : options.k_grid) {
      const double v = -mean_nll(c, held, k, 0.0);
      if (v > best) best = v, r.k = k;
    }
    for (double k : options.k_grid) {
      for (double l : options.lambda_grid) {
        const double v = -mean_nll(c, held, k, l);
        if (v > best) best = v, r.k = k, r.lambda = l, r.model = "bigram";
      }
    }
    r.validation_value = best;
  }
  r.value = -mean_nll(count(train, vocab_size), test, r.k, r.lambda);
  r.tokens = predicted_tokens(test);
  return r;
}

}  // namespace taesan::train
