// Sequential and ModuleList (see container.h).
#include "taesan/nn/container.h"

namespace taesan::nn {

Tensor Sequential::forward(const Tensor& x) const {
  Tensor y = x;
  for (const auto& f : forwards_) y = f(y);
  return y;
}

std::shared_ptr<Module> Sequential::operator[](size_t i) const {
  const auto kids = named_children();
  TS_CHECK(i < kids.size(), "Sequential: index {} out of range (size {})", i, kids.size());
  return kids[i].second;
}

std::shared_ptr<Module> ModuleList::operator[](int64_t i) const {
  const int64_t n = static_cast<int64_t>(modules_.size());
  TS_CHECK(i >= -n && i < n, "ModuleList: index {} out of range (size {})", i, n);
  return modules_[static_cast<size_t>(i < 0 ? i + n : i)];
}

}  // namespace taesan::nn
