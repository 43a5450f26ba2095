// Training checkpoints: model, optimizer and scheduler state, the step, the RNG state and the
// caller's own values, in one safetensors file written atomically. Resuming from one gives the
// same numbers, bit for bit, as a run that never stopped.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "taesan/nn/module.h"
#include "taesan/optim/lr_scheduler.h"
#include "taesan/optim/optimizer.h"

namespace taesan::optim {

/// The parts of a training run that a checkpoint holds. Null parts are not saved / not loaded.
struct Checkpoint {
  nn::Module* model = nullptr;
  Optimizer* optimizer = nullptr;
  LRScheduler* scheduler = nullptr;
  /// Training step (saved; filled in by load_checkpoint).
  int64_t step = 0;
  /// Any other values to keep (epoch, best accuracy, ...; saved; filled in by load_checkpoint).
  std::map<std::string, std::string> extra = {};
};

/// Writes model, optimizer, scheduler, step, extra and the global RNG state to `path`
/// atomically (a crash leaves any previous checkpoint intact).
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

/// Restores every non-null part of `checkpoint` from `path`, sets checkpoint.step and .extra, and
/// restores the RNG state. Everything is checked (the file, and that each part matches the
/// objects: names, shapes, optimizer and scheduler types, group sizes) before anything changes;
/// a part requested but absent from the file is an error.
void load_checkpoint(const std::string& path, Checkpoint& checkpoint);

}  // namespace taesan::optim
