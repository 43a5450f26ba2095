// Module checkpoints through the safetensors reader and writer.
#include "taesan/nn/serialize.h"

namespace taesan {

void save(const nn::Module& module, const std::string& path,
          const safetensors::Metadata& metadata) {
  safetensors::save(path, module.state_dict(), metadata);
}

void save(const std::shared_ptr<nn::Module>& module, const std::string& path,
          const safetensors::Metadata& metadata) {
  TS_CHECK(module != nullptr, "save: the module is null (path {})", path);
  save(*module, path, metadata);
}

nn::LoadResult load(nn::Module& module, const std::string& path, bool strict) {
  safetensors::Contents contents = safetensors::load(path);
  nn::LoadResult result = module.check_state_dict(contents.tensors);
  TS_CHECK(!strict || result.ok(), "load: {} does not match {}: {}", path, module.name(),
           result.summary());
  module.load_state_dict(contents.tensors, /*strict=*/false);
  return result;
}

nn::LoadResult load(const std::shared_ptr<nn::Module>& module, const std::string& path,
                    bool strict) {
  TS_CHECK(module != nullptr, "load: the module is null (path {})", path);
  return load(*module, path, strict);
}

}  // namespace taesan
