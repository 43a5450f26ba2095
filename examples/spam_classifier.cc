// SMS spam detection with the nn/ and optim/ layers, end to end on a real dataset
// (en_sms_spam.tsv of the dataset pack): a bag-of-embeddings classifier (mean of word
// embeddings -> MLP) trained with AdamW and a warmup-cosine schedule, a seeded train/validation
// split, a progress line per epoch, a training checkpoint, and the trained weights saved and
// reloaded into a fresh model that must score the same.
//
//   spam_classifier [data_dir] [epochs = 6]
//   data_dir: first argument, else $TS_DATA_DIR, else ../shared/data (from the working directory)
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <taesan/taesan.h>

namespace ts = taesan;
namespace nn = ts::nn;
namespace optim = ts::optim;

namespace {

constexpr uint64_t kSeed = 2024;      // split, initialisation, shuffling, dropout
constexpr double kValFraction = 0.2;  // held-out share of the messages
constexpr int64_t kMaxTokens = 64;    // longer messages are truncated
constexpr int64_t kMinCount = 2;      // rarer training words map to [UNK]
constexpr int64_t kBatch = 32;
constexpr int64_t kEmbed = 64;
constexpr int64_t kHidden = 64;
constexpr int64_t kPad = 0, kUnk = 1;

/// One labelled message: 1 = spam, 0 = ham.
struct Example {
  int64_t label;
  std::string text;
};

/// Reads `label<TAB>text` lines, label "ham" or "spam".
std::vector<Example> read_tsv(const std::string& path) {
  std::ifstream in(path);
  TS_CHECK(in.good(),
           "spam_classifier: cannot open '{}' (pass the dataset directory as the first "
           "argument or set TS_DATA_DIR)",
           path);
  std::vector<Example> out;
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    const std::string label = line.substr(0, tab);
    TS_CHECK(tab != std::string::npos && (label == "ham" || label == "spam"),
             "spam_classifier: {}:{}: expected 'ham|spam<TAB>text', got '{}'", path, line_no,
             line.substr(0, 60));
    out.push_back({label == "spam" ? 1 : 0, line.substr(tab + 1)});
  }
  TS_CHECK(!out.empty(), "spam_classifier: '{}' holds no messages", path);
  return out;
}

/// Lower-cased words of letters and digits; long digit runs (phone numbers, short codes) become
/// one "<num>" token and currency signs their own tokens, which is most of what marks spam.
std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> out;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    const bool digits = std::all_of(word.begin(), word.end(), ::isdigit);
    out.push_back(digits && word.size() >= 5 ? "<num>" : word);
    word.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isalnum(c)) {
      word += static_cast<char>(std::tolower(c));
      continue;
    }
    flush();
    if (c == '$' || c == '!') out.emplace_back(1, static_cast<char>(c));
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xA3)
      out.emplace_back("£");
  }
  flush();
  return out;
}

/// Word -> id, built from the training split only.
class Vocab {
 public:
  explicit Vocab(const std::vector<std::vector<std::string>>& docs) {
    std::map<std::string, int64_t> counts;
    for (const auto& d : docs)
      for (const auto& w : d) ++counts[w];
    for (const auto& [w, c] : counts)
      if (c >= kMinCount) ids_.emplace(w, 2 + static_cast<int64_t>(ids_.size()));
  }
  int64_t size() const { return 2 + static_cast<int64_t>(ids_.size()); }
  std::vector<int64_t> encode(const std::vector<std::string>& words) const {
    std::vector<int64_t> out;
    for (const auto& w : words) {
      if (static_cast<int64_t>(out.size()) == kMaxTokens) break;
      auto it = ids_.find(w);
      out.push_back(it == ids_.end() ? kUnk : it->second);
    }
    return out;
  }

 private:
  std::unordered_map<std::string, int64_t> ids_;
};

/// Mean of the word embeddings -> Linear -> GELU -> Linear (2 classes).
struct SpamClassifier : nn::Module {
  std::shared_ptr<nn::Embedding> embed;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::Linear> fc1, fc2;

  explicit SpamClassifier(int64_t vocab_size) {
    embed = register_module("embed", std::make_shared<nn::Embedding>(vocab_size, kEmbed, kPad));
    drop = register_module("drop", std::make_shared<nn::Dropout>(0.2));
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(kEmbed, kHidden));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(kHidden, 2));
  }

  /// ids (B, T) int64 padded with kPad, lengths (B, 1) float -> logits (B, 2).
  ts::Tensor forward(const ts::Tensor& ids, const ts::Tensor& lengths) const {
    // Padding rows are zero and get no gradient, so the sum over T covers only real words.
    const ts::Tensor pooled = embed->forward(ids).sum(1) / lengths;  // (B, kEmbed)
    return fc2->forward(drop->forward(ts::gelu(fc1->forward(drop->forward(pooled)))));
  }
};

