// BpeTokenizer <-> Hugging Face tokenizer.json: a "BPE" model (vocab in GPT-2 printable form,
// merges as "left right" strings), "ByteLevel" pre-tokenizer and decoder, and the special tokens
// as added tokens. Loading accepts both merge spellings ("a b" and ["a", "b"]) and rejects, with a
// clear error, the features this tokenizer does not implement (normalizers, prefix space, ...).
// A post-processor is ignored: encode() never adds special tokens; the datasets add them.
#include <nlohmann/json.hpp>

#include "taesan/core/atomic_file.h"
#include "taesan/core/error.h"
#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/unicode.h"

namespace taesan::data {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

OrderedJson byte_level_json() {
  OrderedJson j;
  j["type"] = "ByteLevel";
  j["add_prefix_space"] = false;
  j["trim_offsets"] = true;
  j["use_regex"] = true;
  return j;
}

// True when `j` is absent/null, or a string/number equal to the "off" value.
bool is_unset(const Json& j, std::string_view key) {
  auto it = j.find(std::string(key));
  if (it == j.end() || it->is_null()) return true;
  if (it->is_string()) return it->get<std::string>().empty();
  if (it->is_number()) return it->get<double>() == 0.0;
  if (it->is_boolean()) return !it->get<bool>();
  return false;
}

// A JSON value for an error message: scalars as written, arrays and objects by their type only
// (dumping a deeply nested value recurses once per level and can overflow the stack).
std::string json_brief(const Json& v) { return v.is_structured() ? v.type_name() : v.dump(); }

// Finds the ByteLevel pre-tokenizer, directly or inside Sequences of one; returns its use_regex.
// A loop, not recursion: the nesting depth comes from the file.
bool byte_level_use_regex(const Json& outer, const std::string& source) {
  const Json* node = &outer;
  std::string type;
  while (true) {
    TS_CHECK(node->is_object(),
             "BpeTokenizer::load: '{}': pre_tokenizer is {} (expected ByteLevel)", source,
             json_brief(*node));
    type = node->value("type", "");
    const auto inner = node->find("pretokenizers");
    if (type != "Sequence" || inner == node->end() || !inner->is_array() || inner->size() != 1)
      break;
    node = &(*inner)[0];
  }
  const Json& pre = *node;
  TS_CHECK(type == "ByteLevel",
           "BpeTokenizer::load: '{}': pre_tokenizer type '{}' is not supported (expected "
           "ByteLevel)",
           source, type);
  TS_CHECK(!pre.value("add_prefix_space", false),
           "BpeTokenizer::load: '{}': ByteLevel add_prefix_space = true is not supported", source);
  return pre.value("use_regex", true);
}

}  // namespace

std::string BpeTokenizer::to_json() const {
  OrderedJson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  OrderedJson added = OrderedJson::array();
  for (size_t id = 0; id < vocab_.size(); ++id) {
    if (!special_[id]) continue;
    OrderedJson t;
    t["id"] = id;
    t["content"] = vocab_[id];
    t["single_word"] = false;
    t["lstrip"] = false;
    t["rstrip"] = false;
    t["normalized"] = false;
    t["special"] = true;
    added.push_back(std::move(t));
  }
  root["added_tokens"] = std::move(added);
  root["normalizer"] = nullptr;
  OrderedJson pre = byte_level_json();
  pre["use_regex"] = use_regex_;
  root["pre_tokenizer"] = std::move(pre);
  root["post_processor"] = nullptr;
  root["decoder"] = byte_level_json();
  OrderedJson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;
  OrderedJson vocab = OrderedJson::object();
  for (size_t id = 0; id < vocab_.size(); ++id) vocab[id_to_token(static_cast<int64_t>(id))] = id;
  model["vocab"] = std::move(vocab);
  OrderedJson merges = OrderedJson::array();
  for (const Merge& m : merges_) merges.push_back(id_to_token(m.left) + " " + id_to_token(m.right));
  model["merges"] = std::move(merges);
  root["model"] = std::move(model);
  return root.dump(2, ' ', false, nlohmann::json::error_handler_t::strict);
}

void BpeTokenizer::save(const std::string& path) const {
  write_file_atomic(path, to_json(), "BpeTokenizer::save");
}

BpeTokenizer BpeTokenizer::load(const std::string& path) {
  std::string text = read_file(path, "BpeTokenizer::load");
  TS_CHECK(!text.empty(), "BpeTokenizer::load: '{}' is empty (expected a tokenizer.json)", path);
  return from_json(text, path);
}

