// The safetensors format (what PyTorch and Hugging Face tools read and write): an 8-byte
// little-endian header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets"},
// "__metadata__": {string: string}}, then the raw little-endian tensor bytes. Writes are atomic
// (temporary file, fsync, rename); reads check every field before trusting it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "taesan/autograd/tensor.h"
#include "taesan/nn/module.h"

namespace taesan::safetensors {

/// The optional "__metadata__" map of a file.
using Metadata = std::map<std::string, std::string>;

/// Largest header accepted (the reference implementation's limit).
inline constexpr uint64_t kMaxHeaderSize = 100'000'000;

/// One tensor entry of a header; offsets are relative to the start of the data section.
struct TensorInfo {
  std::string name;
  DType dtype = kFloat32;
  Shape shape;
  uint64_t data_begin = 0;  ///< first byte, from the start of the data section
  uint64_t data_end = 0;    ///< one past the last byte
};

/// A validated header: entries sorted by data offset, metadata, and where the data starts.
struct Header {
  std::vector<TensorInfo> tensors;  ///< sorted by data_begin
  Metadata metadata;
  uint64_t data_start = 0;  ///< byte offset of the data section in the file (8 + N)
  uint64_t data_size = 0;   ///< bytes of the data section
};

/// Tensors (in file order) and metadata of a file.
struct Contents {
  nn::NamedTensors tensors;
  Metadata metadata;
  /// The tensor called `name`, or an undefined tensor.
  Tensor find(const std::string& name) const;
};

/// The dtype string of the format: "F32", "F64", "BF16", "I64", "BOOL".
std::string_view dtype_code(DType dtype);

/// Writes `tensors` (any layout; names unique, not "__metadata__") and `metadata` to `path`
/// atomically: a crash mid-write leaves any previous file at `path` intact.
void save(const std::string& path, const nn::NamedTensors& tensors, const Metadata& metadata = {});
/// The bytes save() would write.
std::string save_to_bytes(const nn::NamedTensors& tensors, const Metadata& metadata = {});

/// Reads and validates only the header of a file.
Header read_header(const std::string& path);
/// Reads a whole file. Throws ts::Error naming the file and the problem for any malformed input:
/// short or oversized header, invalid JSON, unknown dtypes, offsets outside the data, overlapping
/// or leaving gaps, byte counts that do not match shapes, bool bytes other than 0/1.
Contents load(const std::string& path);
/// load() from bytes in memory; `source` names them in error messages.
Contents load_from_bytes(std::string_view bytes, const std::string& source = "<memory>");

}  // namespace taesan::safetensors
