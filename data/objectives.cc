// Masked-LM masking, causal-LM shift and T5 span corruption (see objectives.h).
#include "taesan/data/objectives.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "taesan/core/error.h"
#include "taesan/data/rng.h"

namespace taesan::data {

MlmOptions mlm_options(const BpeTokenizer& tokenizer, double probability,
                       const std::string& mask_token) {
  MlmOptions o;
  o.mask_id = tokenizer.token_to_id(mask_token);
  o.vocab_size = tokenizer.vocab_size();
  o.special_ids = tokenizer.special_ids();
  o.probability = probability;
  return o;
}

Example mask_tokens(const Example& example, const MlmOptions& options, uint64_t seed,
                    uint64_t stream) {
  TS_CHECK(options.mask_id >= 0 && options.mask_id < options.vocab_size,
           "mask_tokens: mask_id {} is outside the vocabulary [0, {})", options.mask_id,
           options.vocab_size);
  TS_CHECK(options.probability >= 0 && options.probability <= 1 && options.mask_fraction >= 0 &&
               options.random_fraction >= 0 &&
               options.mask_fraction + options.random_fraction <= 1 + 1e-12,
           "mask_tokens: probability {} / mask_fraction {} / random_fraction {} are not valid "
           "fractions (each in [0, 1], mask + random <= 1)",
           options.probability, options.mask_fraction, options.random_fraction);
  std::unordered_set<int64_t> special;
  for (int64_t id : options.special_ids) {
    TS_CHECK(id >= 0 && id < options.vocab_size,
             "mask_tokens: special id {} is outside the vocabulary of {}", id, options.vocab_size);
    special.insert(id);
  }
  // Random replacements are drawn from the regular ids: there must be one.
  TS_CHECK(static_cast<int64_t>(special.size()) < options.vocab_size,
           "mask_tokens: every id of the vocabulary ({}) is special", options.vocab_size);
  Example out;
  out.input_ids = example.input_ids;
  out.token_type_ids = example.token_type_ids;
  out.labels.assign(example.input_ids.size(), kIgnoreIndex);
  out.label_kind = LabelKind::kPerToken;
  DataRng rng(seed, stream);
  for (size_t i = 0; i < out.input_ids.size(); ++i) {
    const int64_t id = out.input_ids[i];
    TS_CHECK(id >= 0 && id < options.vocab_size,
             "mask_tokens: id {} at position {} is outside the vocabulary [0, {})", id, i,
             options.vocab_size);
    // Two draws per position, always, so a position's fate does not depend on the others.
    const double select = rng.uniform();
    const double action = rng.uniform();
    if (special.count(id) != 0 || select >= options.probability) continue;
    out.labels[i] = id;
    if (action < options.mask_fraction) {
      out.input_ids[i] = options.mask_id;
    } else if (action < options.mask_fraction + options.random_fraction) {
      int64_t r;
      do {
        r = static_cast<int64_t>(rng.below(static_cast<uint64_t>(options.vocab_size)));
      } while (special.count(r) != 0);
      out.input_ids[i] = r;
    }
  }
  return out;
}

Example mask_tokens(const std::vector<int64_t>& ids, const MlmOptions& options, uint64_t seed,
                    uint64_t stream) {
  Example e;
  e.input_ids = ids;
  return mask_tokens(e, options, seed, stream);
}

Example causal_lm_example(const std::vector<int64_t>& block) {
  TS_CHECK(block.size() >= 2, "causal_lm_example: a block of {} token(s) (expected at least 2)",
           block.size());
  Example e;
  e.input_ids.assign(block.begin(), block.end() - 1);
  e.labels.assign(block.begin() + 1, block.end());
  e.label_kind = LabelKind::kPerToken;
  return e;
}

std::vector<std::string> sentinel_tokens(int64_t n) {
  TS_CHECK(n >= 0, "sentinel_tokens: n = {} is negative", n);
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(fmt::format("<extra_id_{}>", i));
  return out;
}

SpanCorruptionOptions span_corruption_options(const BpeTokenizer& tokenizer, double noise_density,
                                              double mean_span_length) {
  SpanCorruptionOptions o;
  o.noise_density = noise_density;
  o.mean_span_length = mean_span_length;
  for (int64_t i = 0;; ++i) {
    auto id = tokenizer.find_token(fmt::format("<extra_id_{}>", i));
    if (!id || !tokenizer.is_special(*id)) break;
    o.sentinel_ids.push_back(*id);
  }
  if (auto eos = tokenizer.find_token("[EOS]")) o.eos_id = *eos;
  if (auto pad = tokenizer.find_token("[PAD]")) o.decoder_start_id = *pad;
  return o;
}

namespace {

// T5's _random_segmentation: `items` split into `segments` non-empty runs at random.
std::vector<int64_t> random_segmentation(int64_t items, int64_t segments, DataRng& rng) {
  // Choose segments - 1 distinct cut points among the items - 1 gaps (partial Fisher-Yates).
  std::vector<int64_t> gaps(static_cast<size_t>(items - 1));
  for (int64_t i = 0; i < items - 1; ++i) gaps[i] = i + 1;
  for (int64_t i = 0; i < segments - 1; ++i) {
    auto j = i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(items - 1 - i)));
    std::swap(gaps[i], gaps[j]);
  }
  std::vector<int64_t> cuts(gaps.begin(), gaps.begin() + (segments - 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<int64_t> lengths;
  int64_t prev = 0;
  for (int64_t c : cuts) {
    lengths.push_back(c - prev);
    prev = c;
  }
  lengths.push_back(items - prev);
  return lengths;
}

}  // namespace

Example span_corruption(const std::vector<int64_t>& ids, const SpanCorruptionOptions& options,
                        uint64_t seed, uint64_t stream) {
  const auto n = static_cast<int64_t>(ids.size());
  TS_CHECK(n >= 2, "span_corruption: {} token(s) (expected at least 2)", n);
  TS_CHECK(options.noise_density > 0 && options.noise_density < 1 && options.mean_span_length >= 1,
           "span_corruption: noise_density {} must be in (0, 1) and mean_span_length {} >= 1",
           options.noise_density, options.mean_span_length);
  int64_t noise = std::llround(static_cast<double>(n) * options.noise_density);
  noise = std::clamp<int64_t>(noise, 1, n - 1);
  int64_t spans = std::llround(static_cast<double>(noise) / options.mean_span_length);
  spans = std::clamp<int64_t>(spans, 1, std::min(noise, n - noise));
  TS_CHECK(static_cast<int64_t>(options.sentinel_ids.size()) >= spans,
           "span_corruption: {} spans for {} tokens need {} sentinel ids, got {} (add "
           "sentinel_tokens(n) as special tokens)",
           spans, n, spans, options.sentinel_ids.size());
  DataRng rng(seed, stream);
  std::vector<int64_t> noise_lengths = random_segmentation(noise, spans, rng);
  std::vector<int64_t> keep_lengths = random_segmentation(n - noise, spans, rng);
  Example e;
  e.label_kind = LabelKind::kTarget;
  int64_t pos = 0;
  for (int64_t s = 0; s < spans; ++s) {
    e.input_ids.insert(e.input_ids.end(), ids.begin() + pos, ids.begin() + pos + keep_lengths[s]);
    pos += keep_lengths[s];
    e.input_ids.push_back(options.sentinel_ids[s]);
    e.labels.push_back(options.sentinel_ids[s]);
    e.labels.insert(e.labels.end(), ids.begin() + pos, ids.begin() + pos + noise_lengths[s]);
    pos += noise_lengths[s];
  }
  if (options.eos_id >= 0) {
    e.input_ids.push_back(options.eos_id);
    e.labels.push_back(options.eos_id);
  }
  e.decoder_input_ids.push_back(options.decoder_start_id);
  e.decoder_input_ids.insert(e.decoder_input_ids.end(), e.labels.begin(), e.labels.end() - 1);
  return e;
}

}  // namespace taesan::data
