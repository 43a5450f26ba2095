// The OpInfo table of the ops tests: every op of ops/op_list.h with the functions and inputs it
// is gradchecked on, and the input layouts each case is run in (plain, transposed, sliced with a
// step, expanded). gradcheck_table.cc holds the table, gradcheck_layouts.cc the layouts.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "taesan/autograd/gradcheck.h"
#include "taesan/autograd/tensor.h"

namespace taesan::test {

/// How a case's tensors are laid out in memory when it is run.
enum class Layout {
  kPlain,       // as the case made them
  kTransposed,  // every tensor's dims stored in reverse order; the output's gradient too
  kSliced,      // every dim taken with step 2 from offset 1 of a buffer of sentinels (NaN, an
                // out-of-range index); the output's gradient arrives with step 2 as well
  kExpanded,    // each differentiable input a stride-0 expansion of one slice along its first
                // dim of size > 1 (the leaf gradcheck perturbs is that slice)
};
inline constexpr Layout kLayouts[] = {Layout::kPlain, Layout::kTransposed, Layout::kSliced,
                                      Layout::kExpanded};
const char* layout_name(Layout layout);

/// One gradcheck case of one op.
struct OpCase {
  std::string op;       // name in ops/op_list.h
  std::string variant;  // what this case exercises
  TensorFunction fn;    // applies the op to its inputs directly, so the op sees their layout
  std::function<TensorList()> make_inputs;  // fresh inputs, index and mask tensors included
  bool broadcast = false;   // the op broadcasts inputs of different shapes against each other
  std::string no_gradgrad;  // why gradgradcheck does not apply ("": it runs)
  std::map<Layout, std::string> skip;  // layouts this case cannot take, and why
  GradcheckOptions options{};
};

/// Every case of the table.
std::vector<OpCase> op_cases();

/// A case in one layout: the tensors gradcheck gets and the function of them.
struct LayoutCase {
  Layout layout;
  TensorList inputs;
  /// The op's inputs from `inputs` (expands them in the expanded layout).
  std::function<TensorList(const TensorList&)> op_inputs;
  /// What gradcheck checks: the case's function of op_inputs(inputs), its output relaid out
  /// so that the gradient reaching the op has the layout too.
  TensorFunction fn;
};

/// The case in `layout`, its floating-point inputs converted to `dtype`; nullopt when the case
/// skips the layout, or when the layout leaves every differentiable input as it was (no
/// non-contiguous, or no stride-0, tensor can be made of it).
std::optional<LayoutCase> in_layout(const OpCase& c, Layout layout, DType dtype = kFloat64);

/// Largest |a - b| / max(|b|, 1) over two outputs of the same shape (NaN against a number counts
/// as infinitely wrong, NaN against NaN as equal); infinity when the shapes differ.
double max_rel_diff(const Tensor& a, const Tensor& b);

}  // namespace taesan::test
