// Generation (see generate.h). Both model kinds are driven through a Stepper: feed new tokens
// for every beam, get the next-token logits (beams, vocab), and reorder the caches when beams
// are re-ranked.
#include "taesan/models/generate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/core/random.h"
#include "taesan/ops/ops.h"

namespace taesan::models {
namespace {

struct Stepper {
  std::function<Tensor(const Tensor& tokens)> step;     // (beams, n) -> (beams, vocab)
  std::function<void(const Tensor& index)> reorder;     // index (beams) int64
  int64_t room;                                         // how many more tokens fit
};

void check_options(const GenerationOptions& o, int64_t vocab) {
  TS_CHECK(o.max_new_tokens >= 0, "generate: max_new_tokens must be >= 0, got {}", o.max_new_tokens);
  TS_CHECK(o.temperature > 0, "generate: temperature must be > 0, got {}", o.temperature);
  TS_CHECK(o.top_k >= 0, "generate: top_k must be >= 0, got {}", o.top_k);
  TS_CHECK(o.top_p > 0 && o.top_p <= 1, "generate: top_p must be in (0, 1], got {}", o.top_p);
  TS_CHECK(o.repetition_penalty > 0, "generate: repetition_penalty must be > 0, got {}", o.repetition_penalty);
  TS_CHECK(o.num_beams >= 1, "generate: num_beams must be >= 1, got {}", o.num_beams);
  TS_CHECK(std::isfinite(o.length_penalty), "generate: length_penalty must be finite, got {}",
           o.length_penalty);
  TS_CHECK(!(o.num_beams > 1 && o.do_sample), "generate: beam search does not sample; use num_beams = 1 with do_sample");
  TS_CHECK(o.eos_token_id < vocab, "generate: eos_token_id {} outside the vocabulary of {}", o.eos_token_id, vocab);
}

// Applies the repetition penalty to one row of logits, in place.
void penalize(std::vector<double>& logits, const std::vector<int64_t>& seen, double penalty) {
  if (penalty == 1.0) return;
  std::vector<bool> done(logits.size(), false);
  for (int64_t t : seen) {
    if (t < 0 || t >= static_cast<int64_t>(logits.size()) || done[t]) continue;
    done[t] = true;
    logits[t] = logits[t] > 0 ? logits[t] / penalty : logits[t] * penalty;
  }
}

int64_t argmax(const std::vector<double>& v) {
  return std::max_element(v.begin(), v.end()) - v.begin();
}

int64_t sample(std::vector<double> logits, const GenerationOptions& o, uint64_t counter) {
  for (double& l : logits) l /= o.temperature;
  std::vector<int64_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
  size_t keep = order.size();
  if (o.top_k > 0) keep = std::min<size_t>(keep, static_cast<size_t>(o.top_k));
  const double mx = logits[order[0]];
  std::vector<double> probs(keep);
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += probs[i] = std::exp(logits[order[i]] - mx);
  if (o.top_p < 1.0) {
    double cum = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      cum += probs[i] / total;
      if (cum >= o.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    total = std::accumulate(probs.begin(), probs.begin() + keep, 0.0);
  }
  double u = random::uniform01(random::bits(o.seed, counter)) * total;
  for (size_t i = 0; i < keep; ++i) {
    u -= probs[i];
    if (u < 0) return order[i];
  }
  return order[keep - 1];
}

std::vector<double> row(const Tensor& logits, int64_t r) {
  return squeeze(slice(logits, 0, r, r + 1), 0).to_vector<double>();
}

// Greedy or sampled decoding of one sequence.
std::vector<int64_t> decode_single(Stepper& s, std::vector<int64_t> context, const Tensor& first_input,
                                   const GenerationOptions& o) {
  std::vector<int64_t> out;
  Tensor logits = s.step(first_input);
  const int64_t steps = std::min(o.max_new_tokens, s.room);
  for (int64_t t = 0; t < steps; ++t) {
    std::vector<double> l = row(logits, 0);
    penalize(l, context, o.repetition_penalty);
    int64_t next = o.do_sample ? sample(l, o, static_cast<uint64_t>(t)) : argmax(l);
    out.push_back(next);
    context.push_back(next);
    if (next == o.eos_token_id || t + 1 == steps) break;
    logits = s.step(from_vector<int64_t>({next}, {1, 1}));
  }
  return out;
}

// Beam search: `s` runs num_beams rows from the start (all identical at first).
std::vector<int64_t> decode_beams(Stepper& s, const std::vector<int64_t>& context, const Tensor& first_input,
                                  const GenerationOptions& o) {
  const int64_t beams = o.num_beams;
  const double neg_inf = -std::numeric_limits<double>::infinity();
  std::vector<std::vector<int64_t>> seqs(beams);
  std::vector<double> scores(beams, neg_inf);
  scores[0] = 0;  // identical beams: expand only the first at step 0
  std::vector<std::pair<double, std::vector<int64_t>>> finished;
  auto normalized = [&](double score, size_t len) {
    return score / std::pow(static_cast<double>(std::max<size_t>(len, 1)), o.length_penalty);
  };
  Tensor logits = s.step(first_input);
  const int64_t steps = std::min(o.max_new_tokens, s.room);
  for (int64_t t = 0; t < steps; ++t) {
    Tensor logp = log_softmax(logits.to(kFloat64), -1);
    struct Cand { double score; int64_t beam, token; };
    std::vector<Cand> cands;
    for (int64_t b = 0; b < beams; ++b) {
      if (scores[b] == neg_inf) continue;
      std::vector<double> l = row(logp, b);
      if (o.repetition_penalty != 1.0) {
        std::vector<int64_t> seen = context;
        seen.insert(seen.end(), seqs[b].begin(), seqs[b].end());
        penalize(l, seen, o.repetition_penalty);
      }
      std::vector<int64_t> idx(l.size());
      std::iota(idx.begin(), idx.end(), 0);
      std::partial_sort(idx.begin(), idx.begin() + std::min<int64_t>(2 * beams, idx.size()), idx.end(),
                        [&](int64_t a, int64_t c) { return l[a] > l[c]; });
      for (int64_t k = 0; k < std::min<int64_t>(2 * beams, idx.size()); ++k)
        cands.push_back({scores[b] + l[idx[k]], b, idx[k]});
    }
    std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.score > b.score; });
    std::vector<std::vector<int64_t>> new_seqs;
    std::vector<double> new_scores;
    std::vector<int64_t> parents, tokens;
    for (const Cand& c : cands) {
      if (static_cast<int64_t>(new_seqs.size()) == beams) break;
      std::vector<int64_t> seq = seqs[c.beam];
      seq.push_back(c.token);
      if (c.token == o.eos_token_id) {
        finished.push_back({normalized(c.score, seq.size()), seq});
        continue;
      }
      new_seqs.push_back(seq);
      new_scores.push_back(c.score);
      parents.push_back(c.beam);
      tokens.push_back(c.token);
    }
    if (new_seqs.empty()) break;
    while (static_cast<int64_t>(new_seqs.size()) < beams) {  // pad with dead beams
      new_seqs.push_back(new_seqs.back());
      new_scores.push_back(neg_inf);
      parents.push_back(parents.back());
      tokens.push_back(tokens.back());
    }
    seqs = new_seqs;
    scores = new_scores;
    if (!finished.empty()) {  // HF's heuristic: stop once the best finished beats every live beam
      double best_done = std::max_element(finished.begin(), finished.end())->first;
      double best_live = normalized(*std::max_element(scores.begin(), scores.end()), seqs[0].size());
      if (best_done >= best_live) break;
    }
    if (t + 1 == steps) break;
    s.reorder(from_vector<int64_t>(parents));
    logits = s.step(from_vector<int64_t>(tokens, {beams, 1}));
  }
  for (int64_t b = 0; b < beams; ++b)
    if (scores[b] != neg_inf) finished.push_back({normalized(scores[b], seqs[b].size()), seqs[b]});
  TS_CHECK(!finished.empty(), "generate: beam search produced no hypothesis");
  return std::max_element(finished.begin(), finished.end(),
                          [](const auto& a, const auto& b) { return a.first < b.first; })->second;
}

void reorder_cache(nn::KVCache& c, const Tensor& index) {
  if (c.k.defined()) {
    c.k = index_select(c.k, 0, index);
    c.v = index_select(c.v, 0, index);
  }
}

// Restores the training flag of a module when it goes out of scope.
struct EvalScope {
  nn::Module& m;
  bool was_training;
  explicit EvalScope(nn::Module& module) : m(module), was_training(module.is_training()) { m.eval(); }
  ~EvalScope() { m.train(was_training); }
};

}  // namespace

