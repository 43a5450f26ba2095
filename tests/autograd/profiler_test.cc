// ts::profiler: forward ops and backward nodes are counted with the right calls, only the
// outermost Scope is timed, nothing is collected while disabled, and the family table adds up.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "taesan/autograd/node.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace prof = ts::profiler;

namespace {

// Leaves the profiler off and empty whatever the test did.
struct ProfilerReset {
  ProfilerReset() {
    prof::disable();
    prof::reset();
  }
  ~ProfilerReset() {
    prof::disable();
    prof::reset();
  }
};

// n steps of y = x w, loss = sum(y), backward.
void matmul_steps(int n) {
  ts::Tensor x = ts::randn({64, 32}).requires_grad_();
  ts::Tensor w = ts::randn({32, 16}).requires_grad_();
  for (int i = 0; i < n; ++i) ts::matmul(x, w).sum().backward();
}

}  // namespace

TEST_CASE("profiler: disabled records nothing", "[autograd][profiler]") {
  ProfilerReset guard;
  CHECK_FALSE(prof::is_enabled());
  matmul_steps(2);
  { prof::Scope s("optim.step"); }
  CHECK(prof::ops().empty());
  CHECK(prof::timed_ms() == 0.0);
  CHECK(prof::op("mm", prof::Phase::kForward).calls == 0);
}

TEST_CASE("profiler: a matmul shows up forward and backward with its call count",
          "[autograd][profiler]") {
  ProfilerReset guard;
  prof::enable();
  matmul_steps(3);
  prof::disable();
  CHECK(prof::op("mm", prof::Phase::kForward).calls == 3);
  // The backward's own two GEMMs run inside the node's Scope: one timed call per node.
  const prof::OpStats mm_bwd = prof::op("mm", prof::Phase::kBackward);
  CHECK(mm_bwd.calls == 3);
  CHECK(mm_bwd.total_ms > 0.0);
  CHECK(mm_bwd.family == prof::Family::kMatmul);
  CHECK(prof::op("sum", prof::Phase::kBackward).calls == 3);
  // Gradients reach the leaves through their accumulators.
  CHECK(prof::op("AccumulateGrad", prof::Phase::kBackward).calls == 6);

  // The family rows add up to the total, whose remainder is the graph overhead.
  const double total = prof::timed_ms() * 2;
  double sum_ms = 0, sum_pct = 0;
  for (const prof::FamilyStats& r : prof::by_family(total)) {
    sum_ms += r.total_ms;
    sum_pct += r.percent;
  }
  CHECK(sum_ms == Approx(total));
  CHECK(sum_pct == Approx(100.0));
  CHECK(prof::by_family(total)[static_cast<int>(prof::Family::kMatmul)].calls == 6);
  const std::string table = prof::table(total);
  CHECK(table.find("matmul") != std::string::npos);
  CHECK(table.find("graph overhead") != std::string::npos);
}

TEST_CASE("profiler: only the outermost Scope is timed; reset clears", "[autograd][profiler]") {
  ProfilerReset guard;
  prof::enable();
  {
    prof::Scope outer("optim.step");
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    prof::Scope inner("clip_grad_norm");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const prof::OpStats step = prof::op("optim.step", prof::Phase::kOther);
  CHECK(step.calls == 1);
  CHECK(step.total_ms >= 4.0);
  CHECK(step.family == prof::Family::kOptimizer);
  CHECK(prof::op("clip_grad_norm", prof::Phase::kOther).calls == 0);
  CHECK(prof::enabled_ms() >= step.total_ms);
  prof::reset();
  CHECK(prof::ops().empty());
}

TEST_CASE("profiler: forward time ends at the op's record, backward by node",
          "[autograd][profiler]") {
  ProfilerReset guard;
  ts::Tensor x = ts::randn({8, 16}).requires_grad_();
  prof::enable();
  ts::Tensor y = ts::gelu(x);  // first event after enable: counted, not timed
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ts::Tensor z = ts::softmax(y, -1);  // the 2 ms before its record are its forward time
  z.sum().backward();
  prof::disable();
  CHECK(prof::op("gelu", prof::Phase::kForward).calls == 1);
  CHECK(prof::op("gelu", prof::Phase::kForward).total_ms == 0.0);  // counted, not timed
  CHECK(prof::op("softmax", prof::Phase::kForward).total_ms >= 2.0);
  CHECK(prof::op("softmax", prof::Phase::kBackward).calls == 1);
  CHECK(prof::op("gelu", prof::Phase::kBackward).calls == 1);
  CHECK(prof::op("autograd::record", prof::Phase::kForward).calls == 3);
}

TEST_CASE("profiler: op names map to families", "[autograd][profiler]") {
  using F = prof::Family;
  CHECK(prof::family_of("mm") == F::kMatmul);
  CHECK(prof::family_of("bmm") == F::kMatmul);
  CHECK(prof::family_of("linear") == F::kMatmul);
  CHECK(prof::family_of("scaled_dot_product_attention") == F::kAttention);
  CHECK(prof::family_of("cross_entropy") == F::kSoftmaxCE);
  CHECK(prof::family_of("log_softmax") == F::kSoftmaxCE);
  CHECK(prof::family_of("layer_norm") == F::kLayerNorm);
  CHECK(prof::family_of("rms_norm") == F::kLayerNorm);
  CHECK(prof::family_of("gelu") == F::kGelu);
  CHECK(prof::family_of("add") == F::kElementwise);
  CHECK(prof::family_of("AccumulateGrad") == F::kElementwise);
  CHECK(prof::family_of("index_select") == F::kOther);
  CHECK(prof::family_of("optim.AdamW.step") == F::kOptimizer);
  CHECK(prof::family_of("autograd::record") == F::kGraph);
  CHECK(std::string(prof::family_name(F::kSoftmaxCE)) == "softmax/CE");
}
