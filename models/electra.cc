// Replaced-token detection (see electra.h).
#include "taesan/models/electra.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "taesan/autograd/factory.h"
#include "taesan/data/rng.h"
#include "taesan/nn/init.h"
#include "taesan/ops/ops.h"

namespace taesan::models {
namespace {

/// One token drawn from softmax(logits[0..V)) by inverting its CDF at u in [0, 1).
int64_t sample_row(const float* logits, int64_t V, double u, std::vector<double>& p) {
  const float top = *std::max_element(logits, logits + V);
  double total = 0;
  for (int64_t v = 0; v < V; ++v)
    total += p[static_cast<size_t>(v)] = std::exp(double(logits[v]) - top);
  double target = u * total, run = 0;
  for (int64_t v = 0; v < V; ++v) {
    run += p[static_cast<size_t>(v)];
    if (target < run) return v;
  }
  return V - 1;  // u * total rounded up to the total
}

}  // namespace

ModelConfig ReplacedTokenDetection::generator_config(const ModelConfig& c) {
  ModelConfig g = c;
  g.d_model = std::max<int64_t>(64, c.d_model / 2);
  g.num_heads = std::max<int64_t>(1, g.d_model / 64);
  g.num_layers = std::max<int64_t>(1, c.num_layers / 2);
  g.num_decoder_layers = 0;
  g.d_ff = 4 * g.d_model;
  return g;
}

ReplacedTokenDetection::ReplacedTokenDetection(const ModelConfig& c, double weight)
    : discriminator_weight(weight) {
  TS_CHECK(weight > 0 && std::isfinite(weight),
           "ReplacedTokenDetection: discriminator_weight must be a positive number, got {}",
           weight);
  body = register_module("body", std::make_shared<EncoderModel>(c));
  dense = register_module("dense", std::make_shared<nn::Linear>(c.d_model, c.d_model));
  head = register_module("head", std::make_shared<nn::Linear>(c.d_model, 1));
  generator =
      register_module("generator", std::make_shared<MaskedLanguageModel>(generator_config(c)));
  for (nn::Linear* l : {dense.get(), head.get()}) {
    nn::init::normal_(l->weight, 0.0, 0.02);
    nn::init::zeros_(l->bias);
  }
}

ReplacedTokenDetection::Losses ReplacedTokenDetection::loss(const Tensor& masked_ids,
                                                            const Tensor& labels,
                                                            const Tensor& mask, uint64_t seed,
                                                            uint64_t stream) const {
  TS_CHECK(masked_ids.dim() == 2 && masked_ids.dtype() == kInt64,
           "ReplacedTokenDetection::loss: masked_ids {} must be (B, T) int64",
           masked_ids.describe());
  TS_CHECK(!mask.defined() || mask.shape() == masked_ids.shape(),
           "ReplacedTokenDetection::loss: attention_mask {} must have the shape of masked_ids {}",
           mask.describe(), masked_ids.describe());
  Losses out;
  // 1. The generator's masked LM: logits (n, V) at the n masked positions.
  const MaskedLanguageModel::MaskedLogits g = generator->masked_logits(masked_ids, labels, mask);
  out.generator = cross_entropy(g.logits, g.targets);

  // 2. Replace each masked position by a sample of the generator's prediction (no gradient
  //    flows through sampling), and label every position: 1 = replaced, 0 = original.
  std::vector<int64_t> ids = masked_ids.contiguous().to_vector<int64_t>();
  const std::vector<int64_t> originals = g.targets.to_vector<int64_t>();
  const Tensor logits = g.logits.detach().contiguous();
  const int64_t n = logits.size(0), V = logits.size(1);
  const std::vector<float> lv = logits.to_vector<float>();
  std::vector<float> replaced(ids.size(), 0.0f);
  std::vector<double> scratch(static_cast<size_t>(V));
  data::DataRng rng(seed, stream);
  for (int64_t r = 0; r < n; ++r) {
    const auto at = static_cast<size_t>(g.rows[static_cast<size_t>(r)]);
    ids[at] = sample_row(&lv[static_cast<size_t>(r * V)], V, rng.uniform(), scratch);
    replaced[at] = ids[at] != originals[static_cast<size_t>(r)] ? 1.0f : 0.0f;
    out.replaced += ids[at] != originals[static_cast<size_t>(r)];
  }
  out.masked = n;

  // 3. The discriminator: one logit per position, binary cross entropy over the real tokens:
  //    sum_t m_t bce(x_t, y_t) / sum_t m_t.
  const Tensor disc_ids = from_vector(ids, masked_ids.shape());
  const Tensor h = body->forward(disc_ids, mask).hidden;                // (B, T, D)
  const Tensor x = squeeze(head->forward(gelu(dense->forward(h))), 2);  // (B, T)
  const Tensor y = from_vector(replaced, masked_ids.shape()).to(x.dtype());
  const Tensor per = binary_cross_entropy_with_logits(x, y, Reduction::None);
  if (mask.defined()) {
    const Tensor m = mask.to(x.dtype());
    out.discriminator = div(sum(mul(per, m)), sum(m));
  } else {
    out.discriminator = mean(per);
  }
  out.total = add(out.generator, mul(out.discriminator, discriminator_weight));
  return out;
}

}  // namespace taesan::models
