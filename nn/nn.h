// The nn/ layer in one include: Module, layers, containers, init, checkpoints.
#pragma once

#include "nn/activation.h"
#include "nn/container.h"
#include "nn/dropout.h"
#include "nn/embedding.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/module.h"
#include "nn/normalization.h"
#include "nn/safetensors.h"
#include "nn/serialize.h"
