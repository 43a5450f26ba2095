// The demo (the main job): a tokenizer and two pretraining runs on the pack's text, then every
// pack task fine-tuned from scratch and from the pretrained body with the same budget, scored on
// its test split beside a simple baseline; prints the table, writes results.md / results.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace taesan::models {

/// Options of run_demo.
struct DemoOptions {
  std::string data_dir = "../shared/data";
  std::string out_dir = "demo_out";
  bool quick = false;              ///< every stage briefly (CI: under 3 minutes)
  std::vector<std::string> tasks;  ///< only these tasks and the pretraining they need (empty: all)
  int threads = 2;
  bool verbose = true;
  uint64_t seed = 1234;
};
/// One row of the demo's table (scores: higher is better).
struct DemoRow {
  std::string task, metric;
  double baseline = 0, scratch = 0, pretrained = 0, seconds = 0;
  std::string baseline_name;
};
/// The demo: tokenizer, two pretraining runs (masked LM, causal LM), then every task from scratch
/// and from the pretrained body with the same budget; prints the table and writes results.md,
/// results.json, the CSV logs and SVG charts to out_dir (atomically).
std::vector<DemoRow> run_demo(const DemoOptions& options);

}  // namespace taesan::models
