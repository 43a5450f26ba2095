// Every differentiable operation of taesan (the ops/ layer), one header per family.
#pragma once

#include "taesan/ops/attention.h"
#include "taesan/ops/elementwise.h"
#include "taesan/ops/feed_forward.h"
#include "taesan/ops/linalg.h"
#include "taesan/ops/loss.h"
#include "taesan/ops/nn_ops.h"
#include "taesan/ops/reduction.h"
#include "taesan/ops/rms_norm.h"
#include "taesan/ops/shape_ops.h"
