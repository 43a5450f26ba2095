// The OpInfo table (gradcheck_table.h) walked in float64: every op of ops/op_list.h is gradchecked
// and gradgradchecked on plain, broadcast and non-contiguous inputs (transposed, sliced with a
// step between sentinels, expanded with stride 0), its output compared with the same op on
// contiguous copies; the coverage test keeps that claim true as ops and cases are added.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "gradcheck_table.h"
#include "taesan/ops/op_list.h"
#include <taesan/taesan.h>

namespace ts = taesan;
using ts::Tensor;
using ts::TensorList;
using ts::test::in_layout;
using ts::test::Layout;
using ts::test::layout_name;
using ts::test::LayoutCase;
using ts::test::op_cases;
using ts::test::OpCase;

namespace {

// Ops that cannot take an input in some layout, and why. Every other op must have a case in
// every layout. Empty: each op has at least one case that takes each layout.
const std::map<std::string, std::map<Layout, std::string>> kLayoutExemptions = {};

// Ops whose gradient is not itself differentiable, and why. Every other op must have a case that
// runs gradgradcheck. Empty: every op is twice differentiable.
const std::map<std::string, std::string> kNoGradgradOps = {};

// Ops that broadcast their inputs against each other: each needs a case marked broadcast.
const std::set<std::string> kBroadcastingOps = {
    "add",   "sub",         "mul",    "div",    "maximum",  "minimum",
    "where", "masked_fill", "expand", "matmul", "mse_loss", "scaled_dot_product_attention"};

// True when some input has fewer dims than another tensor of the case, or a size-1 dim where
// another has more (aligned from the right): the shapes a broadcast case must have.
bool shapes_broadcast(const TensorList& inputs, const Tensor& out) {
  TensorList all = inputs;
  all.push_back(out);
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    for (const Tensor& u : all) {
      if (!u.defined()) continue;
      if (t.dim() < u.dim()) return true;
      for (int64_t i = 1; i <= t.dim() && i <= u.dim(); ++i)
        if (t.size(-i) == 1 && u.size(-i) > 1) return true;
    }
  }
  return false;
}

// gradcheck (or gradgradcheck) of every case that takes `layout`; the first-order pass also
// compares the op's output with the op on contiguous copies of the same values. Returns how
// many cases ran.
int check_layout(Layout layout, bool second_order) {
  ts::manual_seed(second_order ? 4321 : 1234);
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (second_order && !c.no_gradgrad.empty()) continue;
    std::optional<LayoutCase> lc = in_layout(c, layout);
    if (!lc) continue;
    INFO(c.op << " / " << c.variant << " / " << layout_name(layout) << " inputs");
    try {
      if (!second_order) {
        Tensor y, ref;
        {
          ts::NoGradGuard no_grad;
          TensorList ins = lc->op_inputs(lc->inputs), copies;
          for (const Tensor& t : ins) copies.push_back(t.defined() ? t.detach().clone() : t);
          y = c.fn(ins);
          ref = c.fn(copies);
        }
        INFO("output " << y.describe() << " against " << ref.describe());
        CHECK(ts::test::max_rel_diff(y, ref) <= 1e-12);
      }
      ts::GradcheckResult r = second_order ? ts::gradgradcheck(lc->fn, lc->inputs, c.options)
                                           : ts::gradcheck(lc->fn, lc->inputs, c.options);
      INFO(r.report);
      CHECK(r.ok);
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << e.what());
    }
    ++checked;
  }
  return checked;
}

}  // namespace

static_assert(ts::ops::kNumOps == 64,
              "an op was added to ops/op_list.h: add its cases to tests/ops/gradcheck_table.cc");

TEST_CASE("the OpInfo table covers every op in every layout, broadcast and twice", "[gradcheck]") {
  ts::manual_seed(99);
  std::map<std::string, std::set<Layout>> layouts;
  std::set<std::string> ops, gradgrad, broadcast;
  for (const OpCase& c : op_cases()) {
    INFO(c.op << " / " << c.variant);
    ops.insert(c.op);
    for (const auto& [layout, why] : c.skip) CHECK_FALSE(why.empty());
    for (Layout layout : ts::test::kLayouts)
      if (in_layout(c, layout)) layouts[c.op].insert(layout);
    if (c.no_gradgrad.empty()) gradgrad.insert(c.op);
    if (c.broadcast) {
      TensorList in = c.make_inputs();
      Tensor out;
      {
        ts::NoGradGuard no_grad;
        out = c.fn(in);
      }
      CHECK(shapes_broadcast(in, out));  // marked broadcast, shapes that do
      broadcast.insert(c.op);
    }
  }
  for (const char* name : ts::ops::kOpNames) {
    INFO(name);
    CHECK(ops.count(name) == 1);
    auto exempt = kLayoutExemptions.find(name);
    for (Layout layout : ts::test::kLayouts) {
      INFO(layout_name(layout) << " inputs");
      const bool exempted = exempt != kLayoutExemptions.end() && exempt->second.count(layout);
      CHECK(layouts[name].count(layout) == (exempted ? 0u : 1u));  // no stale exemption either
    }
    CHECK(gradgrad.count(name) == (kNoGradgradOps.count(name) ? 0u : 1u));
    CHECK(broadcast.count(name) == kBroadcastingOps.count(name));
  }
  for (const std::string& name : ops) {
    bool listed = false;
    for (const char* n : ts::ops::kOpNames) listed = listed || name == n;
    INFO(name);
    CHECK(listed);
  }
}

