// The process-wide thread pool. Work is split into chunks whose results never depend on how
// many threads run them: callers compute each output element in one place, and reductions
// use fixed-size blocks combined in a fixed order, so results are bit-identical for any count.
#pragma once

#include <cstdint>
#include <functional>

namespace taesan {

/// Sets the number of threads (>= 1) used by kernels. Default: hardware concurrency.
void set_num_threads(int n);

/// Current number of threads.
int get_num_threads();

/// Runs fn(begin, end) over [0, n) split into at most get_num_threads() contiguous chunks of at
/// least `grain` items. Runs inline when n <= grain, on one thread, or inside another
/// parallel_for. Exceptions thrown by fn are rethrown on the calling thread.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace taesan
