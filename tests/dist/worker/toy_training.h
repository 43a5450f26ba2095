// The toy training job shared by the dist tests and their worker program: a small MLP (plus a
// parameter no forward uses), deterministic batches per step, and SGD with momentum. The worker
// trains it data-parallel (each rank a slice of the batch); the test trains it in one process on
// the whole batch and compares the parameters.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "taesan/dist/dist.h"
#include <taesan/taesan.h>

namespace toy {

namespace ts = taesan;

/// Linear(8, 32) -> tanh -> Linear(32, 32) -> tanh -> Linear(32, 4), and an unused parameter.
struct ToyNet : ts::nn::Module {
  std::shared_ptr<ts::nn::Linear> fc1, fc2, fc3;
  ts::Tensor unused;
  ToyNet() {
    fc1 = register_module("fc1", std::make_shared<ts::nn::Linear>(8, 32));
    fc2 = register_module("fc2", std::make_shared<ts::nn::Linear>(32, 32));
    fc3 = register_module("fc3", std::make_shared<ts::nn::Linear>(32, 4));
    unused = register_parameter("unused", ts::randn({3}));
  }
  ts::Tensor forward(const ts::Tensor& x) {
    return fc3->forward(ts::tanh(fc2->forward(ts::tanh(fc1->forward(x)))));
  }
};

constexpr int64_t kFeatures = 8;
constexpr int64_t kClasses = 4;

/// The global batch of `step`: `rows` inputs (rows, 8) and class targets (rows).
inline std::pair<ts::Tensor, ts::Tensor> batch(int64_t step, int64_t rows) {
  ts::manual_seed(1000 + static_cast<uint64_t>(step));
  ts::Tensor x = ts::randn({rows, kFeatures});
  ts::Tensor y = ts::randint(0, kClasses, {rows});
  return {x, y};
}

/// Every parameter, flattened in registration order.
inline std::vector<float> flat_parameters(const ts::nn::Module& m) {
  std::vector<float> out;
  for (auto& p : m.parameters()) {
    auto v = p.contiguous().to_vector<float>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

/// The optimizer every run uses.
inline std::unique_ptr<ts::optim::SGD> make_optimizer(ts::nn::Module& m) {
  return std::make_unique<ts::optim::SGD>(m.parameters(),
                                          ts::optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
}

}  // namespace toy
