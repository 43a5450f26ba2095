// The nn/ layer in one include: Module, layers, containers, init, checkpoints.
#pragma once

#include "taesan/nn/activation.h"
#include "taesan/nn/container.h"
#include "taesan/nn/dropout.h"
#include "taesan/nn/embedding.h"
#include "taesan/nn/init.h"
#include "taesan/nn/linear.h"
#include "taesan/nn/module.h"
#include "taesan/nn/normalization.h"
#include "taesan/nn/safetensors.h"
#include "taesan/nn/serialize.h"
