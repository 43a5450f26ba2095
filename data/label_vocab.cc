// LabelVocab: label <-> id maps and their one-label-per-line file.
#include "taesan/data/label_vocab.h"

#include <fmt/format.h>

#include "taesan/core/atomic_file.h"
#include "taesan/core/error.h"
#include "taesan/data/text_io.h"

namespace taesan::data {

LabelVocab::LabelVocab(std::vector<std::string> labels) {
  for (auto& l : labels) {
    TS_CHECK(!find(l).has_value(), "LabelVocab: label '{}' is given twice", l);
    add(l);
  }
}

int64_t LabelVocab::add(const std::string& label) {
  // One label per line in the file: a line break inside one would not survive save / load.
  TS_CHECK(label.find_first_of("\r\n") == std::string::npos,
           "LabelVocab::add: label '{}' contains a line break (\\n or \\r)", label);
  auto [it, inserted] = ids_.emplace(label, size());
  if (inserted) labels_.push_back(label);
  return it->second;
}

std::optional<int64_t> LabelVocab::find(std::string_view label) const {
  auto it = ids_.find(std::string(label));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

int64_t LabelVocab::id(std::string_view label) const {
  auto found = find(label);
  TS_CHECK(found.has_value(), "LabelVocab::id: unknown label '{}' (known: '{}')", label,
           fmt::join(labels_, "', '"));
  return *found;
}

const std::string& LabelVocab::label(int64_t id) const {
  TS_CHECK(id >= 0 && id < size(), "LabelVocab::label: id {} is outside [0, {})", id, size());
  return labels_[id];
}

void LabelVocab::save(const std::string& path) const {
  std::string text;
  for (const auto& l : labels_) text += l + '\n';
  write_file_atomic(path, text, "LabelVocab::save");
}

LabelVocab LabelVocab::load(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  LabelVocab vocab;
  for (size_t i = 0; i < lines.size(); ++i) {
    TS_CHECK(!vocab.find(lines[i]).has_value(),
             "LabelVocab::load: '{}' line {}: label '{}' repeats", path, i + 1, lines[i]);
    vocab.add(lines[i]);
  }
  return vocab;
}

}  // namespace taesan::data
