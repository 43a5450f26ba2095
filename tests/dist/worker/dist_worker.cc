// dist_worker: one rank of the dist tests' jobs (tests/dist/*_test.cc start it as real
// processes, directly or through taesan-run). Modes:
//   dist_worker train --out PREFIX [--steps N] [--batch B] [--accum 1|2] [--die-rank R
//               --die-step S] [--partial-rank R]
//                               trains the toy model data-parallel, checks after every step that
//                               all ranks hold bit-identical parameters, writes PREFIX.rank<r>
//                               (steps x parameters float32). --partial-rank R: only rank R uses
//                               the `unused` parameter (loss + 0.5 sum): every rank must then
//                               get the gradient 0.5 / world for it
//   dist_worker trainer --out DIR   models::Trainer (6 steps, grad_accum 2) on the toy model;
//                               writes DIR/indices.rank<r> (the micro-batch indices it trained)
//   dist_worker init            joins the group, passes a barrier, exits 0
//   dist_worker wait-signal     waits for SIGINT/SIGTERM, exits 130 / 143
// Errors print "dist_worker rank R: error: ..." and exit 1.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "toy_training.h"

namespace ts = taesan;

namespace {

int rank_from_env() {
  const char* r = std::getenv("RANK");
  return r ? std::atoi(r) : 0;
}

int train(int argc, char** argv) {
  std::string out;
  int64_t steps = 20, batch = 4, accum = 1, die_rank = -1, die_step = -1, partial_rank = -1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--out")
      out = v;
    else if (k == "--steps")
      steps = std::stoll(v);
    else if (k == "--batch")
      batch = std::stoll(v);
    else if (k == "--accum")
      accum = std::stoll(v);
    else if (k == "--die-rank")
      die_rank = std::stoll(v);
    else if (k == "--die-step")
      die_step = std::stoll(v);
    else if (k == "--partial-rank")
      partial_rank = std::stoll(v);
    else
      ts::fail("dist_worker train: unknown option {}", k);
  }
  TS_CHECK(!out.empty(), "dist_worker train: --out PREFIX is required");
  TS_CHECK(accum == 1 || accum == 2, "dist_worker train: --accum must be 1 or 2");
  TS_CHECK(batch % accum == 0, "dist_worker train: --batch must be a multiple of --accum");
  ts::set_num_threads(1);
  auto pg = ts::dist::init_process_group();
  const int rank = pg->rank(), world = pg->size();
  // Different initial weights on every rank: DDP must broadcast rank 0's.
  ts::manual_seed(rank == 0 ? 7 : 100 + static_cast<uint64_t>(rank));
  auto net = std::make_shared<toy::ToyNet>();
  // Tiny buckets (~2 KB): several allreduces per backward, launched during it.
  ts::dist::DistributedDataParallel ddp(net, pg, {.bucket_cap_mb = 0.002});
  TS_CHECK(ddp.bucket_names().size() >= 3, "dist_worker: expected several buckets, got {}",
           ddp.bucket_names().size());
  auto opt = toy::make_optimizer(*net);
  std::ofstream file(out + ".rank" + std::to_string(rank), std::ios::binary | std::ios::trunc);
  TS_CHECK(file.good(), "dist_worker: cannot write {}.rank{}", out, rank);
  for (int64_t step = 0; step < steps; ++step) {
    auto [x, y] = toy::batch(step, batch * world);
    ts::Tensor xs = x.slice(0, rank * batch, (rank + 1) * batch);
    ts::Tensor ys = y.slice(0, rank * batch, (rank + 1) * batch);
    opt->zero_grad();
    if (step == die_step && rank == die_rank) {
      std::fprintf(stderr, "dist_worker rank %d: killing myself at step %lld\n", rank,
                   static_cast<long long>(step));
      ::raise(SIGKILL);
    }
    if (partial_rank >= 0) {
      ts::Tensor loss = ts::cross_entropy(net->forward(xs), ys);
      if (rank == partial_rank) loss = loss + net->unused.sum() * 0.5;
      loss.backward();
    } else if (accum == 1) {
      ts::cross_entropy(net->forward(xs), ys).backward();
    } else {
      const int64_t h = batch / 2;
      {
        auto no_sync = ddp.no_sync();
        (ts::cross_entropy(net->forward(xs.slice(0, 0, h)), ys.slice(0, 0, h)) / 2.0).backward();
      }
      (ts::cross_entropy(net->forward(xs.slice(0, h, batch)), ys.slice(0, h, batch)) / 2.0)
          .backward();
    }
    if (partial_rank < 0) {
      TS_CHECK(!net->unused.grad().defined(),
               "dist_worker: the unused parameter got a gradient at step {}", step);
    } else {
      const ts::Tensor g = net->unused.grad();
      TS_CHECK(g.defined(),
               "dist_worker: rank {} got no gradient for the parameter only rank {} "
               "used",
               rank, partial_rank);
      for (float v : g.to_vector<float>())
        TS_CHECK(
            v == 0.5f / static_cast<float>(world),
            "dist_worker: rank {}: gradient {} of the partly used parameter, expected 0.5 / {}",
            rank, v, world);
    }
    opt->step();
    // Every rank must hold exactly rank 0's parameters.
    const std::vector<float> mine = toy::flat_parameters(*net);
    ts::Tensor all =
        pg->allgather(ts::from_vector<float>(mine, {static_cast<int64_t>(mine.size())}));
    const std::vector<float> every = all.to_vector<float>();
    for (int r = 1; r < world; ++r)
      TS_CHECK(std::memcmp(every.data(), every.data() + r * mine.size(),
                           mine.size() * sizeof(float)) == 0,
               "dist_worker: parameters of rank {} differ from rank 0's after step {}", r,
               step + 1);
    file.write(reinterpret_cast<const char*>(mine.data()),
               static_cast<std::streamsize>(mine.size() * sizeof(float)));
  }
  file.flush();
  TS_CHECK(file.good(), "dist_worker: writing {}.rank{} failed", out, rank);
  const auto stats = ddp.stats();
  std::fprintf(stderr, "dist_worker rank %d of %d: %lld steps, %lld syncs, %lld bytes allreduced\n",
               rank, world, static_cast<long long>(steps), static_cast<long long>(stats.syncs),
               static_cast<long long>(stats.bytes));
  pg->barrier();
  return 0;
}