/// A padded batch of encoded messages.
struct Batch {
  ts::Tensor ids, lengths, labels;
};

Batch make_batch(const std::vector<std::vector<int64_t>>& docs, const std::vector<int64_t>& labels,
                 const std::vector<int64_t>& order, size_t begin, size_t end) {
  int64_t longest = 1;
  for (size_t i = begin; i < end; ++i)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(docs[order[i]].size()));
  const int64_t b = static_cast<int64_t>(end - begin);
  std::vector<int64_t> ids(static_cast<size_t>(b * longest), kPad), y;
  std::vector<float> lengths;
  for (size_t i = begin; i < end; ++i) {
    const auto& d = docs[order[i]];
    std::copy(d.begin(), d.end(), ids.begin() + static_cast<int64_t>(i - begin) * longest);
    lengths.push_back(static_cast<float>(std::max<size_t>(1, d.size())));
    y.push_back(labels[order[i]]);
  }
  return {ts::from_vector(ids, {b, longest}), ts::from_vector(lengths, {b, 1}), ts::from_vector(y)};
}

/// Loss and accuracy over a split (call with the model in eval mode).
std::pair<double, double> evaluate(const SpamClassifier& model,
                                   const std::vector<std::vector<int64_t>>& docs,
                                   const std::vector<int64_t>& labels) {
  ts::NoGradGuard no_grad;
  std::vector<int64_t> order(docs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  double loss = 0, correct = 0;
  for (size_t begin = 0; begin < docs.size(); begin += 256) {
    const size_t end = std::min(docs.size(), begin + 256);
    const Batch b = make_batch(docs, labels, order, begin, end);
    const ts::Tensor logits = model.forward(b.ids, b.lengths);
    loss += ts::cross_entropy(logits, b.labels, {.reduction = ts::Reduction::Sum}).item<double>();
    correct += (logits.argmax(1) == b.labels).to(ts::kFloat64).sum().item<double>();
  }
  return {loss / static_cast<double>(docs.size()), correct / static_cast<double>(docs.size())};
}

}  // namespace

