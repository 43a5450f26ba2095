// safetensors reader and writer (see safetensors.h). The header is parsed with nlohmann::json;
// every field is checked against the file before any tensor byte is read.
#include "taesan/nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_set>

#include "taesan/core/atomic_file.h"

namespace taesan::safetensors {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

/// Reads `n` bytes at `offset` of the source into `dst`.
using ReadAt = std::function<void(uint64_t offset, size_t n, void* dst)>;

void byteswap_elements(void* data, size_t count, size_t element_size) {
  if constexpr (std::endian::native == std::endian::little) return;
  auto* bytes = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < count; ++i)
    std::reverse(bytes + i * element_size, bytes + (i + 1) * element_size);
}

uint64_t decode_u64_le(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

std::string encode_u64_le(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

std::optional<DType> parse_dtype(const std::string& code) {
  if (code == "F32") return kFloat32;
  if (code == "F64") return kFloat64;
  if (code == "I64") return kInt64;
  if (code == "BOOL") return kBool;
  if (code == "BF16") return kBFloat16;  // PyTorch / Hugging Face bfloat16: 2 bytes, LE
  return std::nullopt;
}

bool is_known_unsupported(const std::string& code) {
  static const std::set<std::string> known = {
      "F16",     "I8",      "U8",  "I16", "U16",     "I32",     "U32",  "U64",
      "F8_E4M3", "F8_E5M2", "C64", "F4",  "F6_E2M3", "F6_E3M2", "E8M0", "F8_E8M0"};
  return known.count(code) > 0;
}

// A JSON value for an error message: scalars as written, arrays and objects by their type only
// (dumping a deeply nested value recurses once per level and can overflow the stack).
std::string json_brief(const Json& v) { return v.is_structured() ? v.type_name() : v.dump(); }

/// Reads a JSON unsigned integer that must fit in int64.
uint64_t json_uint(const Json& v, const std::string& src, const std::string& name,
                   const char* field) {
  TS_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0),
           "safetensors: {}: tensor '{}': {} must hold non-negative integers, got {}", src, name,
           field, json_brief(v));
  const uint64_t u = v.get<uint64_t>();
  TS_CHECK(u <= static_cast<uint64_t>(INT64_MAX),
           "safetensors: {}: tensor '{}': {} value {} is too large", src, name, field, u);
  return u;
}

