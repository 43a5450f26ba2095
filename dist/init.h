// The process-wide default group, PyTorch's torch.distributed habits: init_process_group() once
// at start (from the environment taesan-run sets), then get_rank() / get_world_size() anywhere;
// without it a program is rank 0 of 1, so the same script runs alone or under the launcher.
#pragma once

#include <memory>

#include "taesan/dist/env.h"
#include "taesan/dist/process_group.h"

namespace taesan::dist {

/// Creates the default group from DistEnv::from_env() (a group of one when WORLD_SIZE is unset)
/// and returns it. Throws if one already exists.
std::shared_ptr<ProcessGroup> init_process_group();
/// Same from an explicit description.
std::shared_ptr<ProcessGroup> init_process_group(const DistEnv& env);
/// Drops the default group (closes its connections once nothing else holds it).
void destroy_process_group();
/// True between init_process_group() and destroy_process_group().
bool is_initialized();
/// The default group; throws when none was initialized.
std::shared_ptr<ProcessGroup> default_group();
/// Rank in the default group (0 when none).
int get_rank();
/// Size of the default group (1 when none).
int get_world_size();
/// True on rank 0 (and when not distributed): the rank that logs and writes files.
bool is_main_process();

/// destroy_process_group() at the end of a scope (also when an exception leaves it).
struct ProcessGroupGuard {
  ProcessGroupGuard() = default;
  ~ProcessGroupGuard() { destroy_process_group(); }
  ProcessGroupGuard(const ProcessGroupGuard&) = delete;
  ProcessGroupGuard& operator=(const ProcessGroupGuard&) = delete;
};

}  // namespace taesan::dist
