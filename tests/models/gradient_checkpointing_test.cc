// ModelConfig::gradient_checkpointing: each model family (encoder, decoder-only, encoder-decoder)
// trained with dropout gives the same loss and bit-identical gradients with and without it, with
// one checkpoint node per layer in its graph; in eval mode, without grad and with a KV cache the
// layers run as usual.
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "taesan/autograd/node.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
using ts::Tensor;
using ts::TensorList;

namespace {

models::ModelConfig config(bool checkpointing) {
  models::ModelConfig c;
  c.vocab_size = 23;
  c.max_position = 16;
  c.d_model = 16;
  c.num_heads = 4;
  c.num_layers = 3;
  c.num_decoder_layers = 2;
  c.d_ff = 32;
  c.dropout = 0.2;  // dropout in every layer: the recomputation must draw the same masks
  c.gradient_checkpointing = checkpointing;
  return c;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  return std::memcmp(ac.raw_data(), bc.raw_data(), a.numel() * a.element_size()) == 0;
}

/// Nodes named `name` in the graph below t.
int count_nodes(const Tensor& t, const std::string& name) {
  int count = 0;
  std::vector<ts::autograd::Node*> stack{t.grad_fn().get()};
  std::set<ts::autograd::Node*> seen{stack[0]};
  while (!stack.empty()) {
    ts::autograd::Node* n = stack.back();
    stack.pop_back();
    count += name == n->name();
    for (const auto& next : n->next)
      if (next && seen.insert(next.get()).second) stack.push_back(next.get());
  }
  return count;
}

Tensor ids(std::vector<int64_t> v, int64_t b) {
  return ts::from_vector<int64_t>(v, {b, static_cast<int64_t>(v.size()) / b});
}

/// Builds the model twice from one seed (with and without checkpointing), runs `loss` on each from
/// one seed, and compares the losses and every parameter's gradient bit for bit.
template <typename M>
void check_family(int checkpoints, const std::function<Tensor(const M&)>& loss) {
  std::vector<std::shared_ptr<M>> ms;
  for (bool ckpt : {false, true}) {
    ts::manual_seed(42);
    ms.push_back(std::make_shared<M>(config(ckpt)));
  }
  TensorList losses;
  for (const auto& m : ms) {
    m->train();
    ts::manual_seed(7);
    Tensor l = loss(*m);
    CHECK(count_nodes(l, "checkpoint") == (m == ms[1] ? checkpoints : 0));
    l.backward();
    losses.push_back(l.detach());
  }
  CHECK(same_bits(losses[0], losses[1]));
  const auto p0 = ms[0]->named_parameters(), p1 = ms[1]->named_parameters();
  REQUIRE(p0.size() == p1.size());
  for (size_t i = 0; i < p0.size(); ++i) {
    INFO("gradient of " << p0[i].first);
    REQUIRE(p0[i].second.grad().defined());
    CHECK(same_bits(p0[i].second.grad(), p1[i].second.grad()));
  }
  // Not in training, or without grad: no checkpoint.
  ms[1]->eval();
  CHECK(count_nodes(loss(*ms[1]), "checkpoint") == 0);
  ms[1]->train();
  ts::NoGradGuard no_grad;
  CHECK_FALSE(loss(*ms[1]).requires_grad());
}

}  // namespace

TEST_CASE("gradient checkpointing: encoder model, same gradients bit for bit",
          "[models][checkpoint]") {
  const Tensor x = ids({1, 5, 7, 9, 3, 0, 2, 2, 8, 4, 6, 0}, 2);
  const Tensor mask = ids({1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0}, 2);
  check_family<models::EncoderModel>(3, [&](const models::EncoderModel& m) {
    models::EncoderOutput out = m.forward(x, mask);
    return ts::square(out.hidden).mean() + out.pooled.sum();
  });
}

TEST_CASE("gradient checkpointing: decoder model, same gradients bit for bit",
          "[models][checkpoint]") {
  const Tensor x = ids({1, 5, 7, 9, 3, 11, 2, 2, 8, 4, 6, 13}, 2);
  const Tensor targets = ids({5, 7, 9, 3, 11, 0, 2, 8, 4, 6, 13, 0}, 2);
  check_family<models::DecoderModel>(3, [&](const models::DecoderModel& m) {
    return ts::cross_entropy(m.forward(x).reshape({-1, 23}), targets.reshape({-1}));
  });
  // Generation with a KV cache runs the layers directly (the cache is filled as it goes).
  ts::manual_seed(42);
  models::DecoderModel m(config(true));
  m.train();
  std::vector<ts::nn::KVCache> cache = m.new_cache();
  CHECK(count_nodes(m.forward(x, Tensor(), &cache), "checkpoint") == 0);
  CHECK(cache[0].length() == 6);
}

TEST_CASE("gradient checkpointing: encoder-decoder model, same gradients bit for bit",
          "[models][checkpoint]") {
  const Tensor src = ids({1, 5, 7, 9, 3, 0, 2, 2, 8, 4, 6, 0}, 2);
  const Tensor src_mask = ids({1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0}, 2);
  const Tensor tgt = ids({1, 5, 7, 9, 2, 8, 4, 6}, 2);
  const Tensor targets = ids({5, 7, 9, 0, 8, 4, 6, 0}, 2);
  // 3 encoder layers + 2 decoder layers, each decoder layer reading the encoder output twice.
  check_family<models::EncoderDecoderModel>(5, [&](const models::EncoderDecoderModel& m) {
    return ts::cross_entropy(m.forward(src, src_mask, tgt).reshape({-1, 23}),
                             targets.reshape({-1}));
  });
}
