// LabelVocab: the label strings of a classification or tagging dataset and their ids, saved as
// one label per line so that a test split and a deployed model map labels exactly as training did.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace taesan::data {

/// Label <-> id, ids in insertion order.
class LabelVocab {
 public:
  LabelVocab() = default;
  /// The given labels get ids 0, 1, ...; duplicates are an error.
  explicit LabelVocab(std::vector<std::string> labels);

  /// Id of `label`, adding it when new.
  int64_t add(const std::string& label);
  /// Id of `label`, if present.
  std::optional<int64_t> find(std::string_view label) const;
  /// Id of `label`; throws naming the known labels when absent.
  int64_t id(std::string_view label) const;
  /// Label of `id`; throws when out of range.
  const std::string& label(int64_t id) const;
  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  const std::vector<std::string>& labels() const { return labels_; }

  /// Writes one label per line.
  void save(const std::string& path) const;
  /// Reads a file written by save; throws for a missing/empty file or a duplicate label.
  static LabelVocab load(const std::string& path);

  bool operator==(const LabelVocab& other) const { return labels_ == other.labels_; }

 private:
  std::vector<std::string> labels_;
  std::unordered_map<std::string, int64_t> ids_;
};

}  // namespace taesan::data
