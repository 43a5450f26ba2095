// The smallest end-to-end training script: a 2-layer MLP trained on a real
// task (SMS spam detection, ../shared/data/en_sms_spam.tsv) with only the tensor and ops layers:
// hashed bag-of-words features -> linear -> relu -> linear -> cross_entropy, and a hand-written
// Adam update under NoGradGuard. Prints the loss falling per epoch and the validation accuracy.
//
//   mlp_demo [data_dir = ../shared/data] [epochs = 5]
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <taesan/taesan.h>

namespace ts = taesan;

namespace {

constexpr int64_t kBuckets = 1024;    // hashed feature dimension
constexpr int64_t kHidden = 64;       // hidden units
constexpr int64_t kClasses = 2;       // 0 = ham, 1 = spam
constexpr int64_t kBatch = 64;        // mini-batch size
constexpr double kValFraction = 0.2;  // held-out share of the messages
constexpr uint64_t kSeed = 1234;      // split, init and shuffling

/// One labelled message.
struct Message {
  int64_t label;
  std::string text;
};

/// Reads `label<TAB>text` lines (label "ham" or "spam"); throws ts::Error on a bad file.
std::vector<Message> read_sms(const std::string& path) {
  std::ifstream in(path);
  TS_CHECK(in.good(), "mlp_demo: cannot open '{}' (pass the dataset directory as first argument)",
           path);
  std::vector<Message> messages;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    TS_CHECK(tab != std::string::npos, "mlp_demo: {}:{}: expected 'label<TAB>text', got '{}'", path,
             line_no, line.substr(0, 60));
    const std::string_view label(line.data(), tab);
    TS_CHECK(label == "ham" || label == "spam",
             "mlp_demo: {}:{}: expected label 'ham' or 'spam', got '{}'", path, line_no, label);
    messages.push_back({label == "spam" ? 1 : 0, line.substr(tab + 1)});
  }
  TS_CHECK(!messages.empty(), "mlp_demo: '{}' holds no messages", path);
  return messages;
}

/// FNV-1a, so that features are the same on every machine.
uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

/// Hashed bag of words and bigrams, log(1 + count) per bucket: (N, kBuckets) float32.
ts::Tensor featurize(const std::vector<Message>& messages) {
  const auto n = static_cast<int64_t>(messages.size());
  std::vector<float> x(static_cast<size_t>(n * kBuckets), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<std::string> words;
    std::string word;
    for (unsigned char c : messages[i].text + " ") {
      if (std::isalnum(c) || c >= 0x80) {
        word += static_cast<char>(std::tolower(c));
      } else if (!word.empty()) {
        // Long digit strings (phone numbers, short codes) are a strong spam cue: keep their shape.
        if (word.size() >= 5 && std::all_of(word.begin(), word.end(),
                                            [](unsigned char d) { return std::isdigit(d) != 0; }))
          word = "<num>";
        words.push_back(std::move(word));
        word.clear();
      }
    }
    float* row = x.data() + i * kBuckets;
    for (size_t w = 0; w < words.size(); ++w) {
      row[fnv1a(words[w]) % kBuckets] += 1.0f;
      if (w + 1 < words.size()) row[fnv1a(words[w + 1], fnv1a(words[w] + "_")) % kBuckets] += 1.0f;
    }
    for (int64_t j = 0; j < kBuckets; ++j) row[j] = std::log1p(row[j]);
  }
  return ts::from_vector(x, {n, kBuckets});
}

/// A parameter with its Adam moments.
struct Param {
  ts::Tensor value, m, v;
};

Param make_param(ts::Tensor init) {
  init.requires_grad_();
  return {init, ts::zeros_like(init), ts::zeros_like(init)};
}