// One test per layout and order, so that CTest runs them side by side and names the failing one.
TEST_CASE("gradcheck in float64: plain inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kPlain, false) >= 145);
}
TEST_CASE("gradcheck in float64: transposed inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kTransposed, false) >= 138);
}
TEST_CASE("gradcheck in float64: sliced inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kSliced, false) >= 143);
}
TEST_CASE("gradcheck in float64: expanded inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kExpanded, false) >= 141);
}
TEST_CASE("gradgradcheck in float64: plain inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kPlain, true) >= 145);
}
TEST_CASE("gradgradcheck in float64: transposed inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kTransposed, true) >= 138);
}
TEST_CASE("gradgradcheck in float64: sliced inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kSliced, true) >= 143);
}
TEST_CASE("gradgradcheck in float64: expanded inputs", "[gradcheck]") {
  CHECK(check_layout(Layout::kExpanded, true) >= 141);
}

TEST_CASE("embedding: the padding row is looked up, keeps its values and gets no gradient",
          "[gradcheck]") {
  ts::manual_seed(5);
  const Tensor indices = ts::from_vector<int64_t>({1, 0, 1, 3, 1, 2}, {2, 3});
  const std::vector<int64_t> ids = indices.to_vector<int64_t>();
  const Tensor g = ts::randn({2, 3, 3}, ts::kFloat64);
  const std::vector<double> gv = g.to_vector<double>();
  // The weight plain, transposed and sliced.
  for (Tensor w : {ts::randn({4, 3}, ts::kFloat64), ts::randn({3, 4}, ts::kFloat64).t(),
                   ts::randn({4, 6}, ts::kFloat64).slice(1, 0, 6, 2)}) {
    INFO("weight strides " << w.stride(0) << ", " << w.stride(1));
    for (int64_t padding_idx : {int64_t{1}, int64_t{-1}}) {
      INFO("padding_idx " << padding_idx);
      w = w.detach().requires_grad_();
      Tensor y = ts::embedding(w, indices, padding_idx);
      const std::vector<double> wv = w.to_vector<double>(), yv = y.to_vector<double>();
      std::vector<double> expected(12, 0.0);
      for (size_t p = 0; p < ids.size(); ++p)
        for (int64_t j = 0; j < 3; ++j) {
          CHECK(yv[p * 3 + j] == wv[ids[p] * 3 + j]);  // the padding row's values too
          if (ids[p] != padding_idx) expected[ids[p] * 3 + j] += gv[p * 3 + j];
        }
      y.backward(g);
      const std::vector<double> grad = w.grad().to_vector<double>();
      for (size_t e = 0; e < grad.size(); ++e) CHECK(grad[e] == Approx(expected[e]).margin(1e-14));
      double row1 = 0;
      for (int64_t j = 0; j < 3; ++j) row1 += std::abs(grad[3 + j]);
      if (padding_idx == 1)
        CHECK(row1 == 0.0);  // looked up three times, no gradient
      else
        CHECK(row1 > 0.0);  // the same lookups without padding do get one
    }
  }
}

// float64 gradcheck cannot reach the float32 kernels: in float32, each case in each layout must
// give the output and the gradients that the same values laid out contiguously give.
TEST_CASE("float32: every case in every layout matches contiguous copies of its inputs",
          "[gradcheck]") {
  ts::manual_seed(777);
  int checked = 0;
  for (Layout layout : ts::test::kLayouts) {
    for (const OpCase& c : op_cases()) {
      std::optional<LayoutCase> lc = in_layout(c, layout, ts::kFloat32);
      if (!lc) continue;
      INFO(c.op << " / " << c.variant << " / " << layout_name(layout) << " inputs, float32");
      try {
        TensorList leaves, copies;
        for (const Tensor& t : lc->inputs) {
          if (!t.defined()) {
            copies.push_back(t);
            continue;
          }
          copies.push_back(t.detach().clone());
          if (t.requires_grad()) {
            leaves.push_back(t);
            copies.back().requires_grad_();
          }
        }
        TensorList reference_inputs = lc->op_inputs(copies);
        for (Tensor& t : reference_inputs)
          if (t.defined()) t = t.contiguous();
        Tensor y = c.fn(lc->op_inputs(lc->inputs)), y_ref = c.fn(reference_inputs);
        CHECK(ts::test::max_rel_diff(y, y_ref) <= 1e-5);
        TensorList copy_leaves;
        for (const Tensor& t : copies)
          if (t.defined() && t.requires_grad()) copy_leaves.push_back(t);
        const Tensor g = ts::randn(y.shape(), y.dtype());
        TensorList ga = ts::grad({y}, leaves, {g}, {.allow_unused = true});
        TensorList gb = ts::grad({y_ref}, copy_leaves, {g}, {.allow_unused = true});
        for (size_t i = 0; i < ga.size(); ++i) {
          INFO("gradient of input " << i);
          CHECK(ga[i].defined() == gb[i].defined());
          if (ga[i].defined() && gb[i].defined())
            CHECK(ts::test::max_rel_diff(ga[i], gb[i]) <= 1e-4);
        }
      } catch (const std::exception& e) {
        FAIL_CHECK("threw: " << e.what());
      }
      ++checked;
    }
  }
  CHECK(checked >= 567);
}
