// File reading for the loaders: whole files, lines, TSV rows with validated column counts and
// UTF-8, sentence splitting. Every error names the file, the line and the problem.
#include "taesan/data/text_io.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "taesan/core/error.h"
#include "taesan/data/unicode.h"

namespace taesan::data {

ProgressFn stderr_progress(int64_t every) {
  return [every](std::string_view stage, int64_t done, int64_t total) {
    if (every > 0 && done % every != 0 && done != total) return;
    if (total > 0) {
      fmt::print(stderr, "{}: {}/{}\n", stage, done, total);
    } else {
      fmt::print(stderr, "{}: {}\n", stage, done);
    }
  };
}

std::string read_file(const std::string& path, std::string_view caller) {
  std::error_code ec;
  TS_CHECK(!std::filesystem::is_directory(path, ec), "{}: '{}' is a directory (expected a file)",
           caller, path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open '{}': {}", caller, path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("{}: error while reading '{}'", caller, path);
  return std::move(ss).str();
}

namespace {

// Calls fn(line, line_number) for every line of `text` (1-based), '\r' stripped.
template <typename Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  int64_t number = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    fn(line, ++number);
    pos = end + 1;
  }
}

}  // namespace

std::vector<std::string> read_lines(const std::string& path, const ReadLinesOptions& options) {
  std::string text = read_file(path, "read_lines");
  TS_CHECK(!text.empty() || options.allow_empty_file, "read_lines: '{}' is empty (expected text)",
           path);
  std::vector<std::string> lines;
  for_each_line(text, [&](std::string_view line, int64_t) {
    if (options.skip_empty && line.empty()) return;
    lines.emplace_back(line);
  });
  return lines;
}

std::vector<std::string> split_tabs(std::string_view line) {
  std::vector<std::string> fields;
  size_t pos = 0;
  while (true) {
    size_t tab = line.find('\t', pos);
    if (tab == std::string_view::npos) {
      fields.emplace_back(line.substr(pos));
      return fields;
    }
    fields.emplace_back(line.substr(pos, tab - pos));
    pos = tab + 1;
  }
}

int64_t TsvFile::column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int64_t>(i);
  }
  fail("TsvFile::column: '{}' has no column named '{}' (header: {})", path, name,
       header.empty() ? std::string("none") : fmt::format("'{}'", fmt::join(header, "', '")));
}

int64_t Column::resolve(const TsvFile& file) const {
  if (!name.empty()) return file.column(name);
  TS_CHECK(index >= 0, "Column::resolve: column index {} for '{}' is negative", index, file.path);
  return index;
}

std::string Column::describe() const {
  return name.empty() ? fmt::format("{}", index) : fmt::format("'{}'", name);
}

TsvFile read_tsv(const std::string& path, const ReadTsvOptions& options) {
  std::string text = read_file(path, "read_tsv");
  TS_CHECK(!text.empty(), "read_tsv: '{}' is empty (expected tab-separated rows)", path);
  TsvFile file;
  file.path = path;
  bool header_pending = options.has_header;
  for_each_line(text, [&](std::string_view line, int64_t number) {
    if (options.validate_utf8) {
      size_t bad = 0;
      if (!is_valid_utf8(line, &bad)) {
        fail("read_tsv: '{}' line {}: invalid UTF-8 at byte {} of the line (byte 0x{:02X})", path,
             number, bad + 1, static_cast<unsigned char>(line[bad]));
      }
    }
    if (line.empty() && options.skip_empty) return;
    std::vector<std::string> fields = split_tabs(line);
    if (header_pending) {
      file.header = std::move(fields);
      header_pending = false;
      return;
    }
    const auto n = static_cast<int64_t>(fields.size());
    if (n < options.min_columns || (options.max_columns >= 0 && n > options.max_columns)) {
      std::string expected =
          options.max_columns < 0 ? fmt::format("at least {}", options.min_columns)
          : options.max_columns == options.min_columns
              ? fmt::format("{}", options.min_columns)
              : fmt::format("{} to {}", options.min_columns, options.max_columns);
      fail("read_tsv: '{}' line {}: {} tab-separated column(s), expected {}", path, number, n,
           expected);
    }
    file.rows.push_back({std::move(fields), number});
    if (options.progress) options.progress(path, static_cast<int64_t>(file.rows.size()), 0);
  });
  TS_CHECK(!file.rows.empty(), "read_tsv: '{}' has no data rows", path);
  return file;
}

std::vector<std::string_view> split_sentences(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  size_t pos = 0;
  auto is_end = [&](size_t p, size_t* len) {
    unsigned char c = static_cast<unsigned char>(text[p]);
    if (c == '.' || c == '!' || c == '?') return *len = 1, true;
    if (text.substr(p, 3) == "\xE3\x80\x82") return *len = 3, true;  // 。
    return false;
  };
  while (pos < text.size()) {
    size_t len = 0;
    if (!is_end(pos, &len)) {
      ++pos;
      continue;
    }
    size_t end = pos + len;
    // Runs of terminators and closing quotes/brackets stay with the sentence.
    while (end < text.size()) {
      size_t l2 = 0;
      char c = text[end];
      if (is_end(end, &l2)) {
        end += l2;
      } else if (c == '"' || c == '\'' || c == ')' || c == ']') {
        end += 1;
      } else {
        break;
      }
    }
    if (end < text.size() && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n')) {
      // The following white space stays with this sentence, so the pieces concatenate to text.
      while (end < text.size() && (text[end] == ' ' || text[end] == '\t' || text[end] == '\n'))
        ++end;
      out.push_back(text.substr(start, end - start));
      start = end;
    }
    pos = end;
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

}  // namespace taesan::data
