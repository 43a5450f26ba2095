// taesan umbrella header: everything a training script needs.
//   #include <taesan.h>
//   namespace ts = taesan;
#pragma once

#include "autograd/dtype.h"
#include "autograd/engine.h"
#include "autograd/error.h"
#include "autograd/factory.h"
#include "autograd/format.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/gradcheck.h"
#include "autograd/parallel.h"
#include "autograd/random.h"
#include "autograd/shape.h"
#include "autograd/tensor.h"
#include "ops/ops.h"
#include "nn/nn.h"
#include "nn/multihead_attention.h"
#include "nn/transformer.h"
#include "optim/optim.h"
#include "models/config.h"
#include "models/transformer_models.h"
#include "models/generate.h"
#include "models/metrics.h"
#include "models/heads.h"
#include "data/data.h"
