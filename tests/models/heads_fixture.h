// The tiny encoder configuration and batch shared by the heads and ELECTRA tests.
#pragma once

#include <cstdint>

#include <taesan/taesan.h>

namespace heads_fixture {

/// vocab 30, context 16, d_model 8, 2 heads, d_ff 16, `layers` layers.
inline taesan::models::ModelConfig config(int64_t layers = 1) {
  taesan::models::ModelConfig c;
  c.vocab_size = 30;
  c.max_position = 16;
  c.d_model = 8;
  c.num_heads = 2;
  c.num_layers = layers;
  c.d_ff = 16;
  return c;
}

/// Two sequences of 5 tokens, the second padded (id 0) at its end.
inline taesan::Tensor ids() {
  return taesan::from_vector<int64_t>({2, 5, 6, 7, 3, 2, 8, 9, 3, 0}, {2, 5});
}
/// The attention mask of ids(): 1 = token, 0 = padding.
inline taesan::Tensor pad_mask() {
  return taesan::from_vector<int64_t>({1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {2, 5});
}

}  // namespace heads_fixture
