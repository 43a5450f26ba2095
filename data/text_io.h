// Reading the dataset files: whole files, lines, tab-separated rows, with errors that name the
// file and line, UTF-8 validation, and an optional progress callback for long loads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace taesan::data {

/// Progress of a long operation: called with a stage name, work done and total (total may be 0
/// when unknown). Empty by default: loaders stay silent unless given one.
using ProgressFn = std::function<void(std::string_view stage, int64_t done, int64_t total)>;

/// A ProgressFn that prints "stage: done/total" lines to stderr (at most every `every` items).
ProgressFn stderr_progress(int64_t every = 10000);

/// The whole file as bytes. Throws ts::Error naming `caller` and the path when it cannot be read.
std::string read_file(const std::string& path, std::string_view caller = "read_file");

/// Options of read_lines.
struct ReadLinesOptions {
  bool skip_empty = false;        ///< drop lines that are empty (after removing '\r')
  bool allow_empty_file = false;  ///< an empty file is an error unless set
};

/// The lines of a text file, without their '\n' (and a trailing '\r' removed). A final line
/// without '\n' counts; a final '\n' does not start a new line. Throws for a missing or empty file.
std::vector<std::string> read_lines(const std::string& path, const ReadLinesOptions& options = {});

/// One row of a tab-separated file: its fields and 1-based line number.
struct TsvRow {
  std::vector<std::string> fields;
  int64_t line = 0;
};

/// Options of read_tsv.
struct ReadTsvOptions {
  int64_t min_columns = 1;    ///< rows with fewer fields are an error naming file and line
  int64_t max_columns = -1;   ///< rows with more fields are an error (-1: no limit)
  bool has_header = false;    ///< the first line is a header (returned by read_tsv's `header`)
  bool skip_empty = true;     ///< skip blank lines (they are not rows)
  bool validate_utf8 = true;  ///< invalid UTF-8 is an error naming file, line and column
  ProgressFn progress;
};

/// A parsed TSV file: the header fields (empty without header) and the rows.
struct TsvFile {
  std::string path;
  std::vector<std::string> header;
  std::vector<TsvRow> rows;
  /// Index of a header column by name; throws naming the file and the header when absent.
  int64_t column(std::string_view name) const;
};

/// A column of a TSV file, chosen by 0-based index or by header name:
/// `{.label_column = 0}` or `{.label_column = "label"}`.
struct Column {
  Column(int index) : index(index) {}
  Column(int64_t index) : index(index) {}
  Column(std::string name) : name(std::move(name)) {}
  Column(const char* name) : name(name) {}
  int64_t index = -1;
  std::string name;
  /// The 0-based index in `file`; throws naming the file when the name is not in its header or
  /// the index is negative.
  int64_t resolve(const TsvFile& file) const;
  /// "2" or "'label'", for messages.
  std::string describe() const;
};

/// Reads a tab-separated file. Throws ts::Error naming file and line for a missing or empty file,
/// a wrong field count or invalid UTF-8.
TsvFile read_tsv(const std::string& path, const ReadTsvOptions& options = {});

/// Splits `line` on '\t'.
std::vector<std::string> split_tabs(std::string_view line);

/// Cuts text into sentences after '.', '!', '?', '。' (and runs of them, closing quotes and
/// brackets) followed by white space; the pieces keep their text, so concatenated they give back
/// `text` exactly.
std::vector<std::string_view> split_sentences(std::string_view text);

}  // namespace taesan::data