/// Adam (Kingma & Ba) with bias correction; `step` counts from 1.
void adam_step(std::vector<Param>& params, double lr, int64_t step) {
  constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  ts::NoGradGuard no_grad;
  const double bc1 = 1.0 - std::pow(kBeta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(kBeta2, static_cast<double>(step));
  for (Param& p : params) {
    ts::Tensor g = p.value.grad();
    if (!g.defined()) continue;
    p.m.mul_(kBeta1).add_(g, 1.0 - kBeta1);      // m = b1 m + (1 - b1) g
    p.v.mul_(kBeta2).add_(g * g, 1.0 - kBeta2);  // v = b2 v + (1 - b2) g^2
    const ts::Tensor denom = ts::sqrt(p.v * (1.0 / bc2)) + kEps;
    p.value.add_(p.m / denom, -lr / bc1);  // p -= lr m_hat / (sqrt(v_hat) + eps)
    g.zero_();
  }
}

/// logits (N, kClasses) of the MLP: linear -> relu -> linear.
ts::Tensor forward(const std::vector<Param>& p, const ts::Tensor& x) {
  const ts::Tensor h = ts::relu(ts::linear(x, p[0].value, p[1].value));  // (N, kHidden)
  return ts::linear(h, p[2].value, p[3].value);                          // (N, kClasses)
}

/// Loss and accuracy of the model on (x, y), without recording a graph.
std::pair<double, double> evaluate(const std::vector<Param>& p, const ts::Tensor& x,
                                   const ts::Tensor& y) {
  ts::NoGradGuard no_grad;
  const ts::Tensor logits = forward(p, x);
  const double loss = ts::cross_entropy(logits, y).item<double>();
  const std::vector<int64_t> pred = logits.argmax(1).to_vector<int64_t>();
  const std::vector<int64_t> gold = y.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == gold[i];
  return {loss, static_cast<double>(correct) / static_cast<double>(pred.size())};
}

int run(const std::string& data_dir, int epochs) {
  const auto start = std::chrono::steady_clock::now();
  ts::manual_seed(kSeed);

  const std::vector<Message> messages = read_sms(data_dir + "/en_sms_spam.tsv");
  const auto n = static_cast<int64_t>(messages.size());
  const ts::Tensor features = featurize(messages);  // (N, kBuckets)
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[i] = messages[i].label;
  const ts::Tensor targets = ts::from_vector(labels);  // (N,) int64

  // Seeded train/validation split.
  const std::vector<int64_t> order = ts::randperm(n).to_vector<int64_t>();
  const auto n_val = static_cast<int64_t>(static_cast<double>(n) * kValFraction);
  const ts::Tensor val_idx =
      ts::from_vector(std::vector<int64_t>(order.begin(), order.begin() + n_val));
  const ts::Tensor train_idx =
      ts::from_vector(std::vector<int64_t>(order.begin() + n_val, order.end()));
  const int64_t n_train = n - n_val;
  const ts::Tensor x_train = features.index_select(0, train_idx);
  const ts::Tensor y_train = targets.index_select(0, train_idx);
  const ts::Tensor x_val = features.index_select(0, val_idx);
  const ts::Tensor y_val = targets.index_select(0, val_idx);
  int64_t val_spam = 0;
  for (int64_t v : y_val.to_vector<int64_t>()) val_spam += v;
  const double majority = 1.0 - static_cast<double>(val_spam) / static_cast<double>(n_val);
  std::printf("SMS spam: %lld messages, %lld train / %lld validation, %lld hashed features\n",
              static_cast<long long>(n), static_cast<long long>(n_train),
              static_cast<long long>(n_val), static_cast<long long>(kBuckets));

  // He-style init for the relu layer, small init for the output layer.
  std::vector<Param> params;
  {
    ts::NoGradGuard no_grad;
    params.push_back(make_param(ts::randn({kHidden, kBuckets}) * std::sqrt(2.0 / kBuckets)));
    params.push_back(make_param(ts::zeros({kHidden})));
    params.push_back(make_param(ts::randn({kClasses, kHidden}) * std::sqrt(1.0 / kHidden)));
    params.push_back(make_param(ts::zeros({kClasses})));
  }

  const double lr = 1e-3;
  int64_t step = 0;
  {
    const auto [val_loss, val_acc] = evaluate(params, x_val, y_val);
    std::printf("epoch  0  (untrained)         val loss %.4f  val accuracy %.2f%%\n", val_loss,
                100.0 * val_acc);
  }
  double first_loss = 0.0, last_loss = 0.0;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    const ts::Tensor perm = ts::randperm(n_train);
    double loss_sum = 0.0;
    int64_t batches = 0;
    for (int64_t b = 0; b < n_train; b += kBatch) {
      const ts::Tensor idx = perm.slice(0, b, std::min(b + kBatch, n_train));
      const ts::Tensor loss = ts::cross_entropy(forward(params, x_train.index_select(0, idx)),
                                                y_train.index_select(0, idx));
      loss.backward();
      adam_step(params, lr, ++step);
      loss_sum += loss.item<double>();
      ++batches;
    }
    const double train_loss = loss_sum / static_cast<double>(batches);
    if (epoch == 1) first_loss = train_loss;
    last_loss = train_loss;
    const auto [val_loss, val_acc] = evaluate(params, x_val, y_val);
    std::printf("epoch %2d  train loss %.4f  val loss %.4f  val accuracy %.2f%%\n", epoch,
                train_loss, val_loss, 100.0 * val_acc);
  }

  const auto [val_loss, val_acc] = evaluate(params, x_val, y_val);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("final validation accuracy %.2f%% (majority class %.2f%%), loss %.4f, %.1f s\n",
              100.0 * val_acc, 100.0 * majority, val_loss, seconds);
  // A broken op or gradient shows up here: fail the job instead of printing a silent bad number.
  if (!(last_loss < first_loss) || !(val_acc > majority)) {
    std::fprintf(stderr, "mlp_demo: training did not learn (loss %.4f -> %.4f, accuracy %.4f)\n",
                 first_loss, last_loss, val_acc);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string data_dir = argc > 1 ? argv[1] : "../shared/data";
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 5;
  if (epochs < 1) {
    std::fprintf(stderr, "mlp_demo: epochs must be a positive integer, got '%s'\n", argv[2]);
    return 2;
  }
  try {
    return run(data_dir, epochs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
