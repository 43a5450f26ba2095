// Storage: a shared, 64-byte aligned byte buffer that tensors view, with the version counter
// that autograd uses to detect in-place changes of saved tensors. Buffers come from a caching
// allocator so that steady-state training asks the OS for nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace taesan {

/// Alignment of every storage buffer, in bytes.
inline constexpr size_t kStorageAlignment = 64;

/// A reference-counted buffer (held by std::shared_ptr). Views of one storage share its version.
class Storage {
 public:
  /// Allocates `nbytes` (uninitialised) from the caching allocator.
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

  /// Incremented by every in-place write through any view of this storage.
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_;
  size_t nbytes_;
  size_t capacity_;
  std::atomic<uint64_t> version_{0};
};

/// Statistics of the caching allocator.
struct AllocatorStats {
  size_t bytes_in_use = 0;  ///< held by live storages
  size_t bytes_cached = 0;  ///< freed by storages, kept for reuse
  size_t peak_bytes_in_use = 0;
  uint64_t os_allocations = 0;  ///< calls that went to the OS
};

/// Current allocator statistics.
AllocatorStats allocator_stats();

/// Returns every cached (unused) buffer to the OS.
void empty_cache();

}  // namespace taesan
