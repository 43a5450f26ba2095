// Training checkpoints: each part's state under its prefix ("model.", "optimizer.",
// "scheduler.") in one safetensors file; scalars in the metadata.
#include "taesan/optim/checkpoint.h"

#include <cerrno>
#include <cstdlib>

#include "taesan/core/random.h"
#include "taesan/nn/safetensors.h"

namespace taesan::optim {
namespace {

constexpr const char* kFormat = "taesan.training_checkpoint.v1";

/// Entries of `all` whose names start with `prefix`, with the prefix removed.
template <typename Map>
Map strip(const Map& all, const std::string& prefix) {
  Map out;
  for (const auto& [k, v] : all)
    if (k.rfind(prefix, 0) == 0) out.insert(out.end(), {k.substr(prefix.size()), v});
  return out;
}

uint64_t parse_u64(const std::string& text, const std::string& what, const std::string& path) {
  TS_CHECK(!text.empty() && text.size() <= 20 &&
               text.find_first_not_of("0123456789") == std::string::npos,
           "load_checkpoint: {}: {} must be an unsigned integer, got \"{}\"", path, what, text);
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  TS_CHECK(errno != ERANGE, "load_checkpoint: {}: {} = {} is out of range", path, what, text);
  return v;
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  TS_CHECK(checkpoint.step >= 0, "save_checkpoint: expected step >= 0, got {}", checkpoint.step);
  nn::NamedTensors tensors;
  safetensors::Metadata metadata;
  metadata["format"] = kFormat;
  metadata["step"] = std::to_string(checkpoint.step);
  const RngState rng = get_rng_state();
  metadata["rng.seed"] = std::to_string(rng.seed);
  metadata["rng.offset"] = std::to_string(rng.offset);
  for (const auto& [k, v] : checkpoint.extra) metadata["extra." + k] = v;
  if (checkpoint.model) {
    metadata["has.model"] = "true";
    for (const auto& [n, t] : checkpoint.model->state_dict()) tensors.emplace_back("model." + n, t);
  }
  if (checkpoint.optimizer) {
    metadata["has.optimizer"] = "true";
    StateDict s = checkpoint.optimizer->state_dict();
    for (auto& [n, t] : s.tensors) tensors.emplace_back("optimizer." + n, std::move(t));
    for (const auto& [k, v] : s.metadata) metadata["optimizer." + k] = v;
  }
  if (checkpoint.scheduler) {
    metadata["has.scheduler"] = "true";
    StateDict s = checkpoint.scheduler->state_dict();
    for (const auto& [k, v] : s.metadata) metadata["scheduler." + k] = v;
  }
  safetensors::save(path, tensors, metadata);
}

void load_checkpoint(const std::string& path, Checkpoint& checkpoint) {
  safetensors::Contents file = safetensors::load(path);
  const auto& md = file.metadata;
  auto format = md.find("format");
  TS_CHECK(format != md.end() && format->second == kFormat,
           "load_checkpoint: {} is not a taesan training checkpoint (metadata format is \"{}\", "
           "expected \"{}\"); for a module's weights use ts::load",
           path, format == md.end() ? "" : format->second, kFormat);
  for (const auto& [n, t] : file.tensors)
    TS_CHECK(n.rfind("model.", 0) == 0 || n.rfind("optimizer.", 0) == 0,
             "load_checkpoint: {}: unexpected tensor '{}'", path, n);
  auto require_part = [&](const char* part, bool wanted) {
    TS_CHECK(!wanted || md.count(std::string("has.") + part),
             "load_checkpoint: {} holds no {} state", path, part);
  };
  require_part("model", checkpoint.model != nullptr);
  require_part("optimizer", checkpoint.optimizer != nullptr);
  require_part("scheduler", checkpoint.scheduler != nullptr);

  auto req = [&](const std::string& key) -> const std::string& {
    return detail::require(md, key, ("load_checkpoint: " + path).c_str());
  };
  const uint64_t step = parse_u64(req("step"), "step", path);
  TS_CHECK(step <= static_cast<uint64_t>(INT64_MAX), "load_checkpoint: {}: step {} too large", path,
           step);
  const RngState rng{parse_u64(req("rng.seed"), "rng.seed", path),
                     parse_u64(req("rng.offset"), "rng.offset", path)};

  // Check every part before changing anything.
  const nn::NamedTensors model_state = strip(file.tensors, "model.");
  StateDict optimizer_state{strip(file.tensors, "optimizer."), strip(md, "optimizer.")};
  StateDict scheduler_state{{}, strip(md, "scheduler.")};
  if (checkpoint.model) {
    const nn::LoadResult r = checkpoint.model->check_state_dict(model_state);
    TS_CHECK(r.ok(), "load_checkpoint: {}: the model does not match: {}", path, r.summary());
  }
  if (checkpoint.optimizer) checkpoint.optimizer->check_state_dict(optimizer_state);
  if (checkpoint.scheduler) checkpoint.scheduler->check_state_dict(scheduler_state);

  if (checkpoint.model) checkpoint.model->load_state_dict(model_state);
  if (checkpoint.optimizer) checkpoint.optimizer->load_state_dict(optimizer_state);
  if (checkpoint.scheduler) checkpoint.scheduler->load_state_dict(scheduler_state);
  checkpoint.step = static_cast<int64_t>(step);
  checkpoint.extra = strip(md, "extra.");
  set_rng_state(rng);
}

}  // namespace taesan::optim
