// Metrics (see metrics.h).
#include "taesan/train/metrics.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "taesan/core/error.h"
#include "taesan/data/unicode.h"

namespace taesan::models {
namespace {

std::vector<std::string> split_ws(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Python's str.split(): cuts at Unicode white space (White_Space, plus U+001C-U+001F that
// str.isspace also counts), drops empty pieces.
std::vector<std::string> split_unicode_ws(const std::string& s) {
  std::vector<std::string> out;
  std::string word;
  for (size_t pos = 0; pos < s.size();) {
    const auto ch = data::decode_utf8(s, pos);
    const bool space = ch.valid && (data::char_class(ch.code_point) == data::CharClass::kSpace ||
                                    (ch.code_point >= 0x1C && ch.code_point <= 0x1F));
    if (space) {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    } else {
      word.append(s, pos, ch.length);
    }
    pos += ch.length;
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

// UTF-8 code points of s (invalid bytes taken one at a time).
std::vector<std::string> code_points(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

template <typename T>
std::map<std::vector<T>, int64_t> ngram_counts(const std::vector<T>& items, size_t n) {
  std::map<std::vector<T>, int64_t> counts;
  for (size_t i = 0; i + n <= items.size(); ++i)
    counts[std::vector<T>(items.begin() + i, items.begin() + i + n)]++;
  return counts;
}

}  // namespace

double accuracy(const std::vector<int64_t>& p, const std::vector<int64_t>& l) {
  TS_CHECK(p.size() == l.size(), "accuracy: {} predictions for {} labels", p.size(), l.size());
  if (p.empty()) return 0.0;
  int64_t correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == l[i];
  return static_cast<double>(correct) / static_cast<double>(p.size());
}

double macro_f1(const std::vector<int64_t>& p, const std::vector<int64_t>& l, int64_t num_classes) {
  TS_CHECK(p.size() == l.size(), "macro_f1: {} predictions for {} labels", p.size(), l.size());
  TS_CHECK(num_classes > 0, "macro_f1: num_classes must be positive, got {}", num_classes);
  // Counts of the classes that occur only (num_classes may be large): class -> (tp, fp, fn),
  // in class order so that the sum is always taken in the same order.
  std::map<int64_t, std::array<int64_t, 3>> counts;
  for (size_t i = 0; i < p.size(); ++i) {
    TS_CHECK(p[i] >= 0 && p[i] < num_classes && l[i] >= 0 && l[i] < num_classes,
             "macro_f1: class out of range at {} (prediction {}, label {}, {} classes)", i, p[i],
             l[i], num_classes);
    if (p[i] == l[i]) {
      counts[p[i]][0]++;
    } else {
      counts[p[i]][1]++;
      counts[l[i]][2]++;
    }
  }
  double sum = 0;
  for (const auto& [c, n] : counts)
    sum += 2.0 * static_cast<double>(n[0]) / static_cast<double>(2 * n[0] + n[1] + n[2]);
  return counts.empty() ? 0.0 : sum / static_cast<double>(counts.size());
}

namespace {
// (type, start, end) of the entities of one BIO sequence.
std::set<std::tuple<size_t, std::string, size_t, size_t>> entities(
    const std::vector<std::string>& tags, size_t sentence) {
  std::set<std::tuple<size_t, std::string, size_t, size_t>> out;
  std::string type;
  size_t start = 0;
  auto close = [&](size_t end) {
    if (!type.empty()) out.insert({sentence, type, start, end});
    type.clear();
  };
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string& t = tags[i];
    std::string prefix = t.size() >= 2 && t[1] == '-' ? t.substr(0, 1) : t;
    std::string ttype = t.size() > 2 && t[1] == '-' ? t.substr(2) : "";
    if (prefix == "B" || (prefix == "I" && ttype != type)) {
      close(i);
      type = ttype;
      start = i;
    } else if (prefix != "I") {
      close(i);
    }
  }
  close(tags.size());
  return out;
}
}  // namespace

EntityScores entity_f1(const std::vector<std::vector<std::string>>& predicted,
                       const std::vector<std::vector<std::string>>& gold) {
  TS_CHECK(predicted.size() == gold.size(), "entity_f1: {} predicted sequences for {} gold ones",
           predicted.size(), gold.size());
  EntityScores s;
  for (size_t i = 0; i < gold.size(); ++i) {
    TS_CHECK(predicted[i].size() == gold[i].size(),
             "entity_f1: sequence {} has {} predicted tags for {} gold tags", i,
             predicted[i].size(), gold[i].size());
    auto p = entities(predicted[i], i), g = entities(gold[i], i);
    s.predicted += static_cast<int64_t>(p.size());
    s.gold += static_cast<int64_t>(g.size());
    for (const auto& e : p) s.correct += g.count(e);
  }
  s.precision = s.predicted ? static_cast<double>(s.correct) / s.predicted : 0.0;
  s.recall = s.gold ? static_cast<double>(s.correct) / s.gold : 0.0;
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  return s;
}

std::string normalize_answer(const std::string& s) {
  // The official script: white_space_fix(remove_articles(remove_punc(lower(s)))).
  const std::string lower = data::lowercase(s);
  std::string text;
  text.reserve(lower.size());
  for (char c : lower) {
    // string.punctuation: ASCII only, so Unicode punctuation ("–", "。", "«") stays, as there.
    if (static_cast<unsigned char>(c) < 0x80 && std::ispunct(static_cast<unsigned char>(c)))
      continue;
    text += c;
  }
  // re.sub(r"\b(a|an|the)\b", " ", text): a whole run of word characters (Unicode letters and
  // digits; '_' is already gone) equal to an article becomes a space.
  auto is_word = [](const data::DecodedChar& ch) {
    const auto cls = data::char_class(ch.code_point);
    return ch.valid && (cls == data::CharClass::kLetter || cls == data::CharClass::kNumber);
  };
  std::string no_articles;
  no_articles.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t end = pos;
    while (end < text.size()) {
      const auto ch = data::decode_utf8(text, end);
      if (!is_word(ch)) break;
      end += ch.length;
    }
    if (end == pos) {  // one non-word character
      end = pos + data::decode_utf8(text, pos).length;
      no_articles.append(text, pos, end - pos);
    } else {
      const std::string_view run(text.data() + pos, end - pos);
      if (run == "a" || run == "an" || run == "the") {
        no_articles += ' ';
      } else {
        no_articles += run;
      }
    }
    pos = end;
  }
  // " ".join(text.split()): str.split() cuts at every Unicode white space character.
  std::string out;
  for (const std::string& w : split_unicode_ws(no_articles)) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

double exact_match(const std::string& prediction, const std::string& gold) {
  return normalize_answer(prediction) == normalize_answer(gold) ? 1.0 : 0.0;
}

double token_f1(const std::string& prediction, const std::string& gold) {
  auto p = split_unicode_ws(normalize_answer(prediction));
  auto g = split_unicode_ws(normalize_answer(gold));
  if (p.empty() || g.empty()) return p == g ? 1.0 : 0.0;
  std::map<std::string, int64_t> gc;
  for (const auto& w : g) gc[w]++;
  int64_t common = 0;
  for (const auto& w : p)
    if (gc[w] > 0) --gc[w], ++common;
  if (common == 0) return 0.0;
  double precision = static_cast<double>(common) / p.size(),
         recall = static_cast<double>(common) / g.size();
  return 2 * precision * recall / (precision + recall);
}

double perplexity(double total_nll, int64_t tokens) {
  TS_CHECK(tokens > 0, "perplexity: needs at least one token, got {}", tokens);
  return std::exp(total_nll / static_cast<double>(tokens));
}

double corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  TS_CHECK(hyps.size() == refs.size(), "corpus_bleu: {} hypotheses for {} references", hyps.size(),
           refs.size());
  int64_t matches[4] = {0, 0, 0, 0}, totals[4] = {0, 0, 0, 0}, hyp_len = 0, ref_len = 0;
  for (size_t i = 0; i < hyps.size(); ++i) {
    auto h = split_ws(hyps[i]), r = split_ws(refs[i]);
    hyp_len += static_cast<int64_t>(h.size());
    ref_len += static_cast<int64_t>(r.size());
    for (size_t n = 1; n <= 4; ++n) {
      auto hc = ngram_counts(h, n), rc = ngram_counts(r, n);
      for (const auto& [g, c] : hc) {
        auto it = rc.find(g);
        matches[n - 1] += std::min(c, it == rc.end() ? int64_t{0} : it->second);
      }
      totals[n - 1] +=
          std::max<int64_t>(0, static_cast<int64_t>(h.size()) - static_cast<int64_t>(n) + 1);
    }
  }
  if (hyp_len == 0) return 0.0;
  double log_sum = 0;
  for (int n = 0; n < 4; ++n) {
    if (matches[n] == 0 || totals[n] == 0) return 0.0;
    log_sum += std::log(static_cast<double>(matches[n]) / totals[n]) / 4.0;
  }
  double bp = hyp_len >= ref_len ? 1.0 : std::exp(1.0 - static_cast<double>(ref_len) / hyp_len);
  return 100.0 * bp * std::exp(log_sum);
}

double corpus_chrf(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  TS_CHECK(hyps.size() == refs.size(), "corpus_chrf: {} hypotheses for {} references", hyps.size(),
           refs.size());
  const int kMaxN = 6;
  const double beta2 = 4.0;
  std::vector<double> match(kMaxN, 0), hyp_total(kMaxN, 0), ref_total(kMaxN, 0);
  auto chars = [](const std::string& s) {
    std::vector<std::string> out;
    for (auto& c : code_points(s))
      if (c != " " && c != "\t" && c != "\n") out.push_back(c);
    return out;
  };
  for (size_t i = 0; i < hyps.size(); ++i) {
    auto h = chars(hyps[i]), r = chars(refs[i]);
    for (int n = 1; n <= kMaxN; ++n) {
      auto hc = ngram_counts(h, n), rc = ngram_counts(r, n);
      for (const auto& [g, c] : hc) {
        auto it = rc.find(g);
        match[n - 1] += static_cast<double>(std::min(c, it == rc.end() ? int64_t{0} : it->second));
        hyp_total[n - 1] += static_cast<double>(c);
      }
      for (const auto& [g, c] : rc) ref_total[n - 1] += static_cast<double>(c);
    }
  }
  // Average precision and recall over the n-gram orders that both sides have (sacrebleu's
  // effective order: a hypothesis of 4 characters is scored on orders 1-4), then F-beta.
  double p = 0, r = 0;
  int orders = 0;
  for (int n = 0; n < kMaxN; ++n) {
    if (hyp_total[n] == 0 || ref_total[n] == 0) continue;
    ++orders;
    p += match[n] / hyp_total[n];
    r += match[n] / ref_total[n];
  }
  if (orders == 0) return 0.0;
  p /= orders, r /= orders;
  if (p + r == 0) return 0.0;
  return 100.0 * (1 + beta2) * p * r / (beta2 * p + r);
}

double max_token_f1(const std::string& prediction, const std::vector<std::string>& answers) {
  double best = 0;
  for (const auto& a : answers) best = std::max(best, token_f1(prediction, a));
  return best;
}

}  // namespace taesan::models
