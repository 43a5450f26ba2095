// Atomic file writes: every file the library writes (weights, checkpoints, tokenizer.json, label
// lists, logs, charts) goes to a temporary file beside its target, is fsynced and renamed over
// the target, so a reader or a crash sees either the old file or the whole new one, never a part.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace taesan {

/// Appends `n` bytes to the file being written (throws ts::Error when the write fails).
using ByteSink = std::function<void(const char* data, size_t n)>;

/// Writes `bytes` to `path` atomically: a new temporary file in the same directory
/// (`<path>.tmp-<pid>-<n>`), written, fsynced, renamed over `path`, then the directory fsynced.
/// On any failure the temporary file is removed, `path` keeps its previous contents, and a
/// ts::Error names `caller`, the path and the system's reason (e.g. "No space left on device").
/// The parent directory must exist.
void write_file_atomic(const std::string& path, std::string_view bytes,
                       std::string_view caller = "write_file_atomic");

/// The streaming form: `produce` is called once with a sink that appends to the temporary file
/// (for contents too large to hold twice in memory). When `produce` throws, the temporary file is
/// removed, `path` is untouched and the exception propagates unchanged.
void write_file_atomic_stream(const std::string& path,
                              const std::function<void(const ByteSink&)>& produce,
                              std::string_view caller = "write_file_atomic");

}  // namespace taesan
