// Simple baselines that every task reports beside its fine-tuned model, computed on the same rows:
// bag-of-words logistic regression (classification), most frequent tag per word (NER), best-overlap
// sentence (extractive QA), nearest-neighbour retrieval (translation) and smoothed unigram/bigram
// models (language modelling). They read raw strings (or token ids for the LM), are deterministic,
// and choose their few settings on training data only, never on the rows they are scored on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "taesan/data/ner.h"

namespace taesan::train {

// ---- text features (shared by the classifier and the retrieval translator) ----

/// Which sparse features describe a text. The text is lower-cased (Unicode, data::lowercase) and
/// cut into tokens: runs of letters and digits are words, every other non-space character is a
/// token of its own ("!", "?", emoji). Features: each token (unigram), each pair of neighbouring
/// tokens (bigram), and the character n-grams of each word padded with a space at both ends
/// ("영화가" -> " 영", "영화", ..., "가 "): these carry Korean stems under their endings.
/// Weights: TF-IDF with sublinear term frequency (1 + ln tf) and smoothed IDF
/// (ln((1 + n) / (1 + df)) + 1, as scikit-learn), each row scaled to unit L2 norm.
struct TextFeatureOptions {
  int64_t min_char_n = 1;  ///< shortest character n-gram (0 with max_char_n 0: none)
  int64_t max_char_n = 4;  ///< longest character n-gram
  bool word_bigrams = true;
  int64_t min_document_frequency = 2;  ///< features in fewer training texts are dropped
};

// ---- classification ----

/// Options of BowClassifier::fit.
struct BowClassifierOptions {
  TextFeatureOptions features = {};
  /// L2 strengths tried (the penalty is l2 / 2 * |W|^2 added to the mean cross entropy); the one
  /// with the best held-out accuracy wins (ties: the larger, simpler model).
  std::vector<double> l2_grid = {1e-5, 1e-4, 1e-3, 1e-2};
  /// Share of the training rows held out to choose l2 when no validation set is given; the model
  /// is then fitted again on every training row. With fewer than 10 training rows (or one grid
  /// value) nothing is held out and the middle grid value is used.
  double holdout_fraction = 0.2;
  uint64_t seed = 0;             ///< which rows are held out (data::split_indices)
  int64_t max_iterations = 100;  ///< L-BFGS iterations per fit
};

/// Bag-of-words (TextFeatureOptions) multinomial logistic regression with an L2 penalty, fitted by
/// full-batch L-BFGS: deterministic (same rows, same model), about 1.5 s of one core for the 8k
/// training reviews of the Korean sentiment file.
class BowClassifier {
 public:
  /// Fits on (texts, labels); labels are any strings. Chooses l2 on a held-out part of these rows.
  /// Throws ts::Error for no rows, a size mismatch or an empty or non-positive l2 grid.
  static BowClassifier fit(const std::vector<std::string>& texts,
                           const std::vector<std::string>& labels,
                           const BowClassifierOptions& options = {});
  /// Fits on (texts, labels) for each l2 of the grid and keeps the model with the best accuracy on
  /// (valid_texts, valid_labels), which must not be the rows the baseline is scored on.
  static BowClassifier fit(const std::vector<std::string>& texts,
                           const std::vector<std::string>& labels,
                           const std::vector<std::string>& valid_texts,
                           const std::vector<std::string>& valid_labels,
                           const BowClassifierOptions& options = {});

  /// The most probable label (ties: the first in labels()).
  std::string predict(std::string_view text) const;
  /// predict() of each text.
  std::vector<std::string> predict_all(const std::vector<std::string>& texts) const;
  /// Class probabilities of `text`, in the order of labels().
  std::vector<double> predict_proba(std::string_view text) const;

  /// The training labels, sorted, without repeats.
  const std::vector<std::string>& labels() const { return labels_; }
  double l2() const { return l2_; }  ///< the chosen strength
  /// Accuracy on the rows used to choose l2 (-1 when nothing was held out).
  double validation_accuracy() const { return validation_accuracy_; }
  int64_t num_features() const;

  struct Model;  // vocabulary, IDF and weights (baselines.cc)

 private:
  std::vector<std::string> labels_;
  double l2_ = 0;
  double validation_accuracy_ = -1;
  std::shared_ptr<const Model> model_;
};

// ---- named-entity recognition ----

/// Tags each word with its most frequent training tag: the exact word's, else the lower-cased
/// word's (counts of every case variant), else "O". Ties between tags: "O" first, then the
/// smallest tag. The output is then repaired to valid BIO (an I-X that does not follow B-X or I-X
/// becomes B-X); the repair is part of the baseline.
class MostFrequentTagTagger {
 public:
  /// words[i] and tags[i] are sentence i; throws ts::Error for no words or mismatched sizes.
  static MostFrequentTagTagger fit(const std::vector<std::vector<std::string>>& words,
                                   const std::vector<std::vector<std::string>>& tags);
  /// Same, from data::read_conll's sentences.
  static MostFrequentTagTagger fit(const std::vector<data::NerSentence>& sentences);

