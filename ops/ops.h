// Every differentiable operation of taesan (the ops/ layer), one header per family.
#pragma once

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/nn_ops.h"
#include "ops/reduction.h"
#include "ops/shape_ops.h"
#include "ops/attention.h"
#include "ops/feed_forward.h"
