// The optim/ layer in one include: optimizers, schedulers, clipping, training checkpoints.
#pragma once

#include "optim/adam.h"
#include "optim/checkpoint.h"
#include "optim/clip_grad.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"
#include "optim/sgd.h"