  /// Tags of one sentence (same length as `words`).
  std::vector<std::string> predict(const std::vector<std::string>& words) const;
  /// predict() of each sentence.
  std::vector<std::vector<std::string>> predict_all(
      const std::vector<std::vector<std::string>>& sentences) const;

 private:
  std::unordered_map<std::string, std::string> exact_, lower_;  // word -> its tag
};

// ---- extractive question answering ----

/// A sentence of the context: bytes [begin, end) of the context, and its text.
struct SentenceAnswer {
  int64_t begin = 0;
  int64_t end = 0;
  std::string text;
};

/// The context sentence (data::split_sentences, surrounding white space trimmed) that contains the
/// most distinct question words; words are lower-cased runs of letters and digits, English stop
/// words ("what", "the", "of", ...) left out. Ties, and a question without content words: the
/// first sentence. Throws ts::Error for an empty question or a context of white space only.
SentenceAnswer best_overlap_sentence(std::string_view context, std::string_view question);

// ---- translation ----

/// A translation memory: the translation of a source sentence is the target of the training pair
/// whose source is most similar, by cosine of TF-IDF vectors (TextFeatureOptions; by default word
/// unigrams and bigrams and character 1-4-grams, every training feature kept).
class NearestNeighbourTranslator {
 public:
  /// Indexes the (source, target) pairs; throws ts::Error for no pairs.
  static NearestNeighbourTranslator fit(
      const std::vector<std::pair<std::string, std::string>>& pairs,
      const TextFeatureOptions& features = {.min_document_frequency = 1});

  /// Index of the pair with the most similar source (ties, and nothing in common with any
  /// source: the first such pair).
  int64_t nearest(std::string_view source) const;
  /// The target of nearest(source).
  std::string translate(std::string_view source) const;
  /// translate() of each source.
  std::vector<std::string> translate_all(const std::vector<std::string>& sources) const;

  struct Index;  // vocabulary, IDF and postings (baselines.cc)

 private:
  std::vector<std::string> targets_;
  std::shared_ptr<const Index> index_;
};

// ---- language modelling ----

/// The tokens an LM is scored on are those the causal-LM metric predicts: every token of a
/// sequence after its first, each given the token before it. Mean negative log-likelihood (nats)
/// of add-k unigram probabilities (c(w) + k) / (N + k V), counted over every training token.
/// Throws ts::Error for an id outside [0, vocab_size), k <= 0, or no token to count or predict.
double unigram_nll(const std::vector<std::vector<int64_t>>& train,
                   const std::vector<std::vector<int64_t>>& test, int64_t vocab_size, double k);

/// Same for the interpolated bigram lambda c(v, w) / c(v) + (1 - lambda) p_unigram(w), with
/// c(v) the number of training bigrams starting with v (the unigram alone when c(v) = 0).
double bigram_nll(const std::vector<std::vector<int64_t>>& train,
                  const std::vector<std::vector<int64_t>>& test, int64_t vocab_size, double k,
                  double lambda);

/// Options of ngram_lm_baseline.
struct NgramLmOptions {
  std::vector<double> k_grid = {0.01, 0.1, 0.5, 1.0};
  std::vector<double> lambda_grid = {0.1, 0.3, 0.5, 0.7, 0.9};
  double holdout_fraction = 0.1;  ///< training sequences held out to choose the model
  uint64_t seed = 0;
};

/// The LM baseline: its score in the generation task's metric.
struct NgramLmResult {
  double value = 0;             ///< -(mean NLL per predicted test token), nats
  std::string model;            ///< "unigram" or "bigram"
  double k = 0;                 ///< chosen add-k
  double lambda = 0;            ///< chosen bigram weight (0 for the unigram)
  double validation_value = 0;  ///< the same metric on the held-out training sequences
  int64_t tokens = 0;           ///< test tokens predicted
};

/// Chooses, on a held-out part of the training sequences (a seeded share of them; with a single
/// sequence, its last tenth), the best of the add-k unigrams and interpolated bigrams of the
/// grids, refits it on every training sequence and scores the test sequences. When the held-out
/// part predicts no token, add-one unigram is used.
NgramLmResult ngram_lm_baseline(const std::vector<std::vector<int64_t>>& train,
                                const std::vector<std::vector<int64_t>>& test, int64_t vocab_size,
                                const NgramLmOptions& options = {});

}  // namespace taesan::train
