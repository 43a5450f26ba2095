// Caching allocator behind Storage: buffers are rounded up to size classes (powers of two
// split into four steps) and kept in per-class free lists when released, so that the same
// shapes in the next training step reuse them without touching the OS.
#include "taesan/core/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "taesan/core/error.h"

namespace taesan {
namespace {

// Cached bytes beyond this are returned to the OS on release.
constexpr size_t kMaxCachedBytes = size_t{4} << 30;

size_t size_class(size_t nbytes) {
  if (nbytes <= 256) return 256;
  size_t p = 1;
  while (p < nbytes) p <<= 1;
  size_t step = p / 8;  // four steps between p/2 and p
  return (nbytes + step - 1) / step * step;
}

class CachingAllocator {
 public:
  void* allocate(size_t capacity) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.bytes_in_use += capacity;
      stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
      auto it = free_.find(capacity);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.bytes_cached -= capacity;
        return p;
      }
      ++stats_.os_allocations;
    }
    void* p = std::aligned_alloc(kStorageAlignment, capacity);
    if (p == nullptr) {
      empty();
      p = std::aligned_alloc(kStorageAlignment, capacity);
    }
    if (p == nullptr) {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.bytes_in_use -= capacity;
      fail("Storage: out of memory allocating {} bytes", capacity);
    }
    return p;
  }

  void release(void* p, size_t capacity) {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= capacity;
    if (stats_.bytes_cached + capacity > kMaxCachedBytes) {
      std::free(p);
      return;
    }
    free_[capacity].push_back(p);
    stats_.bytes_cached += capacity;
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [cap, list] : free_)
      for (void* p : list) std::free(p);
    free_.clear();
    stats_.bytes_cached = 0;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

CachingAllocator& allocator() {
  static auto* a = new CachingAllocator();  // never destroyed: storages may outlive statics
  return *a;
}

}  // namespace

Storage::Storage(size_t nbytes) : nbytes_(nbytes), capacity_(size_class(nbytes)) {
  data_ = allocator().allocate(capacity_);
}

Storage::~Storage() { allocator().release(data_, capacity_); }

AllocatorStats allocator_stats() { return allocator().stats(); }

void empty_cache() { allocator().empty(); }

}  // namespace taesan
