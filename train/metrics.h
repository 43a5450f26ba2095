// Evaluation metrics of the downstream tasks, with the standard definitions:
// accuracy and macro-F1 (classification), entity-level precision/recall/F1 over BIO spans
// (seqeval's definition), SQuAD exact match and token F1 (with SQuAD's answer normalisation),
// perplexity, corpus BLEU (4-gram, brevity penalty) and chrF (character 6-gram F-beta, beta 2).
#pragma once

#include <string>
#include <vector>

namespace taesan::models {

/// Fraction of predictions equal to their label. Throws on size mismatch; 0 for empty input.
double accuracy(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels);
/// Unweighted mean over classes 0..num_classes-1 of per-class F1 (a class absent from both
/// predictions and labels is skipped, as scikit-learn does for labels it never sees).
double macro_f1(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                int64_t num_classes);

/// Entity-level scores over BIO-tagged sequences.
struct EntityScores {
  double precision = 0, recall = 0, f1 = 0;
  int64_t predicted = 0, gold = 0, correct = 0;
};
/// An entity is a maximal B-X I-X* run (an I-X that does not continue an X entity starts one, as
/// seqeval's default mode does); it counts as correct when type, start and end all match.
EntityScores entity_f1(const std::vector<std::vector<std::string>>& predicted,
                       const std::vector<std::vector<std::string>>& gold);

/// SQuAD answer normalisation as in the official evaluate-v1.1.py: lower case as Python's
/// str.lower (Unicode: "Émile" -> "émile"), remove ASCII punctuation only (the script's
/// string.punctuation: "–", "«" or "。" stay), replace the words a, an, the by a space, then
/// collapse white space (Unicode white space, as str.split).
std::string normalize_answer(const std::string& s);
/// 1 when the normalised strings are equal.
double exact_match(const std::string& prediction, const std::string& gold);
/// Token-level F1 of the normalised strings.
double token_f1(const std::string& prediction, const std::string& gold);
/// SQuAD's score of a question with several gold answers: the best token_f1 over them (0 when
/// `answers` is empty).
double max_token_f1(const std::string& prediction, const std::vector<std::string>& answers);

/// exp(mean negative log-likelihood per token).
double perplexity(double total_nll, int64_t tokens);

/// Corpus BLEU-4 (uniform weights, brevity penalty) over whitespace tokens, in [0, 100].
double corpus_bleu(const std::vector<std::string>& hypotheses,
                   const std::vector<std::string>& references);
/// Corpus chrF (character n-grams 1..6, beta = 2, spaces removed), in [0, 100]: F-beta of the
/// precision and recall averaged over the orders that both the hypotheses and the references
/// have (sacrebleu's chrF).
double corpus_chrf(const std::vector<std::string>& hypotheses,
                   const std::vector<std::string>& references);

}  // namespace taesan::models
