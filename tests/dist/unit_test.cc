// In-process tests of the dist layer's pieces: the environment parsing, taesan-run's argument
// parsing, DistributedSampler's shards, the autograd hooks DDP hangs on (post-accumulate-grad,
// end-of-backward callbacks), and DDP / ProcessGroup in a group of one.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>

#include "dist/dist_test_util.h"
#include "taesan/autograd/node.h"

namespace ts = taesan;

namespace {

/// Sets environment variables for a scope and restores the previous values.
struct EnvScope {
  std::vector<std::pair<std::string, std::optional<std::string>>> saved;
  explicit EnvScope(const std::map<std::string, std::optional<std::string>>& vars) {
    for (auto& [k, v] : vars) {
      const char* old = std::getenv(k.c_str());
      saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
      if (v)
        ::setenv(k.c_str(), v->c_str(), 1);
      else
        ::unsetenv(k.c_str());
    }
  }
  ~EnvScope() {
    for (auto& [k, v] : saved) {
      if (v)
        ::setenv(k.c_str(), v->c_str(), 1);
      else
        ::unsetenv(k.c_str());
    }
  }
};

const std::optional<std::string> kUnset = std::nullopt;

}  // namespace

TEST_CASE("dist env: torchrun variables are parsed strictly", "[dist]") {
  using ts::dist::DistEnv;
  {
    EnvScope e({{"WORLD_SIZE", kUnset}, {"RANK", kUnset}});
    const DistEnv env = DistEnv::from_env();
    CHECK(!env.distributed);
    CHECK(env.world_size == 1);
  }
  {
    EnvScope e({{"WORLD_SIZE", "4"},
                {"RANK", "3"},
                {"LOCAL_RANK", "1"},
                {"LOCAL_WORLD_SIZE", "2"},
                {"TS_STORE_PATH", kUnset},
                {"MASTER_ADDR", "10.0.0.1"},
                {"MASTER_PORT", "29500"}});
    const DistEnv env = DistEnv::from_env();
    CHECK(env.distributed);
    CHECK(env.rank == 3);
    CHECK(env.local_rank == 1);
    CHECK(env.master_addr == "10.0.0.1");
    CHECK(env.master_port == 29500);
    CHECK(env.store_description() == "MASTER_ADDR=10.0.0.1 MASTER_PORT=29500");
  }
  auto error_of = [](const std::map<std::string, std::optional<std::string>>& vars) {
    EnvScope e(vars);
    try {
      DistEnv::from_env();
    } catch (const ts::Error& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  const std::map<std::string, std::optional<std::string>> base = {
      {"WORLD_SIZE", "2"},         {"RANK", "0"},           {"TS_STORE_PATH", "/tmp/x"},
      {"MASTER_ADDR", kUnset},     {"MASTER_PORT", kUnset}, {"LOCAL_RANK", kUnset},
      {"LOCAL_WORLD_SIZE", kUnset}};
  auto with = [&](std::map<std::string, std::optional<std::string>> over) {
    auto m = base;
    for (auto& [k, v] : over) m[k] = v;
    return m;
  };
  CHECK_THAT(error_of(with({{"RANK", "2"}})),
             Catch::Contains("RANK=2 is out of range for WORLD_SIZE=2"));
  CHECK_THAT(error_of(with({{"RANK", "one"}})), Catch::Contains("RANK='one' is not an integer"));
  CHECK_THAT(error_of(with({{"RANK", kUnset}})), Catch::Contains("RANK is not"));
  CHECK_THAT(error_of(with({{"TS_STORE_PATH", kUnset}})),
             Catch::Contains("needs a rendezvous: set TS_STORE_PATH"));
  CHECK_THAT(error_of(with({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})),
             Catch::Contains("both TS_STORE_PATH"));
  CHECK_THAT(
      error_of(with({{"TS_STORE_PATH", kUnset}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "0"}})),
      Catch::Contains("MASTER_PORT=0 must be in [1, 65535]"));
  CHECK_THAT(error_of({{"WORLD_SIZE", kUnset}, {"RANK", "1"}}),
             Catch::Contains("WORLD_SIZE is not"));
}

TEST_CASE("dist launcher: taesan-run arguments", "[dist]") {
  using ts::dist::parse_launch_args;
  const auto o = parse_launch_args({"--nproc", "2", "--nnodes", "3", "--node-rank", "1", "--master",
                                    "10.1.2.3:29500", "prog", "--steps", "5"});
  CHECK(o.nproc == 2);
  CHECK(o.nnodes == 3);
  CHECK(o.node_rank == 1);
  CHECK(o.master_addr == "10.1.2.3");
  CHECK(o.master_port == 29500);
  CHECK(o.command == std::vector<std::string>{"prog", "--steps", "5"});
  CHECK(parse_launch_args({"--nproc", "1", "--master", "[::1]:7", "p"}).master_addr == "::1");
  CHECK_THROWS_WITH(parse_launch_args({"prog"}), Catch::Contains("--nproc N is required"));
  CHECK_THROWS_WITH(parse_launch_args({"--nproc", "2", "--nnodes", "2", "prog"}),
                    Catch::Contains("needs --master"));
  CHECK_THROWS_WITH(parse_launch_args({"--nproc", "2", "--nnodes", "2", "--node-rank", "2",
                                       "--master", "a:1", "prog"}),
                    Catch::Contains("--node-rank 2 is out of range"));
  CHECK_THROWS_WITH(parse_launch_args({"--nproc", "x", "prog"}),
                    Catch::Contains("--nproc expects a non-negative integer"));
  CHECK_THROWS_WITH(parse_launch_args({"--nproc", "2", "--master", "nohost", "prog"}),
                    Catch::Contains("--master expects ADDR:PORT"));
  CHECK_THROWS_WITH(parse_launch_args({"--nproc", "2", "--bogus", "prog"}),
                    Catch::Contains("unknown option --bogus"));
  CHECK_THROWS_WITH(parse_launch_args({"--nproc", "2"}), Catch::Contains("no program"));
}

TEST_CASE("dist sampler: disjoint, covering, deterministic shards per epoch", "[dist]") {
  using ts::dist::DistributedSampler;
  for (int64_t n : {12, 10}) {
    std::vector<int64_t> all;
    for (int r = 0; r < 3; ++r) {
      DistributedSampler s(n, 3, r, {.seed = 5});
      s.set_epoch(2);
      const auto idx = s.indices();
      CHECK(static_cast<int64_t>(idx.size()) == s.num_samples());
      CHECK(s.num_samples() == 4);
      CHECK(idx == s.indices());  // deterministic
      all.insert(all.end(), idx.begin(), idx.end());
    }
    std::set<int64_t> distinct(all.begin(), all.end());
    CHECK(static_cast<int64_t>(distinct.size()) == n);  // every example of the epoch is covered
    CHECK(all.size() == 12);  // 10 examples: 2 repeated to even the shards
    CHECK(*distinct.rbegin() == n - 1);
  }
  DistributedSampler a(100, 2, 0, {.seed = 1}), b(100, 2, 0, {.seed = 1});
  b.set_epoch(1);
  CHECK(a.indices() != b.indices());  // a new order each epoch
  DistributedSampler plain(5, 2, 1, {.shuffle = false});
  CHECK(plain.indices() == std::vector<int64_t>{1, 3, 0});
  DistributedSampler dropped(5, 2, 1, {.shuffle = false, .drop_last = true});
  CHECK(dropped.indices() == std::vector<int64_t>{1, 3});
  CHECK_THROWS_WITH(DistributedSampler(5, 2, 2), Catch::Contains("rank 2 is out of range"));
  CHECK(DistributedSampler(7).num_replicas() == 1);  // no group: one replica
}

TEST_CASE("autograd hooks: post-accumulate hook once per backward, callbacks at its end",
          "[dist]") {
  ts::Tensor w = ts::ones({3}).requires_grad_();
  auto acc = ts::autograd::gradient_edge(w);
  auto* node = dynamic_cast<ts::autograd::AccumulateGrad*>(acc.get());
  REQUIRE(node != nullptr);
  std::vector<std::string> events;
  node->add_post_hook([&](const ts::Tensor& leaf) {
    events.push_back("hook " + std::to_string(leaf.grad().to_vector<float>()[0]));
    ts::autograd::queue_callback([&] { events.push_back("end"); });
  });
  ((w * 2.0).sum() + (w * 3.0).sum()).backward();  // w used twice: one summed accumulation
  CHECK(events == std::vector<std::string>{"hook 5.000000", "end"});
  CHECK_THROWS_WITH(ts::autograd::queue_callback([] {}),
                    Catch::Contains("outside a backward() pass"));
  events.clear();
  ts::grad({(w * 2.0).sum()}, {w});  // ts::grad does not accumulate: no hook
  CHECK(events.empty());

  // An accumulator runs as soon as its gradient is complete, even one created long before the
  // graph (as DDP keeps them): w's branch finishes first, so w's hook fires before v's.
  ts::Tensor v = ts::ones({3}).requires_grad_();
  std::vector<std::string> order;
  node->add_post_hook([&](const ts::Tensor&) { order.push_back("w"); });
  ts::Tensor v_branch = (v * 3.0).exp().sum();
  dynamic_cast<ts::autograd::AccumulateGrad*>(ts::autograd::gradient_edge(v).get())
      ->add_post_hook([&](const ts::Tensor&) { order.push_back("v"); });
  (v_branch + (w * 2.0).sum()).backward();
  CHECK(order == std::vector<std::string>{"w", "v"});
}

TEST_CASE("ddp: a group of one trains exactly like plain training, buckets in reverse order",
          "[dist]") {
  auto group = ts::dist::ProcessGroup::single();
  CHECK(group->size() == 1);
  CHECK(group->backend() == "single");
  ts::manual_seed(3);
  auto plain = std::make_shared<toy::ToyNet>();
  ts::manual_seed(3);
  auto wrapped = std::make_shared<toy::ToyNet>();
  ts::dist::DistributedDataParallel ddp(wrapped, group);
  const auto buckets = ddp.bucket_names();
  REQUIRE(buckets.size() == 1);
  CHECK(buckets[0] == std::vector<std::string>{"fc3.bias", "fc3.weight", "fc2.bias", "fc2.weight",
                                               "fc1.bias", "fc1.weight", "unused"});
  ts::dist::DistributedDataParallel small(std::make_shared<toy::ToyNet>(), group,
                                          {.bucket_cap_mb = 0.002});
  CHECK(small.bucket_names().size() >= 3);
  CHECK(small.bucket_names().front().front() == "fc3.bias");
  auto opt_a = toy::make_optimizer(*plain);
  auto opt_b = toy::make_optimizer(*wrapped);
  for (int step = 0; step < 3; ++step) {
    auto [x, y] = toy::batch(step, 6);
    opt_a->zero_grad();
    opt_b->zero_grad();
    ts::cross_entropy(plain->forward(x), y).backward();
    {
      auto guard = ddp.no_sync();
      CHECK(!ddp.require_backward_grad_sync());
    }
    CHECK(ddp.require_backward_grad_sync());
    ts::cross_entropy(wrapped->forward(x), y).backward();
    CHECK(!wrapped->unused.grad().defined());
    opt_a->step();
    opt_b->step();
  }
  CHECK(toy::flat_parameters(*plain) == toy::flat_parameters(*wrapped));
  CHECK(ddp.stats().syncs == 3);
}

TEST_CASE("process group: checks and a group of one", "[dist]") {
  auto group = ts::dist::ProcessGroup::single();
  ts::Tensor t = ts::from_vector<float>({1, 2, 3}, {3});
  group->allreduce(t, ts::dist::ReduceOp::Avg);
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3});
  CHECK(group->allgather(t).shape() == ts::Shape{1, 3});
  CHECK_THROWS_WITH(group->allreduce(ts::arange(3, ts::kInt64), ts::dist::ReduceOp::Avg),
                    Catch::Contains("Avg needs a floating dtype"));
  CHECK_THROWS_WITH(group->allreduce(ts::ones({2, 3}).t()), Catch::Contains("not contiguous"));
  CHECK_THROWS_WITH(group->allreduce(ts::ones({2}, ts::kBool)),
                    Catch::Contains("unsupported dtype"));
  CHECK_THROWS_WITH(group->broadcast(t, 1), Catch::Contains("root 1 is not a rank"));
  CHECK(!ts::dist::is_initialized());
  CHECK(ts::dist::get_world_size() == 1);
  CHECK(ts::dist::is_main_process());
  CHECK_THROWS_WITH(ts::dist::default_group(), Catch::Contains("init_process_group"));
}
