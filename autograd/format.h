// fmt::format("{}", tensor): values like PyTorch prints them, large tensors truncated with "...".
#pragma once

#include <fmt/format.h>

#include <string>

#include "taesan/autograd/tensor.h"

namespace taesan {
/// The printed form of a tensor (PyTorch-like; at most 3 leading and trailing items per dim
/// when it has more than 1000 elements).
std::string to_string(const Tensor& t);
}  // namespace taesan

template <>
struct fmt::formatter<taesan::Tensor> : fmt::formatter<std::string> {
  template <typename Ctx>
  auto format(const taesan::Tensor& t, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(taesan::to_string(t), ctx);
  }
};
