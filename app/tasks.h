// The application layer in one include: model sidecars, task data (the user's files and the
// pack's tasks), pretraining, fine-tuning / evaluation / prediction, and the demo. The `taesan`
// command-line program is built on these.
#pragma once

#include "taesan/app/baseline_scores.h"
#include "taesan/app/demo.h"
#include "taesan/app/finetune.h"
#include "taesan/app/model_meta.h"
#include "taesan/app/pretrain.h"
#include "taesan/app/run_options.h"
#include "taesan/app/task_data.h"
#include "taesan/app/task_runs.h"
