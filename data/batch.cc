// Collation into padded tensors and the per-epoch batch plan (shuffle, optional length buckets).
#include "taesan/data/batch.h"

#include <algorithm>

#include "taesan/autograd/factory.h"
#include "taesan/core/error.h"
#include "taesan/data/rng.h"

namespace taesan::data {
namespace {

const char* kind_name(LabelKind k) {
  switch (k) {
    case LabelKind::kNone:
      return "none";
    case LabelKind::kPerToken:
      return "per-token";
    case LabelKind::kPerSequence:
      return "per-sequence";
    case LabelKind::kTarget:
      return "target";
  }
  return "?";
}

// Rows of `rows` padded with `pad` to the longest (and to at least `min_length`): (B, T) values,
// and the 0/1 mask.
void pad_rows(const std::vector<const std::vector<int64_t>*>& rows, int64_t pad, Tensor* values,
              Tensor* mask, int64_t min_length = 0) {
  const auto b = static_cast<int64_t>(rows.size());
  int64_t t = min_length;
  for (const auto* r : rows) t = std::max(t, static_cast<int64_t>(r->size()));
  std::vector<int64_t> v(static_cast<size_t>(b * t), pad);
  std::vector<int64_t> m(static_cast<size_t>(b * t), 0);
  for (int64_t i = 0; i < b; ++i) {
    std::copy(rows[i]->begin(), rows[i]->end(), v.begin() + i * t);
    std::fill_n(m.begin() + i * t, rows[i]->size(), 1);
  }
  *values = from_vector(v, {b, t});
  if (mask != nullptr) *mask = from_vector(m, {b, t});
}

}  // namespace

Batch collate(const std::vector<const Example*>& examples, const CollateOptions& options) {
  TS_CHECK(!examples.empty(), "collate: got no examples (expected at least one)");
  const Example& first = *examples[0];
  const LabelKind kind = first.label_kind;
  const bool has_decoder = !first.decoder_input_ids.empty();
  std::vector<const std::vector<int64_t>*> inputs, types, labels, decoder;
  std::vector<int64_t> zeros;
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& e = *examples[i];
    TS_CHECK(!e.input_ids.empty(), "collate: example {} has no input_ids", i);
    TS_CHECK(e.label_kind == kind,
             "collate: example {} has {} labels but example 0 has {} labels (a batch needs one "
             "kind)",
             i, kind_name(e.label_kind), kind_name(kind));
    TS_CHECK(e.token_type_ids.empty() || e.token_type_ids.size() == e.input_ids.size(),
             "collate: example {} has {} token_type_ids for {} input_ids", i,
             e.token_type_ids.size(), e.input_ids.size());
    TS_CHECK(e.decoder_input_ids.empty() != has_decoder,
             "collate: example {} {} decoder_input_ids but example 0 {}", i,
             has_decoder ? "lacks" : "has", has_decoder ? "has them" : "does not");
    switch (kind) {
      case LabelKind::kNone:
        break;
      case LabelKind::kPerToken:
        TS_CHECK(e.labels.size() == e.input_ids.size(),
                 "collate: example {} has {} per-token labels for {} input_ids", i, e.labels.size(),
                 e.input_ids.size());
        break;
      case LabelKind::kPerSequence:
        TS_CHECK(!e.labels.empty() && e.labels.size() == first.labels.size(),
                 "collate: example {} has {} per-sequence labels, example 0 has {}", i,
                 e.labels.size(), first.labels.size());
        break;
      case LabelKind::kTarget:
        TS_CHECK(has_decoder && e.labels.size() == e.decoder_input_ids.size(),
                 "collate: example {} has {} target labels for {} decoder_input_ids", i,
                 e.labels.size(), e.decoder_input_ids.size());
        break;
    }
    inputs.push_back(&e.input_ids);
    types.push_back(&e.token_type_ids);
    labels.push_back(&e.labels);
    decoder.push_back(&e.decoder_input_ids);
  }
  Batch batch;
  pad_rows(inputs, options.pad_id, &batch.input_ids, &batch.attention_mask);
  // Empty token types mean zeros: padding them with 0 to the input length gives just that.
  pad_rows(types, 0, &batch.token_type_ids, nullptr, batch.input_ids.size(1));
  const auto b = static_cast<int64_t>(examples.size());
  switch (kind) {
    case LabelKind::kNone:
      break;
    case LabelKind::kPerToken:
    case LabelKind::kTarget:
      pad_rows(labels, options.label_pad_id, &batch.labels, nullptr);
      break;
    case LabelKind::kPerSequence: {
      const auto k = static_cast<int64_t>(first.labels.size());
      std::vector<int64_t> flat;
      flat.reserve(static_cast<size_t>(b * k));
      for (const auto* l : labels) flat.insert(flat.end(), l->begin(), l->end());
      batch.labels = k == 1 ? from_vector(flat, {b}) : from_vector(flat, {b, k});
      break;
    }
  }
  if (has_decoder) {
    pad_rows(decoder, options.pad_id, &batch.decoder_input_ids, &batch.decoder_attention_mask);
  }
  return batch;
}