int trainer(int argc, char** argv) {
  TS_CHECK(argc == 4 && std::string(argv[2]) == "--out", "dist_worker trainer --out DIR");
  const std::string dir = argv[3];
  ts::set_num_threads(1);
  auto pg = ts::dist::init_process_group();
  const int rank = pg->rank(), world = pg->size();
  ts::manual_seed(rank == 0 ? 7 : 100 + static_cast<uint64_t>(rank));
  auto net = std::make_shared<toy::ToyNet>();
  ts::models::TrainerOptions o;
  o.name = "toy";
  o.out_dir = dir;
  o.max_steps = 6;
  o.grad_accum = 2;
  o.lr = 0.01;
  o.eval_every = 3;
  o.log_every = 1;
  o.handle_sigint = false;
  ts::models::Trainer t(*net, o);
  std::vector<int64_t> seen;
  const auto result = t.fit(
      [&](int64_t index) {
        seen.push_back(index);
        auto [x, y] = toy::batch(index, 4);
        return ts::models::StepOutput{ts::cross_entropy(net->forward(x), y), 4};
      },
      [&] {
        auto [x, y] = toy::batch(999, 16);
        return ts::cross_entropy(net->forward(x), y).item<double>();
      });
  std::ofstream out(dir + "/indices.rank" + std::to_string(rank));
  for (int64_t i : seen) out << i << "\n";
  const std::vector<float> mine = toy::flat_parameters(*net);
  ts::Tensor all = pg->allgather(ts::from_vector<float>(mine, {static_cast<int64_t>(mine.size())}));
  const std::vector<float> every = all.to_vector<float>();
  for (int r = 1; r < world; ++r)
    TS_CHECK(
        std::memcmp(every.data(), every.data() + r * mine.size(), mine.size() * sizeof(float)) == 0,
        "dist_worker trainer: parameters of rank {} differ from rank 0's", r);
  std::fprintf(stderr, "dist_worker rank %d: trainer done, %lld steps, final loss %.6f\n", rank,
               static_cast<long long>(result.steps), result.final_train_loss);
  return 0;
}

int init_only() {
  auto pg = ts::dist::init_process_group();
  pg->barrier();
  std::fprintf(stderr, "dist_worker rank %d of %d: ok\n", pg->rank(), pg->size());
  return 0;
}

int wait_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  std::fprintf(stderr, "dist_worker rank %d: waiting for a signal\n", rank_from_env());
  int sig = 0;
  ::sigwait(&set, &sig);
  std::fprintf(stderr, "dist_worker rank %d: got signal %d\n", rank_from_env(), sig);
  return 128 + sig;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "train") return train(argc, argv);
    if (mode == "trainer") return trainer(argc, argv);
    if (mode == "init") return init_only();
    if (mode == "wait-signal") return wait_signal();
    std::fprintf(stderr, "usage: dist_worker train|trainer|init|wait-signal ...\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dist_worker rank %d: error: %s\n", rank_from_env(), e.what());
    return 1;
  }
}
