// taesan umbrella header: everything a training script needs (tensors, ops, nn, optim, dist,
// data, models, train).
//   #include <taesan/taesan.h>
//   namespace ts = taesan;
// Not included: the graph's internals (<taesan/autograd/node.h>, <taesan/autograd/engine.h>'s
// users need only Tensor::backward and ts::grad, which are here) and the application layer
// (<taesan/app/tasks.h>: the pipelines behind the `taesan` command).
#pragma once

#include "taesan/autograd/autocast.h"
#include "taesan/autograd/checkpoint.h"
#include "taesan/autograd/engine.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/format.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/gradcheck.h"
#include "taesan/autograd/profiler.h"
#include "taesan/autograd/tensor.h"
#include "taesan/core/dtype.h"
#include "taesan/core/error.h"
#include "taesan/core/parallel.h"
#include "taesan/core/random.h"
#include "taesan/core/shape.h"
#include "taesan/data/data.h"
#include "taesan/dist/dist.h"
#include "taesan/models/config.h"
#include "taesan/models/electra.h"
#include "taesan/models/generate.h"
#include "taesan/models/heads.h"
#include "taesan/models/transformer_models.h"
#include "taesan/nn/multihead_attention.h"
#include "taesan/nn/nn.h"
#include "taesan/nn/transformer.h"
#include "taesan/ops/ops.h"
#include "taesan/optim/optim.h"
#include "taesan/train/baselines.h"
#include "taesan/train/batching.h"
#include "taesan/train/decoding.h"
#include "taesan/train/metrics.h"
#include "taesan/train/trainer.h"
