// The dist layer: data-parallel training across processes and machines over Gloo —
// ProcessGroup (collectives), init_process_group (the default group from torchrun-style
// environment variables), DistributedDataParallel, DistributedSampler, and the launcher
// behind `taesan-run`. Sits between optim/ and models/.
#pragma once

#include "dist/distributed_data_parallel.h"
#include "dist/distributed_sampler.h"
#include "dist/env.h"
#include "dist/init.h"
#include "dist/launcher.h"
#include "dist/process_group.h"