std::vector<int64_t> generate(DecoderModel& model, const std::vector<int64_t>& prompt,
                              const GenerationOptions& o) {
  const ModelConfig& c = model.config();
  check_options(o, c.vocab_size);
  TS_CHECK(!prompt.empty(), "generate: the prompt must hold at least one token");
  TS_CHECK(static_cast<int64_t>(prompt.size()) <= c.max_position,
           "generate: a prompt of {} tokens exceeds the model's context of {}", prompt.size(), c.max_position);
  NoGradGuard no_grad;
  EvalScope eval(model);
  const int64_t beams = o.num_beams;
  auto caches = model.new_cache();
  Stepper s;
  s.room = c.max_position - static_cast<int64_t>(prompt.size()) + 1;
  s.step = [&](const Tensor& tokens) {
    Tensor logits = model.forward(tokens, Tensor(), &caches);
    return squeeze(slice(logits, 1, logits.size(1) - 1, logits.size(1)), 1);
  };
  s.reorder = [&](const Tensor& index) {
    for (auto& cache : caches) reorder_cache(cache, index);
  };
  std::vector<int64_t> first;
  for (int64_t b = 0; b < beams; ++b) first.insert(first.end(), prompt.begin(), prompt.end());
  Tensor first_input = from_vector<int64_t>(first, {beams, static_cast<int64_t>(prompt.size())});
  if (beams == 1) return decode_single(s, prompt, first_input, o);
  return decode_beams(s, prompt, first_input, o);
}

