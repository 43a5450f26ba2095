// The optim/ layer in one include: optimizers, schedulers, clipping, training checkpoints.
#pragma once

#include "taesan/optim/adam.h"
#include "taesan/optim/checkpoint.h"
#include "taesan/optim/clip_grad.h"
#include "taesan/optim/lr_scheduler.h"
#include "taesan/optim/optimizer.h"
#include "taesan/optim/sgd.h"