Batch collate(const std::vector<Example>& examples, const CollateOptions& options) {
  std::vector<const Example*> ptrs;
  ptrs.reserve(examples.size());
  for (const Example& e : examples) ptrs.push_back(&e);
  return collate(ptrs, options);
}

Batcher::Batcher(std::vector<Example> examples, const BatcherOptions& options)
    : examples_(std::move(examples)), options_(options) {
  TS_CHECK(!examples_.empty(), "Batcher: got no examples");
  TS_CHECK(options_.batch_size > 0, "Batcher: batch_size {} must be positive", options_.batch_size);
  TS_CHECK(options_.bucket_pool_batches > 0, "Batcher: bucket_pool_batches {} must be positive",
           options_.bucket_pool_batches);
  set_epoch(0);
}

void Batcher::set_epoch(int64_t epoch) {
  TS_CHECK(epoch >= 0, "Batcher::set_epoch: epoch {} is negative", epoch);
  epoch_ = epoch;
  const int64_t n = size();
  const int64_t bs = options_.batch_size;
  std::vector<int64_t> order;
  if (options_.shuffle) {
    order = random_permutation(n, options_.seed, static_cast<uint64_t>(epoch) * 2);
  } else {
    order.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[i] = i;
  }
  plan_.clear();
  auto cut = [&](std::vector<int64_t>::const_iterator begin,
                 std::vector<int64_t>::const_iterator end) {
    for (auto it = begin; it < end; it += std::min<int64_t>(bs, end - it)) {
      plan_.emplace_back(it, it + std::min<int64_t>(bs, end - it));
    }
  };
  if (!options_.bucket_by_length) {
    cut(order.begin(), order.end());
  } else {
    // bs * bucket_pool_batches examples per pool, at most all of them (the product may not fit).
    const int64_t pool =
        bs > n / options_.bucket_pool_batches ? n : bs * options_.bucket_pool_batches;
    for (int64_t start = 0; start < n; start += pool) {
      auto begin = order.begin() + start;
      auto end = order.begin() + std::min(n, start + pool);
      std::stable_sort(begin, end, [&](int64_t a, int64_t b) {
        return examples_[a].input_ids.size() < examples_[b].input_ids.size();
      });
      cut(begin, end);
    }
  }
  if (options_.drop_last) {
    std::erase_if(
        plan_, [&](const std::vector<int64_t>& b) { return static_cast<int64_t>(b.size()) < bs; });
  }
  if (options_.bucket_by_length && options_.shuffle) {
    std::vector<int64_t> perm = random_permutation(
        static_cast<int64_t>(plan_.size()), options_.seed, static_cast<uint64_t>(epoch) * 2 + 1);
    std::vector<std::vector<int64_t>> shuffled;
    shuffled.reserve(plan_.size());
    for (int64_t p : perm) shuffled.push_back(std::move(plan_[p]));
    plan_ = std::move(shuffled);
  }
  TS_CHECK(!plan_.empty(), "Batcher::set_epoch: no batch ({} examples, batch_size {}, drop_last)",
           n, bs);
}

const std::vector<int64_t>& Batcher::batch_indices(int64_t i) const {
  TS_CHECK(i >= 0 && i < num_batches(), "Batcher::batch: index {} is outside [0, {})", i,
           num_batches());
  return plan_[i];
}

Batch Batcher::batch(int64_t i) const {
  const std::vector<int64_t>& indices = batch_indices(i);
  std::vector<Example> transformed;
  std::vector<const Example*> ptrs;
  if (transform_) {
    transformed.reserve(indices.size());
    for (int64_t idx : indices) transformed.push_back(transform_(examples_[idx], idx, epoch_));
    for (const Example& e : transformed) ptrs.push_back(&e);
  } else {
    for (int64_t idx : indices) ptrs.push_back(&examples_[idx]);
  }
  Batch batch = collate(ptrs, {.pad_id = options_.pad_id});
  batch.indices = indices;
  return batch;
}

}  // namespace taesan::data
