// ts::save / ts::load: a module's parameters and persistent buffers as a safetensors file, under
// their dotted PyTorch names, so checkpoints map one to one onto PyTorch state dicts.
#pragma once

#include <memory>
#include <string>

#include "taesan/nn/module.h"
#include "taesan/nn/safetensors.h"

namespace taesan {

/// Writes module.state_dict() (plus `metadata`) to `path` atomically.
void save(const nn::Module& module, const std::string& path,
          const safetensors::Metadata& metadata = {});
void save(const std::shared_ptr<nn::Module>& module, const std::string& path,
          const safetensors::Metadata& metadata = {});

/// Loads a safetensors file into the module. With strict (the default) the names and shapes must
/// match exactly, else a ts::Error names every missing, unexpected and mismatched tensor and the
/// module is unchanged; with strict = false the matching tensors are loaded and the rest are
/// reported in the result (what transfer learning needs).
nn::LoadResult load(nn::Module& module, const std::string& path, bool strict = true);
nn::LoadResult load(const std::shared_ptr<nn::Module>& module, const std::string& path,
                    bool strict = true);

}  // namespace taesan
