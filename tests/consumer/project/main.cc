// The outside consumer's program: includes the umbrella header, builds a small graph, runs a
// backward and prints one number that run.sh checks.
//   loss = sum(x * x) + sum(w x),  w = ones(2, 3)  =>  dloss/dx = 2 x + 2  = [4, 6, 8]  (sum 18)
#include <cstdio>
#include <exception>
#include <vector>

#include <taesan/taesan.h>

namespace ts = taesan;

int main() {
  try {
    ts::Tensor x = ts::from_vector(std::vector<float>{1, 2, 3}, {3});
    x.requires_grad_();
    const ts::Tensor w = ts::ones({2, 3});
    const ts::Tensor loss = (x * x).sum() + ts::matmul(w, x).sum();
    loss.backward();
    std::printf("%g\n", x.grad().sum().item<double>());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
}
