// RunOptions -> TrainerOptions and output names (run_options.h).
#include "taesan/app/run_options.h"

#include <algorithm>
#include <filesystem>

#include "taesan/core/error.h"

namespace taesan::models {

TrainerOptions trainer_options(const RunOptions& o, bool greater_is_better, int64_t eval_every) {
  TS_CHECK(eval_every >= 0, "trainer_options: eval_every must be resolved (>= 0), got {}",
           eval_every);
  TrainerOptions t;
  t.name = o.name;
  t.out_dir = o.out_dir;
  t.max_steps = o.steps;
  t.grad_accum = o.grad_accum;
  t.lr = o.lr;
  t.warmup_ratio = o.warmup_ratio;
  t.eval_every = eval_every;
  t.greater_is_better = greater_is_better;
  t.patience = o.patience;
  t.time_budget_seconds = o.time_budget_seconds;
  t.verbose = o.verbose;
  t.resume_from = o.resume_from;
  t.log_every = std::max<int64_t>(1, o.steps / 10);
  return t;
}

std::string weights_file(const RunOptions& o) {
  TS_CHECK(!o.out_dir.empty(), "run '{}': out_dir is required to save weights", o.name);
  return (std::filesystem::path(o.out_dir) / (o.name + ".safetensors")).string();
}

}  // namespace taesan::models