int main(int argc, char** argv) try {
  const char* env = std::getenv("TS_DATA_DIR");
  const std::string data_dir = argc > 1 ? argv[1] : env ? env : "../shared/data";
  char* end = nullptr;
  const int64_t epochs = argc > 2 ? std::strtoll(argv[2], &end, 10) : 6;
  TS_CHECK(epochs > 0 && (argc <= 2 || *end == '\0'),
           "spam_classifier: epochs must be a positive integer, got '{}'", argv[2]);
  const auto start = std::chrono::steady_clock::now();

  // ---- data: seeded split, vocabulary from the training part ----
  const std::vector<Example> all = read_tsv(data_dir + "/en_sms_spam.tsv");
  ts::manual_seed(kSeed);
  const std::vector<int64_t> perm =
      ts::randperm(static_cast<int64_t>(all.size())).to_vector<int64_t>();
  const size_t n_val = static_cast<size_t>(kValFraction * static_cast<double>(all.size()));
  std::vector<std::vector<std::string>> train_words, val_words;
  std::vector<int64_t> train_labels, val_labels;
  for (size_t i = 0; i < perm.size(); ++i) {
    const Example& e = all[perm[i]];
    (i < n_val ? val_words : train_words).push_back(tokenize(e.text));
    (i < n_val ? val_labels : train_labels).push_back(e.label);
  }
  const Vocab vocab(train_words);
  std::vector<std::vector<int64_t>> train, val;
  for (const auto& w : train_words) train.push_back(vocab.encode(w));
  for (const auto& w : val_words) val.push_back(vocab.encode(w));
  const auto spam = std::count(train_labels.begin(), train_labels.end(), 1);
  fmt::print("{} messages: {} train ({} spam), {} validation; vocabulary {} words\n", all.size(),
             train.size(), spam, val.size(), vocab.size());

  // ---- model, optimizer (no decay on biases and norms), schedule ----
  auto model = std::make_shared<SpamClassifier>(vocab.size());
  fmt::print("{}\n", model);
  std::vector<optim::ParamGroup> groups(2);
  for (const auto& [name, p] : model->named_parameters())
    groups[p.dim() < 2 ? 1 : 0].params.push_back(p);
  groups[1].weight_decay = 0.0;
  optim::AdamW opt(groups, {.lr = 3e-3, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 0.01});
  const int64_t steps_per_epoch = (static_cast<int64_t>(train.size()) + kBatch - 1) / kBatch;
  const int64_t total_steps = epochs * steps_per_epoch;
  optim::WarmupCosine sched(opt, total_steps / 10, total_steps);

  const std::string out_dir =
      (std::filesystem::temp_directory_path() / "taesan_spam_classifier").string();
  std::filesystem::create_directories(out_dir);
  const std::string checkpoint_path = out_dir + "/training_checkpoint.safetensors";
  const std::string weights_path = out_dir + "/spam_classifier.safetensors";

  // ---- training ----
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    model->train();
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<int64_t> order =
        ts::randperm(static_cast<int64_t>(train.size())).to_vector<int64_t>();
    double loss_sum = 0, correct = 0;
    for (size_t begin = 0; begin < train.size(); begin += kBatch) {
      const size_t end = std::min(train.size(), begin + kBatch);
      const Batch b = make_batch(train, train_labels, order, begin, end);
      opt.zero_grad();
      const ts::Tensor logits = model->forward(b.ids, b.lengths);
      ts::Tensor loss = ts::cross_entropy(logits, b.labels);
      loss.backward();
      optim::clip_grad_norm(model->parameters(), 1.0);
      opt.step();
      sched.step();
      ++step;
      loss_sum += loss.item<double>() * static_cast<double>(end - begin);
      correct += (logits.argmax(1) == b.labels).to(ts::kFloat64).sum().item<double>();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    model->eval();
    const auto [val_loss, val_acc] = evaluate(*model, val, val_labels);
    const double n = static_cast<double>(train.size());
    fmt::print(
        "epoch {}/{}  loss {:.4f}  acc {:.4f}  | val loss {:.4f}  acc {:.4f}  | lr {:.2e}  "
        "{:.0f} examples/s\n",
        epoch, epochs, loss_sum / n, correct / n, val_loss, val_acc, opt.lr(), n / seconds);
    optim::save_checkpoint(checkpoint_path, {.model = model.get(),
                                             .optimizer = &opt,
                                             .scheduler = &sched,
                                             .step = step,
                                             .extra = {{"epoch", std::to_string(epoch)}}});
  }

  // ---- save the weights, reload them into a fresh model, score it again ----
  model->eval();
  const auto [val_loss, val_acc] = evaluate(*model, val, val_labels);
  ts::save(model, weights_path, {{"vocab_size", std::to_string(vocab.size())}});
  auto reloaded = std::make_shared<SpamClassifier>(vocab.size());
  ts::load(reloaded, weights_path);
  reloaded->eval();
  const auto [re_loss, re_acc] = evaluate(*reloaded, val, val_labels);
  TS_CHECK(re_acc == val_acc && re_loss == val_loss,
           "spam_classifier: the reloaded model scores {} / {}, the trained one {} / {}", re_acc,
           re_loss, val_acc, val_loss);
  optim::Checkpoint resumed{.model = reloaded.get()};
  optim::load_checkpoint(checkpoint_path, resumed);
  fmt::print("saved {} and {} (step {}, epoch {}); reloaded model scores the same\n", weights_path,
             checkpoint_path, resumed.step, resumed.extra.at("epoch"));

  const std::vector<std::string> samples = {
      "WINNER!! You have been selected to receive a £900 prize reward! Call 09061701461 now",
      "Are we still meeting for lunch tomorrow? I'll bring the notes",
      "Free entry to our weekly competition, text WIN to 80086 to claim your mobile upgrade"};
  for (const auto& s : samples) {
    const Batch b = make_batch({vocab.encode(tokenize(s))}, {0}, {0}, 0, 1);
    ts::NoGradGuard no_grad;
    const double p = reloaded->forward(b.ids, b.lengths).softmax(1).to_vector<double>()[1];
    fmt::print("  p(spam) = {:.3f}  \"{}\"\n", p, s);
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("final validation accuracy {:.4f} ({} of {}), total time {:.1f} s\n", val_acc,
             static_cast<int64_t>(val_acc * static_cast<double>(val.size()) + 0.5), val.size(),
             total);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "%s\n", e.what());
  return 1;
}