std::vector<int64_t> generate(EncoderDecoderModel& model, const std::vector<int64_t>& source,
                              int64_t start_token_id, const GenerationOptions& o) {
  const ModelConfig& c = model.config();
  check_options(o, c.vocab_size);
  TS_CHECK(!source.empty(), "generate: the source must hold at least one token");
  TS_CHECK(start_token_id >= 0 && start_token_id < c.vocab_size,
           "generate: start_token_id {} outside the vocabulary of {}", start_token_id, c.vocab_size);
  NoGradGuard no_grad;
  EvalScope eval(model);
  const int64_t beams = o.num_beams;
  std::vector<int64_t> src;
  for (int64_t b = 0; b < beams; ++b) src.insert(src.end(), source.begin(), source.end());
  Tensor src_ids = from_vector<int64_t>(src, {beams, static_cast<int64_t>(source.size())});
  Tensor memory = model.encode(src_ids);
  auto caches = model.new_cache();
  Stepper s;
  s.room = c.max_position - 1;
  s.step = [&](const Tensor& tokens) {
    Tensor logits = model.decode(tokens, memory, Tensor(), Tensor(), &caches);
    return squeeze(slice(logits, 1, logits.size(1) - 1, logits.size(1)), 1);
  };
  s.reorder = [&](const Tensor& index) {
    for (auto& cache : caches) {
      reorder_cache(cache.self_attn, index);
      reorder_cache(cache.cross_attn, index);
    }
  };
  Tensor first_input = full({beams, 1}, static_cast<double>(start_token_id), kInt64);
  if (beams == 1) return decode_single(s, {start_token_id}, first_input, o);
  return decode_beams(s, {start_token_id}, first_input, o);
}

}  // namespace taesan::models
