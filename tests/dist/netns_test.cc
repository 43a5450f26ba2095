// Two "machines": two network namespaces joined by a veth pair (10.77.<x>.1 and .2), one rank
// in each, started by taesan-run --nnodes 2 --node-rank 0/1 --master 10.77.<x>.1:PORT
// --no-redis, meeting through a Redis server this test starts inside the first namespace. The
// result must equal one process training on the concatenated batch, as on one machine. Needs
// root (ip netns); elsewhere it is skipped with a message. Namespaces and processes are removed
// whatever happens.
#include <catch2/catch.hpp>
#include <cmath>

#include "dist/dist_test_util.h"

using namespace dist_test;

namespace {

/// Deletes the namespaces (and so the veth pair) at scope end, after killing the processes.
struct Namespaces {
  std::vector<std::string> names;
  ProcessGuard* guard;
  ~Namespaces() {
    guard->kill_all();  // processes first: they hold the namespaces
    for (auto& n : names) run({"ip", "netns", "del", n});
  }
};

}  // namespace

TEST_CASE("ddp: two machines (network namespaces + veth), Redis rendezvous", "[dist][netns]") {
  REQUIRE(!kWorker.empty());
  TS_SKIP_WITHOUT_LAUNCHER();
  std::string out;
  if (::geteuid() != 0)
    TS_SKIP("the two-machine test needs root to create network namespaces (ip netns)");
  if (run({"redis-server", "--version"}, &out) != 0)
    TS_SKIP("the two-machine test needs redis-server (Debian package redis-server)");
  const std::string id = std::to_string(::getpid() % 100000);
  const std::string ns_a = "tsdist" + id + "a", ns_b = "tsdist" + id + "b";
  const std::string veth_a = "tsv" + id + "a", veth_b = "tsv" + id + "b";
  const std::string subnet = "10.77." + std::to_string(::getpid() % 250) + ".";
  const std::string addr_a = subnet + "1", addr_b = subnet + "2";
  ProcessGuard guard;
  Namespaces cleanup{{}, &guard};
  if (run({"ip", "netns", "add", ns_a}, &out) != 0)
    TS_SKIP("cannot create a network namespace here (ip netns add: " << out << ")");
  cleanup.names.push_back(ns_a);
  REQUIRE(run({"ip", "netns", "add", ns_b}, &out) == 0);
  cleanup.names.push_back(ns_b);
  const std::vector<std::vector<std::string>> setup = {
      {"ip", "link", "add", veth_a, "type", "veth", "peer", "name", veth_b},
      {"ip", "link", "set", veth_a, "netns", ns_a},
      {"ip", "link", "set", veth_b, "netns", ns_b},
      {"ip", "-n", ns_a, "addr", "add", addr_a + "/24", "dev", veth_a},
      {"ip", "-n", ns_b, "addr", "add", addr_b + "/24", "dev", veth_b},
      {"ip", "-n", ns_a, "link", "set", veth_a, "up"},
      {"ip", "-n", ns_b, "link", "set", veth_b, "up"},
      {"ip", "-n", ns_a, "link", "set", "lo", "up"},
      {"ip", "-n", ns_b, "link", "set", "lo", "up"}};
  for (auto& cmd : setup) {
    INFO(cmd[0] << " " << cmd[1] << " " << cmd[2] << " " << cmd[3]);
    REQUIRE(run(cmd, &out) == 0);
  }

  TempDir dir;
  const std::string port = "6399";
  spawn({"ip", "netns", "exec", ns_a, "redis-server", "--port", port, "--bind", addr_a, "--save",
         "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"},
        {}, dir / "redis.log", guard);
  std::vector<Proc> nodes;
  for (int node = 0; node < 2; ++node)
    nodes.push_back(
        spawn({"ip", "netns", "exec", node == 0 ? ns_a : ns_b, kLauncher, "--nproc", "1",
               "--nnodes", "2", "--node-rank", std::to_string(node), "--master",
               addr_a + ":" + port, "--no-redis", kWorker, "train", "--out", dir / "net"},
              {{"TS_DIST_CONNECT_TIMEOUT", "15"}, {"TS_DIST_TIMEOUT", "15"}},
              dir / ("node" + std::to_string(node) + ".log"), guard));
  for (int node = 0; node < 2; ++node) {
    const Exit e = wait_for(nodes[node], guard);
    INFO("node " << node << ": " << read_file(dir / ("node" + std::to_string(node) + ".log"))
                 << "\nredis: " << read_file(dir / "redis.log"));
    REQUIRE(!e.timed_out);
    REQUIRE(e.code() == 0);
  }
  // Each node wrote its rank's file into the shared /tmp directory.
  CHECK(read_file(dir / "net.rank0") == read_file(dir / "net.rank1"));
  const std::vector<float> ref = reference_run(2, 4, 20);
  const std::vector<float> got = read_floats(dir / "net.rank0");
  REQUIRE(got.size() == ref.size());
  double max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    max_diff = std::max(max_diff, std::abs(static_cast<double>(got[i]) - ref[i]));
  INFO("max |two machines - one process| = " << max_diff);
  CHECK(max_diff <= 1e-6);
  // Node 1 reached the Redis server (and rank 0) only through the veth pair.
  CHECK(read_file(dir / "node1.log").find("started ranks 1..1 of 2 (rendezvous " + addr_a) !=
        std::string::npos);
}
