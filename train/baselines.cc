// The text baselines (see baselines.h): the bag-of-words logistic regression fitted by L-BFGS,
// and the nearest-neighbour translation memory. Their features are in baselines_features.cc; the
// NER, QA and LM baselines in baselines_simple.cc.
#include "taesan/train/baselines.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "taesan/core/error.h"
#include "taesan/data/split.h"
#include "taesan/train/baselines_internal.h"

namespace taesan::train {

// ---- logistic regression ----

using detail::SparseRow;

namespace {

void check_feature_options(const TextFeatureOptions& o, const char* fn) {
  const bool ngrams_ok = o.max_char_n == 0 || (o.min_char_n >= 1 && o.min_char_n <= o.max_char_n);
  TS_CHECK(ngrams_ok && o.max_char_n >= 0 && o.min_document_frequency >= 1,
           "{}: character n-grams {}..{} and min_document_frequency {} (expected 1 <= min <= max, "
           "or max 0 for none, and a frequency >= 1)",
           fn, o.min_char_n, o.max_char_n, o.min_document_frequency);
}

// Weights of a multinomial logistic regression over D features and K classes: w[j * K + k] for
// feature j (feature-major, so a sparse row touches K contiguous weights), then K biases.
struct LinearModel {
  int64_t num_features = 0, num_classes = 0;
  std::vector<double> w;
  void scores(const SparseRow& x, std::vector<double>& s) const {
    const auto K = static_cast<size_t>(num_classes);
    s.assign(w.end() - static_cast<std::ptrdiff_t>(K), w.end());
    for (const auto& [j, v] : x) {
      const double* wj = w.data() + static_cast<size_t>(j) * K;
      for (size_t k = 0; k < K; ++k) s[k] += v * wj[k];
    }
  }
  int64_t predict(const SparseRow& x) const {
    std::vector<double> s;
    scores(x, s);
    return std::max_element(s.begin(), s.end()) - s.begin();  // first of equal maxima
  }
};

// f(W, b) = mean_i [logsumexp(s_i) - s_i[y_i]] + l2 / 2 |W|^2,  s_i = W x_i + b.
// df/dW[j, k] = mean_i x_ij (p_ik - [k == y_i]) + l2 W[j, k]
// df/db[k]    = mean_i (p_ik - [k == y_i]),   p_i = softmax(s_i)
double objective(const LinearModel& m, const std::vector<SparseRow>& X,
                 const std::vector<int64_t>& y, double l2, std::vector<double>& grad) {
  const auto K = static_cast<size_t>(m.num_classes);
  const size_t nw = static_cast<size_t>(m.num_features) * K;
  grad.assign(m.w.size(), 0.0);
  const double inv_n = 1.0 / static_cast<double>(X.size());
  double loss = 0;
  std::vector<double> s;
  for (size_t i = 0; i < X.size(); ++i) {
    m.scores(X[i], s);
    const double mx = *std::max_element(s.begin(), s.end());
    double z = 0;
    for (double v : s) z += std::exp(v - mx);
    const double lse = mx + std::log(z);
    loss += lse - s[static_cast<size_t>(y[i])];
    for (size_t k = 0; k < K; ++k) s[k] = (std::exp(s[k] - lse) - (k == size_t(y[i]))) * inv_n;
    for (const auto& [j, v] : X[i]) {
      double* gj = grad.data() + static_cast<size_t>(j) * K;
      for (size_t k = 0; k < K; ++k) gj[k] += v * s[k];
    }
    for (size_t k = 0; k < K; ++k) grad[nw + k] += s[k];
  }
  double penalty = 0;
  for (size_t i = 0; i < nw; ++i) {
    penalty += m.w[i] * m.w[i];
    grad[i] += l2 * m.w[i];
  }
  return loss * inv_n + 0.5 * l2 * penalty;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Full-batch L-BFGS (memory 10, backtracking Armijo line search) from `start` (zero weights when
// null). The objective is smooth and strongly convex (l2 > 0): one minimum, whatever the start.
// It stops when no gradient entry exceeds kGradientTolerance, or after max_iterations (on the
// Korean sentiment file, stopping there or running 100 iterations gives the same test accuracy).
constexpr double kGradientTolerance = 1e-4;

LinearModel fit_linear(const std::vector<SparseRow>& X, const std::vector<int64_t>& y,
                       int64_t num_features, int64_t num_classes, double l2, int64_t max_iterations,
                       const LinearModel* start = nullptr) {
  LinearModel m{num_features, num_classes, {}};
  m.w.assign(static_cast<size_t>((num_features + 1) * num_classes), 0.0);
  if (start != nullptr) m.w = start->w;
  const size_t kMemory = 10;
  std::vector<std::vector<double>> S, Y;
  std::vector<double> rho;
  std::vector<double> g, g_new, d(m.w.size()), alpha(kMemory);
  double f = objective(m, X, y, l2, g);
  LinearModel trial = m;
  for (int64_t it = 0; it < max_iterations; ++it) {
    double gmax = 0;
    for (double v : g) gmax = std::max(gmax, std::abs(v));
    if (gmax < kGradientTolerance) break;
    // Two-loop recursion: d = -H g, H0 = (s.y / y.y) I from the newest pair.
    for (size_t i = 0; i < d.size(); ++i) d[i] = -g[i];
    for (size_t c = S.size(); c-- > 0;) {
      alpha[c] = rho[c] * dot(S[c], d);
      for (size_t i = 0; i < d.size(); ++i) d[i] -= alpha[c] * Y[c][i];
    }
    double step = 1.0;
    if (!S.empty()) {
      const double gamma = dot(S.back(), Y.back()) / dot(Y.back(), Y.back());
      for (double& v : d) v *= gamma;
    } else {
      step = std::min(1.0, 1.0 / std::sqrt(dot(g, g)));
    }
    for (size_t c = 0; c < S.size(); ++c) {
      const double beta = rho[c] * dot(Y[c], d);
      for (size_t i = 0; i < d.size(); ++i) d[i] += S[c][i] * (alpha[c] - beta);
    }
    double gd = dot(g, d);
    if (gd >= 0) {  // not a descent direction (cannot happen in exact arithmetic): restart
      S.clear(), Y.clear(), rho.clear();
      for (size_t i = 0; i < d.size(); ++i) d[i] = -g[i];
      gd = -dot(g, g);
      step = std::min(1.0, 1.0 / std::sqrt(-gd));
    }
    double f_new = f;
    bool accepted = false;
    for (int tries = 0; tries < 40; ++tries, step *= 0.5) {
      for (size_t i = 0; i < d.size(); ++i) trial.w[i] = m.w[i] + step * d[i];
      f_new = objective(trial, X, y, l2, g_new);
      if (f_new <= f + 1e-4 * step * gd) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
    std::vector<double> s(d.size()), yv(d.size());
    for (size_t i = 0; i < d.size(); ++i) s[i] = trial.w[i] - m.w[i], yv[i] = g_new[i] - g[i];
    const double sy = dot(s, yv);
    if (sy > 1e-12) {
      if (S.size() == kMemory) {
        S.erase(S.begin()), Y.erase(Y.begin()), rho.erase(rho.begin());
      }
      S.push_back(std::move(s)), Y.push_back(std::move(yv)), rho.push_back(1.0 / sy);
    }
    const double decrease = f - f_new;
    std::swap(m.w, trial.w);
    std::swap(g, g_new);
    f = f_new;
    if (decrease <= 1e-12 * std::max(1.0, std::abs(f))) break;  // no progress left
  }
  return m;
}

// The weights of `m` (over the columns of `from`) moved to the columns of `to`, zero for the
// columns `from` does not have: a starting point for a fit over a larger vocabulary.
LinearModel remap(const LinearModel& m, const detail::Vocabulary& from,
                  const detail::Vocabulary& to) {
  const auto K = static_cast<size_t>(m.num_classes);
  LinearModel out{to.size(), m.num_classes, {}};
  out.w.assign(static_cast<size_t>(to.size() + 1) * K, 0.0);
  for (size_t t = 0; t < from.column.size() && t < to.column.size(); ++t) {
    if (from.column[t] < 0 || to.column[t] < 0) continue;
    std::copy_n(m.w.begin() + static_cast<std::ptrdiff_t>(from.column[t] * K), K,
                out.w.begin() + static_cast<std::ptrdiff_t>(to.column[t] * K));
  }
  std::copy_n(m.w.end() - static_cast<std::ptrdiff_t>(K), K,
              out.w.end() - static_cast<std::ptrdiff_t>(K));
  return out;
}

double accuracy_of(const LinearModel& m, const std::vector<SparseRow>& X,
                   const std::vector<int64_t>& y) {
  int64_t correct = 0;
  for (size_t i = 0; i < X.size(); ++i) correct += m.predict(X[i]) == y[i];
  return X.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(X.size());
}

std::vector<int64_t> all_rows(size_t n) {
  std::vector<int64_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

void check_rows(const std::vector<std::string>& texts, const std::vector<std::string>& labels,
                const char* what) {
  TS_CHECK(!texts.empty(), "BowClassifier::fit: no {} rows", what);
  TS_CHECK(texts.size() == labels.size(), "BowClassifier::fit: {} {} texts for {} labels",
           texts.size(), what, labels.size());
}

}  // namespace

struct BowClassifier::Model {
  detail::Vocabulary vocabulary;
  LinearModel linear;
};

namespace {

// What fit() needs from the rows: the sorted term ids of every text, and label ids.
struct Prepared {
  std::vector<std::vector<int32_t>> docs;
  std::vector<int64_t> y;
};

Prepared prepare(const std::vector<std::string>& texts, const std::vector<std::string>& labels,
                 const std::vector<std::string>& label_list, const TextFeatureOptions& o,
                 detail::Terms& terms, const char* what) {
  Prepared p;
  p.docs.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    p.docs.push_back(terms.add_text(texts[i], o));
    auto it = std::lower_bound(label_list.begin(), label_list.end(), labels[i]);
    TS_CHECK(it != label_list.end() && *it == labels[i],
             "BowClassifier::fit: {} row {} has label '{}', not among the training labels", what, i,
             labels[i]);
    p.y.push_back(it - label_list.begin());
  }
  return p;
}

std::vector<SparseRow> rows_of(const detail::Vocabulary& v, const Prepared& p,
                               const std::vector<int64_t>& rows) {
  std::vector<SparseRow> X;
  X.reserve(rows.size());
  for (int64_t r : rows) X.push_back(detail::vectorize_terms(v, p.docs[static_cast<size_t>(r)]));
  return X;
}

std::vector<int64_t> labels_of(const Prepared& p, const std::vector<int64_t>& rows) {
  std::vector<int64_t> y;
  for (int64_t r : rows) y.push_back(p.y[r]);
  return y;
}

std::vector<double> sorted_grid(const BowClassifierOptions& o) {
  TS_CHECK(!o.l2_grid.empty(), "BowClassifier::fit: the l2 grid is empty");
  for (double v : o.l2_grid)
    TS_CHECK(v > 0 && std::isfinite(v), "BowClassifier::fit: l2 {} is not positive", v);
  TS_CHECK(o.max_iterations > 0, "BowClassifier::fit: max_iterations {} must be positive",
           o.max_iterations);
  check_feature_options(o.features, "BowClassifier::fit");
  std::vector<double> grid = o.l2_grid;
  std::sort(grid.begin(), grid.end());
  return grid;
}

}  // namespace

BowClassifier BowClassifier::fit(const std::vector<std::string>& texts,
                                 const std::vector<std::string>& labels,
                                 const BowClassifierOptions& options) {
  check_rows(texts, labels, "training");
  const std::vector<double> grid = sorted_grid(options);
  TS_CHECK(options.holdout_fraction > 0 && options.holdout_fraction < 1,
           "BowClassifier::fit: holdout_fraction {} is outside (0, 1)", options.holdout_fraction);
  BowClassifier c;
  c.labels_ = labels;
  std::sort(c.labels_.begin(), c.labels_.end());
  c.labels_.erase(std::unique(c.labels_.begin(), c.labels_.end()), c.labels_.end());
  detail::Terms terms;
  const Prepared p = prepare(texts, labels, c.labels_, options.features, terms, "training");
  const auto K = static_cast<int64_t>(c.labels_.size());

  c.l2_ = grid[grid.size() / 2];
  const auto split = data::split_indices(static_cast<int64_t>(texts.size()),
                                         options.holdout_fraction, 0.0, options.seed);
  detail::Vocabulary held_vocabulary;
  LinearModel chosen;  // fitted without the held-out rows
  if (texts.size() >= 10 && grid.size() > 1 && !split.validation.empty() && !split.train.empty()) {
    // Features and weights from the kept rows only: the held-out rows are unseen, as test rows.
    held_vocabulary = detail::build_vocabulary(terms, p.docs, split.train, options.features);
    const auto& v = held_vocabulary;
    const auto X = rows_of(v, p, split.train), Xv = rows_of(v, p, split.validation);
    const auto y = labels_of(p, split.train), yv = labels_of(p, split.validation);
    // From the largest l2 down, each fit starting at the previous one (the path of solutions is
    // smooth, so few iterations are needed); ">" keeps the larger l2 among equals.
    double best = -1;
    LinearModel previous;
    for (size_t g = grid.size(); g-- > 0;) {
      LinearModel m = fit_linear(X, y, v.size(), K, grid[g], options.max_iterations,
                                 g + 1 < grid.size() ? &previous : nullptr);
      const double acc = accuracy_of(m, Xv, yv);
      if (acc > best) best = acc, c.l2_ = grid[g], chosen = m;
      previous = std::move(m);
    }
    c.validation_accuracy_ = best;
  }
  // The final fit on every training row, starting from the chosen held-out fit.
  auto model = std::make_shared<Model>();
  const auto rows = all_rows(texts.size());
  model->vocabulary = detail::build_vocabulary(terms, p.docs, rows, options.features);
  LinearModel start;
  if (!chosen.w.empty()) start = remap(chosen, held_vocabulary, model->vocabulary);
  model->linear = fit_linear(rows_of(model->vocabulary, p, rows), p.y, model->vocabulary.size(), K,
                             c.l2_, options.max_iterations, chosen.w.empty() ? nullptr : &start);
  c.model_ = std::move(model);
  return c;
}

BowClassifier BowClassifier::fit(const std::vector<std::string>& texts,
                                 const std::vector<std::string>& labels,
                                 const std::vector<std::string>& valid_texts,
                                 const std::vector<std::string>& valid_labels,
                                 const BowClassifierOptions& options) {
  check_rows(texts, labels, "training");
  check_rows(valid_texts, valid_labels, "validation");
  const std::vector<double> grid = sorted_grid(options);
  BowClassifier c;
  c.labels_ = labels;
  std::sort(c.labels_.begin(), c.labels_.end());
  c.labels_.erase(std::unique(c.labels_.begin(), c.labels_.end()), c.labels_.end());
  detail::Terms terms;
  const Prepared p = prepare(texts, labels, c.labels_, options.features, terms, "training");
  const auto K = static_cast<int64_t>(c.labels_.size());
  auto model = std::make_shared<Model>();
  const auto rows = all_rows(texts.size());
  model->vocabulary = detail::build_vocabulary(terms, p.docs, rows, options.features);
  // Validation terms are numbered after the training ones: the vocabulary does not know them.
  const Prepared pv =
      prepare(valid_texts, valid_labels, c.labels_, options.features, terms, "validation");
  const auto X = rows_of(model->vocabulary, p, rows);
  const auto Xv = rows_of(model->vocabulary, pv, all_rows(valid_texts.size()));
  LinearModel previous;  // as in the other fit: largest l2 first, warm starts
  for (size_t g = grid.size(); g-- > 0;) {
    LinearModel m = fit_linear(X, p.y, model->vocabulary.size(), K, grid[g], options.max_iterations,
                               g + 1 < grid.size() ? &previous : nullptr);
    const double acc = accuracy_of(m, Xv, pv.y);
    if (acc > c.validation_accuracy_) {
      c.validation_accuracy_ = acc, c.l2_ = grid[g];
      model->linear = m;
    }
    previous = std::move(m);
  }
  c.model_ = std::move(model);
  return c;
}

std::vector<double> BowClassifier::predict_proba(std::string_view text) const {
  TS_CHECK(model_ != nullptr, "BowClassifier::predict_proba: the classifier is not fitted");
  std::vector<double> s;
  model_->linear.scores(detail::vectorize_text(model_->vocabulary, text), s);
  const double mx = *std::max_element(s.begin(), s.end());
  double z = 0;
  for (double& v : s) z += (v = std::exp(v - mx));
  for (double& v : s) v /= z;
  return s;
}

std::string BowClassifier::predict(std::string_view text) const {
  TS_CHECK(model_ != nullptr, "BowClassifier::predict: the classifier is not fitted");
  return labels_[static_cast<size_t>(
      model_->linear.predict(detail::vectorize_text(model_->vocabulary, text)))];
}

std::vector<std::string> BowClassifier::predict_all(const std::vector<std::string>& texts) const {
  std::vector<std::string> out;
  out.reserve(texts.size());
  for (const std::string& t : texts) out.push_back(predict(t));
  return out;
}

int64_t BowClassifier::num_features() const {
  return model_ == nullptr ? 0 : model_->vocabulary.size();
}

// ---- translation memory ----

struct NearestNeighbourTranslator::Index {
  detail::Vocabulary vocabulary;
  std::vector<std::vector<std::pair<int32_t, double>>> postings;  // feature -> (pair, weight)
};

NearestNeighbourTranslator NearestNeighbourTranslator::fit(
    const std::vector<std::pair<std::string, std::string>>& pairs,
    const TextFeatureOptions& features) {
  TS_CHECK(!pairs.empty(), "NearestNeighbourTranslator::fit: no training pairs");
  check_feature_options(features, "NearestNeighbourTranslator::fit");
  NearestNeighbourTranslator t;
  detail::Terms terms;
  std::vector<std::vector<int32_t>> docs;
  for (const auto& [source, target] : pairs) {
    docs.push_back(terms.add_text(source, features));
    t.targets_.push_back(target);
  }
  auto index = std::make_shared<Index>();
  index->vocabulary = detail::build_vocabulary(terms, docs, all_rows(docs.size()), features);
  index->postings.resize(static_cast<size_t>(index->vocabulary.size()));
  for (size_t i = 0; i < docs.size(); ++i) {
    for (const auto& [j, w] : detail::vectorize_terms(index->vocabulary, docs[i]))
      index->postings[static_cast<size_t>(j)].emplace_back(static_cast<int32_t>(i), w);
  }
  t.index_ = std::move(index);
  return t;
}

int64_t NearestNeighbourTranslator::nearest(std::string_view source) const {
  TS_CHECK(index_ != nullptr, "NearestNeighbourTranslator::nearest: not fitted");
  // Cosine = dot product of unit vectors, summed over the query's features (index order).
  std::vector<double> score(targets_.size(), 0.0);
  for (const auto& [j, w] : detail::vectorize_text(index_->vocabulary, source)) {
    for (const auto& [doc, dw] : index_->postings[static_cast<size_t>(j)]) score[doc] += w * dw;
  }
  return std::max_element(score.begin(), score.end()) - score.begin();
}

std::string NearestNeighbourTranslator::translate(std::string_view source) const {
  return targets_[static_cast<size_t>(nearest(source))];
}

std::vector<std::string> NearestNeighbourTranslator::translate_all(
    const std::vector<std::string>& sources) const {
  std::vector<std::string> out;
  out.reserve(sources.size());
  for (const std::string& s : sources) out.push_back(translate(s));
  return out;
}

}  // namespace taesan::train
