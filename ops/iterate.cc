// Row plans and the parallel row walker (see iterate.h).
#include "taesan/ops/iterate.h"

#include "taesan/core/parallel.h"

namespace taesan::ops {

Shape broadcast_strides(const Tensor& t, const Shape& shape) {
  Shape out(shape.size(), 0);
  const int64_t off = static_cast<int64_t>(shape.size()) - t.dim();
  for (int64_t d = 0; d < t.dim(); ++d)
    out[off + d] = t.shape()[d] == 1 && shape[off + d] != 1 ? 0 : t.strides()[d];
  return out;
}

RowPlan plan_rows(const Shape& shape, const std::vector<Shape>& strides) {
  const size_t k = strides.size();
  // Drop size-1 dims, then merge dim i into i+1 when every operand is dense across them.
  Shape sizes;
  std::vector<Shape> st(k);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    sizes.push_back(shape[d]);
    for (size_t j = 0; j < k; ++j) st[j].push_back(strides[j][d]);
  }
  Shape msizes;
  std::vector<Shape> mst(k);
  for (size_t d = 0; d < sizes.size(); ++d) {
    bool merge = !msizes.empty();
    for (size_t j = 0; j < k && merge; ++j) merge = mst[j].back() == st[j][d] * sizes[d];
    if (merge) {
      msizes.back() *= sizes[d];
      for (size_t j = 0; j < k; ++j) mst[j].back() = st[j][d];
    } else {
      msizes.push_back(sizes[d]);
      for (size_t j = 0; j < k; ++j) mst[j].push_back(st[j][d]);
    }
  }
  RowPlan plan;
  plan.outer_strides.resize(k);
  plan.inner_stride.assign(k, 1);
  if (msizes.empty()) {
    plan.inner = shape_numel(shape);  // 1 element, or 0 when some dim is 0
    return plan;
  }
  plan.inner = msizes.back();
  for (size_t j = 0; j < k; ++j) plan.inner_stride[j] = mst[j].back();
  plan.outer_shape.assign(msizes.begin(), msizes.end() - 1);
  for (size_t j = 0; j < k; ++j) plan.outer_strides[j].assign(mst[j].begin(), mst[j].end() - 1);
  return plan;
}

void for_each_row(const RowPlan& plan, int64_t grain_rows,
                  const std::function<void(const int64_t* offsets)>& fn) {
  const int64_t rows = plan.rows();
  const size_t k = plan.outer_strides.size();
  const size_t nd = plan.outer_shape.size();
  if (plan.inner == 0 || rows == 0) return;
  parallel_for(rows, grain_rows, [&](int64_t begin, int64_t end) {
    Shape index(nd, 0);
    std::vector<int64_t> offsets(k, 0);
    int64_t rem = begin;
    for (size_t d = nd; d-- > 0;) {
      index[d] = rem % plan.outer_shape[d];
      rem /= plan.outer_shape[d];
      for (size_t j = 0; j < k; ++j) offsets[j] += index[d] * plan.outer_strides[j][d];
    }
    for (int64_t r = begin; r < end; ++r) {
      fn(offsets.data());
      for (size_t d = nd; d-- > 0;) {
        if (++index[d] < plan.outer_shape[d]) {
          for (size_t j = 0; j < k; ++j) offsets[j] += plan.outer_strides[j][d];
          break;
        }
        for (size_t j = 0; j < k; ++j) offsets[j] -= plan.outer_strides[j][d] * (plan.outer_shape[d] - 1);
        index[d] = 0;
      }
    }
  });
}

}  // namespace taesan::ops
