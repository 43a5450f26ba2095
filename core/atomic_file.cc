// write_file_atomic (see atomic_file.h): POSIX open/write/fsync/rename, with the temporary file
// removed on every failure path.
#include "taesan/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "taesan/core/error.h"

namespace taesan {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

/// Creates a temporary file beside `path` that did not exist before (O_EXCL, so a stale file
/// of another process is never reused); returns its descriptor and sets `tmp` to its name.
int create_temporary(const std::string& path, std::string_view caller, std::string& tmp) {
  static std::atomic<uint64_t> counter{0};
  for (int attempt = 0;; ++attempt) {
    tmp = fmt::format("{}.tmp-{}-{}", path, static_cast<long>(::getpid()), counter++);
    // 0666 and the umask, as for any ordinary file (std::ofstream creates files the same way).
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    const int err = errno;
    if (err == EEXIST && attempt < 100) continue;
    fail("{}: cannot create the temporary file '{}' to write '{}': {}", caller, tmp, path,
         errno_text(err));
  }
}

void write_all(int fd, const char* data, size_t n, const std::string& path,
               std::string_view caller) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = w < 0 ? errno : EIO;
      fail("{}: writing '{}' failed: {}", caller, path, errno_text(err));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

void write_file_atomic_stream(const std::string& path,
                              const std::function<void(const ByteSink&)>& produce,
                              std::string_view caller) {
  TS_CHECK(!path.empty(), "{}: the path is empty", caller);
  std::string tmp;
  int fd = create_temporary(path, caller, tmp);
  try {
    produce([&](const char* data, size_t n) { write_all(fd, data, n, path, caller); });
    if (::fsync(fd) != 0) fail("{}: fsync of '{}' failed: {}", caller, tmp, errno_text(errno));
    const int closed = ::close(fd);
    fd = -1;  // closed even when close reports an error: never close it twice
    if (closed != 0) fail("{}: closing '{}' failed: {}", caller, tmp, errno_text(errno));
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      fail("{}: cannot rename '{}' to '{}': {}", caller, tmp, path, errno_text(errno));
  } catch (...) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  const int dir = ::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);  // makes the rename durable; a failure here cannot corrupt either file
    ::close(dir);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes, std::string_view caller) {
  write_file_atomic_stream(
      path, [&](const ByteSink& sink) { sink(bytes.data(), bytes.size()); }, caller);
}

}  // namespace taesan