BpeTokenizer BpeTokenizer::from_json(const std::string& json_text, const std::string& source) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& e) {
    fail("BpeTokenizer::load: '{}' is not valid JSON: {}", source, e.what());
  }
  try {
    TS_CHECK(root.is_object() && root.contains("model") && root["model"].is_object(),
             "BpeTokenizer::load: '{}' has no \"model\" object (expected a tokenizer.json)",
             source);
    const Json& model = root["model"];
    std::string type = model.value("type", "BPE");
    TS_CHECK(type == "BPE", "BpeTokenizer::load: '{}': model type '{}' is not supported (BPE only)",
             source, type);
    for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix"}) {
      TS_CHECK(is_unset(model, key), "BpeTokenizer::load: '{}': model.{} = {} is not supported",
               source, key, json_brief(model[key]));
    }
    TS_CHECK(!root.contains("normalizer") || root["normalizer"].is_null(),
             "BpeTokenizer::load: '{}': normalizer {} is not supported (expected null)", source,
             json_brief(root["normalizer"]));
    TS_CHECK(root.contains("pre_tokenizer") && !root["pre_tokenizer"].is_null(),
             "BpeTokenizer::load: '{}' has no pre_tokenizer (expected ByteLevel)", source);
    bool use_regex = byte_level_use_regex(root["pre_tokenizer"], source);
    if (root.contains("decoder") && !root["decoder"].is_null()) {
      std::string dec = root["decoder"].value("type", "");
      TS_CHECK(dec == "ByteLevel",
               "BpeTokenizer::load: '{}': decoder type '{}' is not supported (expected ByteLevel)",
               source, dec);
    }

    // Collect id -> token from the model vocabulary and the added tokens.
    TS_CHECK(model.contains("vocab") && model["vocab"].is_object(),
             "BpeTokenizer::load: '{}': model.vocab is missing or not an object", source);
    std::unordered_map<int64_t, std::string> added;  // id -> content
    const bool has_added = root.contains("added_tokens") && root["added_tokens"].is_array();
    // Ids are dense: every one is below the number of entries (checked before any id + 1, so a
    // huge id can neither overflow nor size the tables).
    const auto entries =
        static_cast<int64_t>(model["vocab"].size() + (has_added ? root["added_tokens"].size() : 0));
    auto check_id = [&](int64_t id, const std::string& what) {
      TS_CHECK(id >= 0 && id < entries,
               "BpeTokenizer::load: '{}': {} has id {}, outside 0..{} ({} entries)", source, what,
               id, entries - 1, entries);
    };
    if (has_added) {
      for (const Json& t : root["added_tokens"]) {
        int64_t id = t.at("id").get<int64_t>();
        check_id(id, "an added token");
        added[id] = t.at("content").get<std::string>();
      }
    }
    int64_t size = 0;
    for (const auto& [tok, id] : model["vocab"].items()) {
      check_id(id.get<int64_t>(), "token '" + tok + "'");
      size = std::max(size, id.get<int64_t>() + 1);
    }
    for (const auto& [id, content] : added) size = std::max(size, id + 1);
    TS_CHECK(size <= static_cast<int64_t>(model["vocab"].size() + added.size()),
             "BpeTokenizer::load: '{}': largest id {} leaves holes in a vocabulary of {} tokens",
             source, size - 1, model["vocab"].size());
    std::vector<std::string> vocab(size);
    std::vector<bool> special(size, false);
    std::vector<bool> filled(size, false);
    std::unordered_map<std::string, int32_t> printable_to_id;
    for (const auto& [id, content] : added) {
      vocab[id] = content;
      special[id] = true;
      filled[id] = true;
    }
    for (const auto& [tok, id_json] : model["vocab"].items()) {
      int64_t id = id_json.get<int64_t>();
      TS_CHECK(id >= 0, "BpeTokenizer::load: '{}': token '{}' has negative id {}", source, tok, id);
      printable_to_id.emplace(tok, static_cast<int32_t>(id));
      if (special[id]) continue;
      TS_CHECK(!filled[id], "BpeTokenizer::load: '{}': id {} is given to two tokens", source, id);
      std::string bytes;
      TS_CHECK(printable_to_bytes(tok, &bytes) && !bytes.empty(),
               "BpeTokenizer::load: '{}': token '{}' (id {}) is not in the byte-level alphabet",
               source, tok, id);
      vocab[id] = std::move(bytes);
      filled[id] = true;
    }
    for (int64_t id = 0; id < size; ++id) {
      TS_CHECK(filled[id], "BpeTokenizer::load: '{}': id {} has no token (ids must be 0..{})",
               source, id, size - 1);
    }

    std::vector<Merge> merges;
    if (model.contains("merges")) {
      const Json& list = model["merges"];
      TS_CHECK(list.is_array(), "BpeTokenizer::load: '{}': model.merges is not an array", source);
      merges.reserve(list.size());
      for (size_t r = 0; r < list.size(); ++r) {
        std::string left, right;
        if (list[r].is_string()) {
          std::string m = list[r].get<std::string>();
          size_t space = m.find(' ');
          TS_CHECK(space != std::string::npos && m.find(' ', space + 1) == std::string::npos,
                   "BpeTokenizer::load: '{}': merge {} '{}' is not 'left right'", source, r, m);
          left = m.substr(0, space);
          right = m.substr(space + 1);
        } else {
          TS_CHECK(list[r].is_array() && list[r].size() == 2 && list[r][0].is_string() &&
                       list[r][1].is_string(),
                   "BpeTokenizer::load: '{}': merge {} is {} (expected \"a b\" or [\"a\", \"b\"])",
                   source, r, json_brief(list[r]));
          left = list[r][0].get<std::string>();
          right = list[r][1].get<std::string>();
        }
        auto find = [&](const std::string& tok) {
          auto it = printable_to_id.find(tok);
          TS_CHECK(it != printable_to_id.end(),
                   "BpeTokenizer::load: '{}': merge {} ('{} {}') uses '{}', not in the vocab",
                   source, r, left, right, tok);
          return it->second;
        };
        merges.push_back({find(left), find(right), find(left + right)});
      }
    }
    return BpeTokenizer(std::move(vocab), std::move(special), std::move(merges), use_regex);
  } catch (const Json::exception& e) {
    fail("BpeTokenizer::load: '{}' does not have the tokenizer.json layout: {}", source, e.what());
  }
}

}  // namespace taesan::data
