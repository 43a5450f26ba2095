// ts::checkpoint: gradients bit-identical to the same function run directly (an MLP block with
// dropout, a chain of blocks, inputs that need no gradient, autocast, nesting, ts::grad), its
// intermediates freed after the forward and recomputed once at backward, the RNG stream left as
// it would be without it, and clear errors for misuse.
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>

#include <taesan/taesan.h>

namespace ts = taesan;
using Catch::Matchers::Contains;

namespace {

/// Bitwise equality of two tensors (same shape and dtype, same bytes).
bool same_bits(const ts::Tensor& a, const ts::Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const ts::Tensor ac = a.contiguous(), bc = b.contiguous();
  return std::memcmp(ac.raw_data(), bc.raw_data(), a.numel() * a.element_size()) == 0;
}

/// linear -> gelu -> dropout -> linear, with a residual: a Transformer-like feed-forward block.
struct Block {
  std::shared_ptr<ts::nn::Linear> fc1, fc2;
  Block(int64_t d, int64_t hidden, ts::DType dtype) {
    fc1 = std::make_shared<ts::nn::Linear>(d, hidden);
    fc2 = std::make_shared<ts::nn::Linear>(hidden, d);
    fc1->to(dtype);
    fc2->to(dtype);
  }
  ts::Tensor operator()(const ts::Tensor& x) const {
    return x + fc2->forward(ts::dropout(ts::gelu(fc1->forward(x)), 0.3, true));
  }
  ts::TensorList parameters() const {
    ts::TensorList p = fc1->parameters();
    for (const ts::Tensor& t : fc2->parameters()) p.push_back(t);
    return p;
  }
  void zero_grad() const {
    fc1->zero_grad();
    fc2->zero_grad();
  }
};

/// Runs loss(x) = sum(blocks(x) * cot) forward and backward with or without checkpointing every
/// block, from the same seed; returns x's gradient, then every parameter's, then the loss, then
/// the RNG state after backward (as a tensor of two values).
ts::TensorList run_blocks(const std::vector<Block>& blocks, const ts::Tensor& x0,
                          const ts::Tensor& cot, bool use_checkpoint) {
  for (const Block& b : blocks) b.zero_grad();
  ts::Tensor x = x0.detach().clone().requires_grad_();
  ts::manual_seed(1234);
  ts::Tensor h = x;
  for (const Block& b : blocks)
    h = use_checkpoint ? ts::checkpoint([&b](const ts::TensorList& in) { return b(in[0]); }, {h})
                       : b(h);
  ts::Tensor loss = (h * cot).sum();
  loss.backward();
  ts::TensorList out{x.grad()};
  for (const Block& b : blocks)
    for (const ts::Tensor& p : b.parameters()) out.push_back(p.grad());
  out.push_back(loss.detach());
  const ts::RngState s = ts::get_rng_state();
  out.push_back(
      ts::from_vector<int64_t>({static_cast<int64_t>(s.seed), static_cast<int64_t>(s.offset)}));
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("checkpoint: an MLP block with dropout gives bit-identical gradients",
                   "[autograd][checkpoint]", float, double) {
  const ts::DType dtype = std::is_same_v<TestType, float> ? ts::kFloat32 : ts::kFloat64;
  ts::manual_seed(5);
  const std::vector<Block> blocks = {Block(8, 32, dtype), Block(8, 32, dtype), Block(8, 32, dtype)};
  const ts::Tensor x = ts::randn({4, 5, 8}, dtype);
  const ts::Tensor cot = ts::randn({4, 5, 8}, dtype);
  const ts::TensorList plain = run_blocks(blocks, x, cot, false);
  const ts::TensorList ckpt = run_blocks(blocks, x, cot, true);
  REQUIRE(plain.size() == ckpt.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    INFO("result " << i << " of " << plain.size() << " (x.grad, parameter grads, loss, RNG)");
    REQUIRE(plain[i].defined());
    CHECK(same_bits(plain[i], ckpt[i]));
  }
}

TEST_CASE("checkpoint: a tensor read by every block, twice each, gets the same gradient bits",
          "[autograd][checkpoint]") {
  // As an encoder output read by the keys and values of every decoder layer: its gradient is a
  // sum of 2 x layers terms, which must be added in the same order as without checkpointing.
  ts::manual_seed(6);
  const int64_t d = 16;
  std::vector<std::shared_ptr<ts::nn::Linear>> k, v, q;
  for (int i = 0; i < 4; ++i) {
    k.push_back(std::make_shared<ts::nn::Linear>(d, d));
    v.push_back(std::make_shared<ts::nn::Linear>(d, d));
    q.push_back(std::make_shared<ts::nn::Linear>(d, d));
  }
  const ts::Tensor src0 = ts::randn({3, 5, d}), tgt0 = ts::randn({3, 4, d});
  auto run = [&](bool ckpt) {
    ts::Tensor src = src0.clone().requires_grad_(), tgt = tgt0.clone().requires_grad_();
    ts::Tensor memory = ts::tanh(src * 1.5);  // a non-leaf read by every layer
    ts::Tensor h = tgt;
    for (int i = 0; i < 4; ++i) {
      auto layer = [&, i](const ts::TensorList& in) {
        ts::Tensor s = ts::matmul(q[i]->forward(in[0]), k[i]->forward(in[1]).transpose(1, 2));
        return in[0] + ts::matmul(ts::softmax(s, -1), v[i]->forward(in[1]));
      };
      h = ckpt ? ts::checkpoint(layer, {h, memory}) : layer({h, memory});
    }
    ts::square(h).sum().backward();
    return ts::TensorList{src.grad(), tgt.grad(), k[0]->weight.grad()};
  };
  const ts::TensorList a = run(false);
  for (auto& m : {k, v, q})
    for (auto& l : m) l->zero_grad();
  const ts::TensorList b = run(true);
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("gradient " << i);
    CHECK(same_bits(a[i], b[i]));
  }
}

TEST_CASE("checkpoint: intermediates are freed after the forward and recomputed once",
          "[autograd][checkpoint]") {
  ts::Tensor w = ts::randn({6, 6}, ts::kFloat64).requires_grad_();
  ts::Tensor x = ts::randn({3, 6}, ts::kFloat64).requires_grad_();
  std::weak_ptr<ts::TensorImpl> hidden;
  int calls = 0;
  auto fn = [&](const ts::TensorList& in) {
    ++calls;
    ts::Tensor h = ts::tanh(ts::matmul(in[0], w));  // tanh saves h for its backward
    hidden = h.impl();
    return ts::tanh(ts::matmul(h, w)).sum(1);
  };
  ts::Tensor direct = fn({x});
  CHECK_FALSE(hidden.expired());  // kept by the graph until backward
  direct = ts::Tensor();
  calls = 0;
  ts::Tensor y = ts::checkpoint(fn, {x});
  CHECK(calls == 1);
  CHECK(hidden.expired());  // nothing holds it: the graph of fn was dropped
  CHECK(y.requires_grad());
  y.sum().backward();
  CHECK(calls == 2);  // recomputed once, at backward
  CHECK(w.grad().defined());
  CHECK(x.grad().defined());
}

TEST_CASE("checkpoint: parameters get gradients when no input requires grad",
          "[autograd][checkpoint]") {
  // Token ids (int64) in, embedding + linear inside: the parameters are found through fn's graph.
  ts::manual_seed(2);
  ts::nn::Embedding emb(10, 4);
  ts::nn::Linear fc(4, 3);
  const ts::Tensor ids = ts::from_vector<int64_t>({1, 5, 9, 5, 0, 2}, {2, 3});
  auto fn = [&](const ts::TensorList& in) { return fc.forward(emb.forward(in[0])); };
  ts::square(fn({ids})).sum().backward();
  const ts::Tensor ge = emb.weight.grad().clone(), gw = fc.weight.grad().clone();
  emb.zero_grad();
  fc.zero_grad();
  ts::square(ts::checkpoint(fn, {ids})).sum().backward();
  CHECK(same_bits(emb.weight.grad(), ge));
  CHECK(same_bits(fc.weight.grad(), gw));
  // ts::grad through a checkpoint returns the gradients and leaves .grad() alone.
  fc.zero_grad();
  ts::TensorList g =
      ts::grad({ts::square(ts::checkpoint(fn, {ids})).sum()}, {fc.weight, emb.weight});
  CHECK(same_bits(g[0], gw));
  CHECK(same_bits(g[1], ge));
  CHECK_FALSE(fc.weight.grad().defined());
}

TEST_CASE("checkpoint: gradcheck, several inputs, undefined inputs, retain_graph",
          "[autograd][checkpoint]") {
  ts::manual_seed(3);
  ts::Tensor w = ts::randn({4, 4}, ts::kFloat64).requires_grad_();
  auto fn = [&](const ts::TensorList& in) {
    ts::Tensor h = ts::matmul(in[0], w) * in[1];
    if (in[2].defined()) h = h + in[2];
    return ts::gelu(h).sum(-1);
  };
  ts::Tensor a = ts::randn({3, 4}, ts::kFloat64).requires_grad_();
  ts::Tensor b = ts::randn({4}, ts::kFloat64).requires_grad_();
  const ts::GradcheckResult r = ts::gradcheck(
      [&](const ts::TensorList& in) {
        return ts::checkpoint(fn, {in[0], in[1], ts::Tensor()});
      },
      {a, b, w});
  INFO(r.report);
  CHECK(r.ok);
  // retain_graph: a second backward recomputes again and accumulates the same gradient.
  ts::Tensor y = ts::checkpoint(fn, {a, b, ts::Tensor()}).sum();
  y.backward(ts::Tensor(), /*retain_graph=*/true);
  const std::vector<double> once = a.grad().to_vector<double>();
  y.backward();
  const std::vector<double> twice = a.grad().to_vector<double>();
  for (size_t i = 0; i < once.size(); ++i) CHECK(twice[i] == Approx(2 * once[i]));
}

TEST_CASE("checkpoint: autocast and nesting give the gradients of the direct call",
          "[autograd][checkpoint]") {
  ts::manual_seed(4);
  const Block inner(8, 16, ts::kFloat32);
  ts::Tensor x0 = ts::randn({3, 8});
  auto outer = [&](const ts::TensorList& in) {
    ts::Tensor h = ts::checkpoint([&](const ts::TensorList& i2) { return inner(i2[0]); }, in);
    return inner(h);
  };
  auto grads = [&](bool ckpt, bool amp) {
    inner.zero_grad();
    ts::Tensor x = x0.clone().requires_grad_();
    ts::manual_seed(9);
    ts::Tensor y;
    {
      ts::AutocastGuard region(amp);
      y = ckpt ? ts::checkpoint(outer, {x}) : outer({x});
    }
    y.sum().backward();  // outside the region: the recomputation must re-enter it
    ts::TensorList out{x.grad()};
    for (const ts::Tensor& p : inner.parameters()) out.push_back(p.grad());
    return out;
  };
  for (bool amp : {false, true}) {
    INFO("autocast " << amp);
    const ts::TensorList a = grads(false, amp), b = grads(true, amp);
    for (size_t i = 0; i < a.size(); ++i) CHECK(same_bits(a[i], b[i]));
  }
  // bf16 rounding changes the gradients: the test above would see a recomputation without it.
  CHECK_FALSE(same_bits(grads(false, true)[1], grads(false, false)[1]));
}

TEST_CASE("checkpoint: trivial uses", "[autograd][checkpoint]") {
  ts::Tensor x = ts::randn({2, 3}, ts::kFloat64).requires_grad_();
  // The identity returns the input itself.
  ts::Tensor same = ts::checkpoint([](const ts::TensorList& in) { return in[0]; }, {x});
  CHECK(same.impl() == x.impl());
  // Without grad mode, it is the function.
  {
    ts::NoGradGuard no_grad;
    ts::Tensor y = ts::checkpoint([](const ts::TensorList& in) { return in[0] * 2.0; }, {x});
    CHECK_FALSE(y.requires_grad());
  }
  // Nothing requires grad: no graph.
  ts::Tensor c = ts::randn({2});
  CHECK_FALSE(
      ts::checkpoint([](const ts::TensorList& in) { return in[0].exp(); }, {c}).requires_grad());
}

TEST_CASE("checkpoint: misuse is a clear ts::Error", "[autograd][checkpoint]") {
  ts::Tensor x = ts::randn({2, 3}, ts::kFloat64).requires_grad_();
  CHECK_THROWS_WITH(ts::checkpoint(ts::CheckpointFunction(), {x}),
                    Contains("checkpoint") && Contains("empty"));
  CHECK_THROWS_WITH(ts::checkpoint([](const ts::TensorList&) { return ts::Tensor(); }, {x}),
                    Contains("checkpoint") && Contains("undefined"));
  // A non-leaf tensor that requires grad, captured instead of passed in inputs.
  ts::Tensor outside = x * 3.0;
  CHECK_THROWS_WITH(ts::checkpoint([&](const ts::TensorList& in) { return in[0] + outside; }, {x}),
                    Contains("checkpoint") && Contains("inputs") && Contains("mul"));
  // ... which works when passed in.
  ts::checkpoint([](const ts::TensorList& in) { return in[0] + in[1]; }, {x, outside})
      .sum()
      .backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>(6, 4.0));
  // An input changed in place between forward and backward.
  ts::Tensor a = ts::randn({3}, ts::kFloat64);
  ts::Tensor w = ts::randn({3}, ts::kFloat64).requires_grad_();
  ts::Tensor y = ts::checkpoint([&](const ts::TensorList& in) { return in[0] * w; }, {a});
  a.add_(ts::ones({3}, ts::kFloat64));
  CHECK_THROWS_WITH(y.sum().backward(), Contains("checkpoint") && Contains("in place"));
  // A function that computes something else the second time.
  int calls = 0;
  ts::Tensor z = ts::checkpoint(
      [&](const ts::TensorList& in) { return ++calls == 1 ? in[0] * 2.0 : in[0].sum(); }, {x});
  CHECK_THROWS_WITH(z.sum().backward(), Contains("checkpoint") && Contains("same thing"));
  // Double backward.
  ts::Tensor v = ts::checkpoint([](const ts::TensorList& in) { return in[0].pow(3.0); }, {x});
  CHECK_THROWS_WITH(ts::grad({v.sum()}, {x}, {}, {.create_graph = true}),
                    Contains("checkpoint") && Contains("create_graph"));
}
