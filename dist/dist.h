// The dist layer: data-parallel training across processes and machines over Gloo —
// ProcessGroup (collectives), init_process_group (the default group from torchrun-style
// environment variables), DistributedDataParallel, DistributedSampler, and the launcher
// behind `taesan-run`. Sits between optim/ and models/.
#pragma once

#include "taesan/dist/distributed_data_parallel.h"
#include "taesan/dist/distributed_sampler.h"
#include "taesan/dist/env.h"
#include "taesan/dist/init.h"
#include "taesan/dist/launcher.h"
#include "taesan/dist/process_group.h"
