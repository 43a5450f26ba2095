// Trainer: the small training loop every command uses. The caller gives a step function (one
// micro-batch -> loss) and an evaluation function; the trainer does gradient accumulation,
// clipping, AdamW with a warmup-cosine schedule, evaluation every N steps, best-weights keeping,
// early stopping, resume, a time budget, Ctrl-C (a resumable checkpoint), a progress line, and
// a CSV log plus an SVG chart of the curves next to the checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "taesan/autograd/tensor.h"
#include "taesan/nn/module.h"
#include "taesan/optim/optimizer.h"

namespace taesan::models {

/// What one micro-batch produced: its mean loss (a scalar with a graph) and its token count.
struct StepOutput {
  Tensor loss;
  int64_t tokens = 0;
};

/// Computes micro-batch `index` (0, 1, 2, ... over the whole run: step * grad_accum + k). The
/// batch must depend only on `index` (e.g. epoch = index / batches_per_epoch), so that a
/// resumed run sees exactly the batches the uninterrupted one would have seen.
using StepFn = std::function<StepOutput(int64_t index)>;

/// Evaluates the model on held-out data: the value tracked for best-model keeping and early
/// stopping (see TrainerOptions::greater_is_better). Called in eval mode, without gradients.
using EvalFn = std::function<double()>;

/// Options of Trainer.
struct TrainerOptions {
  std::string name = "run";        ///< file stem of the checkpoint, log and chart
  std::string out_dir = "";        ///< folder of <name>.ckpt/.best/.csv/.svg ("": write nothing)
  int64_t max_steps = 100;         ///< optimizer steps
  int64_t grad_accum = 1;          ///< micro-batches per optimizer step (losses averaged)
  double lr = 3e-4;                ///< peak learning rate (base lr of every group)
  double weight_decay = 0.01;      ///< AdamW's decoupled weight decay
  double warmup_ratio = 0.06;      ///< warmup steps = round(ratio * max_steps)
  double min_lr_ratio = 0.0;       ///< cosine floor as a fraction of the peak
  double clip_norm = 1.0;          ///< max gradient norm (<= 0: no clipping)
  int64_t eval_every = 0;          ///< evaluate every N steps (0: only at the end)
  bool greater_is_better = false;  ///< the EvalFn value: true for scores, false for losses
  int64_t patience = 0;      ///< stop after this many evaluations without improvement (0: never)
  bool restore_best = true;  ///< load the best evaluated weights back at the end
  double time_budget_seconds = 0;  ///< stop (cleanly, then evaluate) after this long (0: no limit)
  int64_t log_every = 10;          ///< steps between plain log lines (not on a terminal)
  int64_t save_every = 0;          ///< steps between resumable checkpoints (0: only at the end)
  /// With out_dir: write the resumable checkpoint and the best weights (<name>.ckpt/.best
  /// .safetensors). false: only the CSV log and the SVG chart are written.
  bool save_checkpoints = true;
  bool verbose = true;           ///< progress line / log lines on stderr
  bool handle_sigint = true;     ///< Ctrl-C saves a resumable checkpoint and stops
  std::string resume_from = "";  ///< a checkpoint written by a Trainer with the same setup
  /// Under an initialized default process group of several ranks (ts::dist::init_process_group,
  /// e.g. started by taesan-run): average gradients with DistributedDataParallel, give rank r the
  /// micro-batches index * world + r (disjoint shards; the global batch grows with the world),
  /// log the mean loss of all ranks, agree on stopping, and write files and progress on rank 0.
  bool distributed = true;
};

/// One row of the training log.
struct LogRow {
  int64_t step = 0;
  double train_loss = 0;  ///< mean over the micro-batches of the step
  double lr = 0;
  double eval = 0;  ///< NaN when no evaluation ran at this step
  double tokens_per_second = 0;
  double elapsed = 0;  ///< seconds since the run (or its first part) started
};

/// What a run did.
struct TrainResult {
  int64_t steps = 0;            ///< optimizer steps done (resumed ones included)
  double final_train_loss = 0;  ///< loss of the last step
  double best_eval = 0;         ///< best EvalFn value (NaN when never evaluated)
  int64_t best_step = -1;
  double last_eval = 0;  ///< the last EvalFn value (NaN when never evaluated)
  bool early_stopped = false;
  bool time_budget_hit = false;
  bool interrupted = false;     ///< Ctrl-C: a resumable checkpoint was saved
  double seconds = 0;           ///< wall time of this call
  std::vector<LogRow> log;      ///< every step of the run (resumed ones included)
  std::string checkpoint_path;  ///< the resumable checkpoint ("" when out_dir is empty)
};

/// A training run over one model. `params` are the trainable tensors (default: those of the model
/// that require a gradient); `param_lr_scale` optionally gives a learning-rate multiplier per
/// parameter name prefix (e.g. {"body.", 0.5}) — each distinct multiplier becomes a group.
class Trainer {
 public:
  Trainer(nn::Module& model, TrainerOptions options,
          std::vector<std::pair<std::string, double>> param_lr_scale = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Runs the loop: resume (when asked), steps, evaluations, early stopping, budget, Ctrl-C; then
  /// a final evaluation, the best weights restored (restore_best), the checkpoint, CSV and SVG.
  TrainResult fit(const StepFn& step_fn, const EvalFn& eval_fn = {});

  /// The optimizer (AdamW), e.g. to inspect learning rates.
  optim::Optimizer& optimizer();
  const TrainerOptions& options() const { return options_; }
  /// Paths of the files a run writes ("" when out_dir is empty).
  std::string checkpoint_path() const;
  std::string best_path() const;
  std::string csv_path() const;
  std::string svg_path() const;

 private:
  struct State;
  nn::Module& model_;
  TrainerOptions options_;
  std::unique_ptr<State> state_;  // owned even when the constructor throws
};

/// Writes the log as CSV (step,train_loss,lr,eval,tokens_per_second,elapsed) atomically.
void write_log_csv(const std::vector<LogRow>& log, const std::string& path);
/// Reads a CSV written by write_log_csv (to continue it when resuming).
std::vector<LogRow> read_log_csv(const std::string& path);
/// Writes a hand-made SVG chart of the training loss and the evaluation values, atomically.
void write_log_svg(const std::vector<LogRow>& log, const std::string& path,
                   const std::string& title, const std::string& eval_label);
/// Writes `text` to `path` atomically (taesan::write_file_atomic, core/atomic_file.h), creating
/// the parent directories first.
void write_file_atomic(const std::string& path, const std::string& text);

/// True once Ctrl-C was pressed while a Trainer's handler was installed (cleared by each fit).
bool interrupt_requested();
/// Simulates Ctrl-C (tests; a signal handler calls it).
void request_interrupt();

}  // namespace taesan::models