Header parse_header(std::string_view text, uint64_t data_start, uint64_t data_size,
                    const std::string& src) {
  TS_CHECK(!text.empty() && text.front() == '{',
           "safetensors: {}: the header does not start with '{{' (not a safetensors file, or "
           "corrupt)",
           src);
  // Duplicate top-level names would silently replace each other in the parsed object.
  std::unordered_set<std::string> seen;
  std::string duplicate;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json j;
  try {
    j = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::exception& e) {
    fail("safetensors: {}: the {}-byte header is not valid JSON: {}", src, text.size(), e.what());
  }
  TS_CHECK(duplicate.empty(), "safetensors: {}: the header names '{}' twice", src, duplicate);
  TS_CHECK(j.is_object(), "safetensors: {}: the header must be a JSON object, got {}", src,
           j.type_name());

  Header header;
  header.data_start = data_start;
  header.data_size = data_size;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const Json& v = it.value();
    if (name == "__metadata__") {
      TS_CHECK(v.is_object(), "safetensors: {}: __metadata__ must be an object of strings, got {}",
               src, v.type_name());
      for (auto m = v.begin(); m != v.end(); ++m) {
        TS_CHECK(m.value().is_string(),
                 "safetensors: {}: __metadata__ value of '{}' must be a string, got {}", src,
                 m.key(), json_brief(m.value()));
        header.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    TS_CHECK(v.is_object(), "safetensors: {}: entry '{}' must be an object, got {}", src, name,
             v.type_name());
    TensorInfo info;
    info.name = name;
    auto dtype_it = v.find("dtype");
    TS_CHECK(dtype_it != v.end() && dtype_it->is_string(),
             "safetensors: {}: tensor '{}' has no string \"dtype\"", src, name);
    const std::string code = dtype_it->get<std::string>();
    std::optional<DType> dtype = parse_dtype(code);
    TS_CHECK(dtype.has_value(),
             "safetensors: {}: tensor '{}' has {} dtype \"{}\" (taesan reads F32, "
             "F64, BF16, I64 and BOOL)",
             src, name, is_known_unsupported(code) ? "unsupported" : "unknown", code);
    info.dtype = *dtype;

    auto shape_it = v.find("shape");
    TS_CHECK(shape_it != v.end() && shape_it->is_array(),
             "safetensors: {}: tensor '{}' has no \"shape\" array", src, name);
    TS_CHECK(shape_it->size() <= 64, "safetensors: {}: tensor '{}' has {} dims (at most 64)", src,
             name, shape_it->size());
    // Element count, with overflow detected against the largest possible byte count.
    unsigned __int128 numel = 1;
    for (const Json& d : *shape_it) {
      const uint64_t size = json_uint(d, src, name, "shape");
      info.shape.push_back(static_cast<int64_t>(size));
      numel *= size;
      if (numel > (static_cast<unsigned __int128>(1) << 64))
        numel = static_cast<unsigned __int128>(1) << 64;
    }

    auto off_it = v.find("data_offsets");
    TS_CHECK(off_it != v.end() && off_it->is_array() && off_it->size() == 2,
             "safetensors: {}: tensor '{}' needs \"data_offsets\": [begin, end]", src, name);
    info.data_begin = json_uint((*off_it)[0], src, name, "data_offsets");
    info.data_end = json_uint((*off_it)[1], src, name, "data_offsets");
    TS_CHECK(info.data_begin <= info.data_end && info.data_end <= data_size,
             "safetensors: {}: tensor '{}' has data_offsets [{}, {}] outside the {}-byte data "
             "section",
             src, name, info.data_begin, info.data_end, data_size);
    const unsigned __int128 expected = numel * element_size(info.dtype);
    TS_CHECK(
        expected == info.data_end - info.data_begin,
        "safetensors: {}: tensor '{}' ({} {}) needs {} bytes but data_offsets [{}, {}] hold {}",
        src, name, code, shape_str(info.shape),
        static_cast<uint64_t>(std::min<unsigned __int128>(expected, UINT64_MAX)), info.data_begin,
        info.data_end, info.data_end - info.data_begin);
    header.tensors.push_back(std::move(info));
  }

  std::sort(header.tensors.begin(), header.tensors.end(), [](const auto& a, const auto& b) {
    return std::tie(a.data_begin, a.data_end, a.name) < std::tie(b.data_begin, b.data_end, b.name);
  });
  uint64_t cursor = 0;
  for (const TensorInfo& t : header.tensors) {
    TS_CHECK(t.data_begin >= cursor,
             "safetensors: {}: tensor '{}' (bytes [{}, {}]) overlaps the previous tensor, which "
             "ends at {}",
             src, t.name, t.data_begin, t.data_end, cursor);
    TS_CHECK(t.data_begin == cursor,
             "safetensors: {}: {} bytes before tensor '{}' (bytes [{}, {}]) belong to no tensor",
             src, t.data_begin - cursor, t.name, t.data_begin, t.data_end);
    cursor = t.data_end;
  }
  TS_CHECK(cursor == data_size,
           "safetensors: {}: the data section has {} bytes but the tensors cover {} (trailing "
           "bytes, or a corrupt header)",
           src, data_size, cursor);
  return header;
}

Header parse_file_start(uint64_t file_size, const ReadAt& read_at, const std::string& src) {
  TS_CHECK(file_size >= 8,
           "safetensors: {}: the file has {} bytes, fewer than the 8-byte header length", src,
           file_size);
  unsigned char len_bytes[8];
  read_at(0, 8, len_bytes);
  const uint64_t n = decode_u64_le(len_bytes);
  TS_CHECK(n > 0, "safetensors: {}: the header length is 0", src);
  TS_CHECK(n <= kMaxHeaderSize,
           "safetensors: {}: the header length {} exceeds the limit of {} bytes (corrupt file?)",
           src, n, kMaxHeaderSize);
  TS_CHECK(n <= file_size - 8,
           "safetensors: {}: the header length {} exceeds the {} bytes after the length field "
           "(truncated or corrupt file)",
           src, n, file_size - 8);
  std::string text(n, '\0');
  read_at(8, n, text.data());
  return parse_header(text, 8 + n, file_size - 8 - n, src);
}

Contents read_contents(const Header& header, const ReadAt& read_at, const std::string& src) {
  Contents out;
  out.metadata = header.metadata;
  for (const TensorInfo& info : header.tensors) {
    Tensor t = Tensor::make_empty(info.shape, info.dtype);
    const size_t nbytes = info.data_end - info.data_begin;
    if (nbytes > 0) read_at(header.data_start + info.data_begin, nbytes, t.raw_data());
    byteswap_elements(t.raw_data(), static_cast<size_t>(t.numel()), t.element_size());
    if (info.dtype == kBool) {
      const auto* b = static_cast<const unsigned char*>(t.raw_data());
      for (size_t i = 0; i < nbytes; ++i)
        TS_CHECK(b[i] <= 1, "safetensors: {}: bool tensor '{}' holds byte {} at element {}", src,
                 info.name, static_cast<int>(b[i]), i);
    }
    out.tensors.emplace_back(info.name, std::move(t));
  }
  return out;
}

// ---- writing ----

struct Plan {
  std::string prefix;  // length field + padded header
  std::vector<const std::pair<std::string, Tensor>*> order;
};

Plan plan(const nn::NamedTensors& tensors, const Metadata& metadata, const char* fn) {
  std::unordered_set<std::string> names;
  Plan p;
  for (const auto& entry : tensors) {
    TS_CHECK(entry.first != "__metadata__",
             "{}: '__metadata__' is reserved and cannot name a tensor", fn);
    TS_CHECK(names.insert(entry.first).second, "{}: the name '{}' is used twice", fn, entry.first);
    TS_CHECK(entry.second.defined(), "{}: tensor '{}' is undefined", fn, entry.first);
    p.order.push_back(&entry);
  }
  // Larger elements first, so that every tensor's data is aligned to its element size.
  std::stable_sort(p.order.begin(), p.order.end(), [](const auto* a, const auto* b) {
    return a->second.element_size() > b->second.element_size();
  });
  OrderedJson header = OrderedJson::object();
  if (!metadata.empty()) {
    OrderedJson m = OrderedJson::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  uint64_t offset = 0;
  for (const auto* entry : p.order) {
    const Tensor& t = entry->second;
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[entry->first] = {{"dtype", std::string(dtype_code(t.dtype()))},
                            {"shape", t.shape()},
                            {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const OrderedJson::exception& e) {
    fail("{}: cannot encode the header (names and metadata must be valid UTF-8): {}", fn, e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  p.prefix = encode_u64_le(text.size()) + text;
  return p;
}

void write_tensor(const Tensor& t, const ByteSink& sink) {
  const size_t es = t.element_size();
  if (t.numel() == 0) return;
  if (t.is_contiguous() && std::endian::native == std::endian::little) {
    sink(static_cast<const char*>(t.raw_data()), static_cast<size_t>(t.numel()) * es);
    return;
  }
  constexpr size_t kChunk = 1 << 20;
  std::vector<char> buffer;
  buffer.reserve(kChunk + es);
  const char* base = static_cast<const char*>(t.raw_data());
  auto flush = [&] {
    byteswap_elements(buffer.data(), buffer.size() / es, es);
    sink(buffer.data(), buffer.size());
    buffer.clear();
  };
  if (t.is_contiguous()) {
    for (int64_t i = 0; i < t.numel(); ++i) {
      buffer.insert(buffer.end(), base + i * es, base + (i + 1) * es);
      if (buffer.size() >= kChunk) flush();
    }
  } else {
    for (StridedWalker w(t.shape(), {&t.strides()}); !w.done(); w.next()) {
      const char* e = base + w.offset(0) * static_cast<int64_t>(es);
      buffer.insert(buffer.end(), e, e + es);
      if (buffer.size() >= kChunk) flush();
    }
  }
  if (!buffer.empty()) flush();
}

std::string errno_text() { return std::strerror(errno); }

/// A file open for reading, closed on destruction.
class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    TS_CHECK(fd_ >= 0, "safetensors::load: cannot open {}: {}", path, errno_text());
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      fail("safetensors::load: {} is not a regular file", path);
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  void read_at(uint64_t offset, size_t n, void* dst) const {
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      const ssize_t r = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (r < 0 && errno == EINTR) continue;
      TS_CHECK(r >= 0, "safetensors::load: reading {} failed: {}", path_, errno_text());
      TS_CHECK(r > 0, "safetensors::load: {} ended early at byte {} (it shrank while being read?)",
               path_, offset);
      out += r;
      offset += static_cast<uint64_t>(r);
      n -= static_cast<size_t>(r);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace

Tensor Contents::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  return Tensor();
}

std::string_view dtype_code(DType dtype) {
  switch (dtype) {
    case DType::Float32:
      return "F32";
    case DType::Float64:
      return "F64";
    case DType::Int64:
      return "I64";
    case DType::Bool:
      return "BOOL";
    case DType::BFloat16:
      return "BF16";
  }
  fail("safetensors: dtype {} has no safetensors code", static_cast<int>(dtype));
}

void save(const std::string& path, const nn::NamedTensors& tensors, const Metadata& metadata) {
  const Plan p = plan(tensors, metadata, "safetensors::save");
  write_file_atomic_stream(
      path,
      [&](const ByteSink& sink) {
        sink(p.prefix.data(), p.prefix.size());
        for (const auto* entry : p.order) write_tensor(entry->second, sink);
      },
      "safetensors::save");
}

std::string save_to_bytes(const nn::NamedTensors& tensors, const Metadata& metadata) {
  const Plan p = plan(tensors, metadata, "safetensors::save_to_bytes");
  std::string out = p.prefix;
  for (const auto* entry : p.order)
    write_tensor(entry->second, [&](const char* data, size_t n) { out.append(data, n); });
  return out;
}

Header read_header(const std::string& path) {
  InputFile file(path);
  return parse_file_start(
      file.size(), [&](uint64_t o, size_t n, void* dst) { file.read_at(o, n, dst); }, path);
}

Contents load(const std::string& path) {
  InputFile file(path);
  const ReadAt read_at = [&](uint64_t o, size_t n, void* dst) { file.read_at(o, n, dst); };
  const Header header = parse_file_start(file.size(), read_at, path);
  return read_contents(header, read_at, path);
}

Contents load_from_bytes(std::string_view bytes, const std::string& source) {
  const ReadAt read_at = [&](uint64_t o, size_t n, void* dst) {
    std::memcpy(dst, bytes.data() + o, n);  // ranges were checked against bytes.size()
  };
  const Header header = parse_file_start(bytes.size(), read_at, source);
  return read_contents(header, read_at, source);
}

}  // namespace taesan::safetensors
