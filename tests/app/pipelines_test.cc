// The fine-tuning pipelines on the user's own files: a new label set and a new tag set, files
// given as train / validation / test, metrics.json with a baseline, predict's JSONL (valid UTF-8,
// character offsets), evaluate on a new file, and bad input as errors naming file and line.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/test_util.h"
#include "taesan/app/cli.h"
#include "taesan/app/tasks.h"
#include "taesan/data/unicode.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
std::string write(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string p = (fs::path(dir) / name).string();
  std::ofstream(p) << text;
  return p;
}
/// A small, learnable classification file: the label is the colour word in the text.
std::string colour_tsv(int n, int offset) {
  const char* labels[] = {"rouge", "bleu", "vert"};
  const char* words[] = {"red apple", "blue sky", "green grass"};
  const char* fill[] = {"today", "was", "very", "nice", "the", "we", "saw", "a", "small"};
  std::string s;
  for (int i = 0; i < n; ++i) {
    const int c = (i * 7 + offset) % 3;
    s += std::string(labels[c]) + "\t" + fill[(i + offset) % 9] + " " + words[c] + " " +
         fill[(i * 5 + 3) % 9] + " é\n";
  }
  return s;
}
/// A CoNLL file with a new tag set (FOOD, CITY), Korean and accented words included.
std::string food_conll(int n) {
  std::string s;
  const char* foods[] = {"kimchi", "crêpe", "비빔밥"};
  const char* cities[] = {"Seoul", "Paris", "부산"};
  for (int i = 0; i < n; ++i) {
    s += std::string("I\tO\nate\tO\n") + foods[i % 3] + "\tB-FOOD\nin\tO\n" + cities[(i + 1) % 3] +
         "\tB-CITY\n" + (i % 2 ? "City\tI-CITY\n" : "") + "\n";
  }
  return s;
}
models::RunOptions tiny_run(const std::string& out) {
  models::RunOptions o = models::default_finetune_options(models::TaskType::kClassify, false);
  o.out_dir = out;
  o.name = "model";
  o.steps = 60;
  o.eval_every = 20;
  o.patience = 0;
  o.batch_size = 8;
  o.seq_len = 32;
  o.lr = 3e-3;
  o.verbose = false;
  return o;
}
}  // namespace

TEST_CASE("finetune on the user's files: a new label set, metrics.json, predict", "[app]") {
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  const std::string train = write(dir, "train.tsv", colour_tsv(120, 0));
  const std::string valid = write(dir, "valid.tsv", colour_tsv(30, 1));
  const std::string test = write(dir, "test.tsv", colour_tsv(30, 2));
  const auto tok =
      models::train_tokenizer(models::task_file_texts(models::TaskType::kClassify, train), 300);
  models::TaskFiles files{train, valid, test};
  models::TaskEncoding enc;
  enc.seq_len = 32;
  const auto data = models::load_task_files(models::TaskType::kClassify, files, tok, enc);
  CHECK(data.split.train.size() == 120);
  CHECK(data.split.validation.size() == 30);
  CHECK(data.split.test.size() == 30);
  CHECK(data.labels() == std::vector<std::string>{"bleu", "rouge", "vert"});
  const auto config = models::small_config(tok.vocab_size(), 32, 1, 64);
  const auto out = fs::path(dir) / "out";
  auto o = tiny_run(out.string());
  o.steps = 200;
  const auto s = models::finetune(data, "classify", tok, config, "", o);
  CHECK(s.metric == "accuracy");
  CHECK(s.score > 90);  // the colour word decides: learnable in 60 steps
  const auto metrics =
      nlohmann::json::parse(ts::test::read_text((out / "model.metrics.json").string()));
  CHECK(metrics.at("task") == "classify");
  CHECK(metrics.at("value").get<double>() == Approx(s.score));
  CHECK(metrics.contains("baseline"));
  // predict: one JSON object per input line, labels of the new set, valid UTF-8
  const std::string input = write(dir, "new.txt", "a blue sky é\nred apple 😀\n\ngreen grass\n");
  const auto lines = models::predict(out.string(), input);
  REQUIRE(lines.size() == 3);
  CHECK(nlohmann::json::parse(lines[0]).at("label") == "bleu");
  CHECK(nlohmann::json::parse(lines[1]).at("label") == "rouge");
  CHECK(nlohmann::json::parse(lines[2]).at("label") == "vert");
  for (const auto& l : lines) CHECK(ts::data::is_valid_utf8(l));
  // evaluate on another labelled file
  const auto e = models::evaluate_file(out.string(), test);
  CHECK(e.score == Approx(s.score));
}

TEST_CASE("finetune NER with a new tag set; predict gives entities with character offsets",
          "[app]") {
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  const std::string train = write(dir, "train.conll", food_conll(90));
  const auto tok =
      models::train_tokenizer(models::task_file_texts(models::TaskType::kNer, train), 300);
  models::TaskFiles files;
  files.train = train;  // no --valid: a seeded 10% split
  models::TaskEncoding enc;
  enc.seq_len = 32;
  const auto data = models::load_task_files(models::TaskType::kNer, files, tok, enc);
  CHECK(data.split.validation.size() == 9);
  CHECK(data.split.test.empty());
  CHECK(data.labels() == std::vector<std::string>{"O", "B-CITY", "B-FOOD", "I-CITY"});
  const auto config = models::small_config(tok.vocab_size(), 32, 1, 64);
  auto o = tiny_run((fs::path(dir) / "out").string());
  o.steps = 150;
  const auto s = models::finetune(data, "ner", tok, config, "", o);
  CHECK(std::isnan(s.score));  // no test file
  CHECK(s.validation > 80);
  const std::string input = write(dir, "new.txt", "I ate crêpe in 부산\n");
  const auto lines = models::predict((fs::path(dir) / "out").string(), input);
  REQUIRE(lines.size() == 1);
  const auto j = nlohmann::json::parse(lines[0]);
  CHECK(j.at("tags") == std::vector<std::string>{"O", "O", "B-FOOD", "O", "B-CITY"});
  REQUIRE(j.at("entities").size() == 2);
  CHECK(j["entities"][0].at("text") == "crêpe");
  CHECK(j["entities"][0].at("start") == 6);  // characters, not bytes
  CHECK(j["entities"][0].at("end") == 11);
  CHECK(j["entities"][1].at("text") == "부산");
  CHECK(j["entities"][1].at("start") == 15);
  CHECK(j["entities"][1].at("end") == 17);
}

TEST_CASE("bad task files are errors naming the file and the line", "[app]") {
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  const std::string good = write(dir, "good.tsv", colour_tsv(40, 0));
  const auto tok =
      models::train_tokenizer(models::task_file_texts(models::TaskType::kClassify, good), 300);
  models::TaskEncoding enc;
  enc.seq_len = 32;
  auto load = [&](const std::string& train, const std::string& valid, const std::string& test) {
    return models::load_task_files(models::TaskType::kClassify, {train, valid, test}, tok, enc);
  };
  const std::string malformed = write(dir, "malformed.tsv", "rouge\tred\nbleu only-one-column\n");
  CHECK_THROWS_WITH(load(malformed, "", ""), Contains("malformed.tsv") && Contains("line 2"));
  const std::string unseen = write(dir, "unseen.tsv", "rouge\tred\njaune\tyellow\n");
  CHECK_THROWS_WITH(load(good, "", unseen),
                    Contains("unseen.tsv") && Contains("line 2") && Contains("jaune"));
  const std::string empty = write(dir, "empty.tsv", "");
  CHECK_THROWS_WITH(load(good, empty, ""), Contains("empty.tsv"));
  const std::string tiny = write(dir, "tiny.tsv", "rouge\tred\n");
  CHECK_THROWS_WITH(load(tiny, "", ""), Contains("validation"));
  CHECK_THROWS_WITH(load(dir + "/missing.tsv", "", ""), Contains("missing.tsv"));
  const std::string broken_bio = write(dir, "bio.conll", "I\tO\nSeoul\tI-CITY\n\n");
  CHECK_THROWS_WITH(models::load_task_files(models::TaskType::kNer, {broken_bio}, tok, enc),
                    Contains("bio.conll") && Contains("line 2"));
  CHECK_THROWS_WITH(models::parse_task_type("poetry"), Contains("poetry"));
}

TEST_CASE("taesan finetune / predict on the command line", "[app][cli]") {
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  const std::string train = write(dir, "train.tsv", colour_tsv(90, 0));
  const std::string test = write(dir, "test.tsv", colour_tsv(20, 2));
  const std::string out = dir + "/out";
  std::vector<std::string> args = {"taesan",  "finetune", "--task",  "classify", "--train",
                                   train,     "--test",   test,      "--out",    out,
                                   "--steps", "30",       "--vocab", "300",      "--d-model",
                                   "32",      "--layers", "1",       "--quiet"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  REQUIRE(models::run_cli(static_cast<int>(argv.size()), argv.data()) == 0);
  const auto metrics = nlohmann::json::parse(ts::test::read_text(out + "/metrics.json"));
  CHECK(metrics.at("metric") == "accuracy");
  CHECK(metrics.at("test_rows") == 20);
  CHECK(fs::exists(out + "/model.safetensors"));
  CHECK(fs::exists(out + "/tokenizer.json"));
  const std::string input = write(dir, "in.txt", "blue sky\n");
  std::vector<std::string> pargs = {"taesan",  "predict", "--model",  out,
                                    "--input", input,     "--output", dir + "/pred.jsonl"};
  std::vector<char*> pargv;
  for (auto& a : pargs) pargv.push_back(a.data());
  REQUIRE(models::run_cli(static_cast<int>(pargv.size()), pargv.data()) == 0);
  CHECK(nlohmann::json::parse(ts::test::read_text(dir + "/pred.jsonl")).contains("label"));
  // a bad command line exits 2, a bad file 1
  std::vector<std::string> bad = {"taesan", "finetune", "--task", "classify", "--bogus"};
  std::vector<char*> bargv;
  for (auto& a : bad) bargv.push_back(a.data());
  CHECK(models::run_cli(static_cast<int>(bargv.size()), bargv.data()) == 2);
}

TEST_CASE("QA predict: answers are valid UTF-8 at character offsets of the context", "[app]") {
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  // Contexts with accents, dashes and Korean; the answer is the city after "in".
  const char* cities[] = {"Montréal", "Zürich", "서울", "Kraków", "São Paulo"};
  const char* names[] = {"Émile", "Zoë", "지수", "Łukasz", "José"};
  std::string jsonl;
  for (int i = 0; i < 60; ++i) {
    const std::string city = cities[i % 5], name = names[(i + 2) % 5];
    const std::string context =
        name + " – a friend – lives in " + city + " since " + std::to_string(1990 + i) + ".";
    const int64_t start =
        static_cast<int64_t>(ts::data::count_chars(context.substr(0, context.find(" in ") + 4)));
    jsonl += nlohmann::json{{"id", std::to_string(i)},
                            {"context", context},
                            {"question", "Where does " + name + " live?"},
                            {"answer_text", city},
                            {"answer_start", start}}
                 .dump() +
             "\n";
  }
  const std::string train = write(dir, "train.jsonl", jsonl);
  const auto tok =
      models::train_tokenizer(models::task_file_texts(models::TaskType::kQa, train), 300);
  models::TaskEncoding enc;
  enc.seq_len = 48;
  const auto data = models::load_task_files(models::TaskType::kQa, {train}, tok, enc);
  const auto config = models::small_config(tok.vocab_size(), 32, 1, 64);
  auto o = tiny_run(dir + "/out");
  o.seq_len = 48;
  o.steps = 40;
  models::finetune(data, "qa", tok, config, "", o);
  const std::string input = write(
      dir, "in.jsonl",
      nlohmann::json{{"context", "Zoë – ami – lives in Kraków since 2001."},
                     {"question", "Where does Zoë live?"}}
              .dump() +
          "\n" +
          nlohmann::json{{"id", "k"}, {"context", "지수는 서울에 산다."}, {"question", "어디?"}}
              .dump() +
          "\n");
  const auto lines = models::predict(dir + "/out", input);
  REQUIRE(lines.size() == 2);
  for (const auto& l : lines) {
    REQUIRE(ts::data::is_valid_utf8(l));
    const auto j = nlohmann::json::parse(l);
    const std::string answer = j.at("answer");
    CHECK(!answer.empty());  // SQuAD v1: a span is always given
    CHECK(ts::data::is_valid_utf8(answer));
    // start / end are character offsets whose substring is the answer
    const std::string ctx =
        j.at("id") == "k" ? "지수는 서울에 산다." : "Zoë – ami – lives in Kraków since 2001.";
    const int64_t b = ts::data::char_to_byte_offset(ctx, j.at("start").get<int64_t>());
    const int64_t e = ts::data::char_to_byte_offset(ctx, j.at("end").get<int64_t>());
    CHECK(ctx.substr(static_cast<size_t>(b), static_cast<size_t>(e - b)) == answer);
  }
  CHECK(nlohmann::json::parse(lines[0]).at("id") == "1");  // no id: the input line number
  CHECK_FALSE(models::read_model_meta(dir + "/out/model.safetensors").qa_marks_question_words);

  // Marking the question's words in the context (token type 2): recorded in the sidecar, used by
  // evaluate and predict, and data encoded the other way is refused.
  enc.qa_mark_question_words = true;
  const auto marked = models::load_task_files(models::TaskType::kQa, {train}, tok, enc);
  REQUIRE(marked.qa_marks_question_words);
  models::finetune(marked, "qa", tok, config, "", tiny_run(dir + "/marked"));
  const std::string weights = dir + "/marked/model.safetensors";
  CHECK(models::read_model_meta(weights).qa_marks_question_words);
  CHECK(models::read_model_meta(weights).config.type_vocab_size == 3);  // the sidecar keeps it
  CHECK(models::predict(dir + "/marked", input).size() == 2);
  CHECK(std::isfinite(models::evaluate(weights, marked, tok).score));
  CHECK_THROWS_WITH(models::evaluate(weights, data, tok), Contains("question's words"));
  auto narrow = config;
  narrow.type_vocab_size = 2;
  CHECK_THROWS_WITH(models::finetune(marked, "qa", tok, narrow, "", tiny_run(dir + "/narrow")),
                    Contains("type_vocab_size 2"));
}

TEST_CASE("dropout is a run setting: a body pretrained without it is fine-tuned with it", "[app]") {
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  const std::string train = write(dir, "train.tsv", colour_tsv(60, 0));
  const auto tok =
      models::train_tokenizer(models::task_file_texts(models::TaskType::kClassify, train), 300);
  auto config = models::small_config(tok.vocab_size(), 32, 1, 64);
  CHECK(models::with_dropout(config, 0).dropout == 0);
  CHECK(models::with_dropout(config, -1).dropout == config.dropout);
  CHECK_THROWS_WITH(models::with_dropout(config, 1.0), Contains("dropout must be in [0, 1)"));

  models::ModelMeta meta;
  meta.kind = "encoder";
  meta.config = models::with_dropout(config, 0);
  meta.tokenizer_fingerprint = models::tokenizer_fingerprint(tok);
  const std::string weights = write(dir, "w.safetensors", "");
  CHECK_NOTHROW(models::check_model_meta(meta, weights, "encoder", &config, tok, "test"));
  auto wider = config;
  wider.d_model = 64;
  CHECK_THROWS_WITH(models::check_model_meta(meta, weights, "encoder", &wider, tok, "test"),
                    Contains("has config"));

  // finetune applies RunOptions::dropout to the model it trains (and records it).
  auto o = tiny_run(dir + "/out");
  o.steps = 2;
  o.dropout = 0.25;
  models::TaskEncoding enc;
  enc.seq_len = 32;
  const auto data = models::load_task_files(models::TaskType::kClassify, {train}, tok, enc);
  models::finetune(data, "classify", tok, config, "", o);
  CHECK(models::read_model_meta(dir + "/out/model.safetensors").config.dropout == 0.25);
}

TEST_CASE("body_lr_scale: a pretrained body moves at its own learning rate", "[app]") {
  // One step from the same pretrained body, the same head init and the same batch: AdamW's
  // update (with its decoupled weight decay) is proportional to the group's learning rate, so the
  // body's change at body_lr_scale 0.25 is a quarter of its change at 1, and the head's is equal.
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  const std::string train = write(dir, "train.tsv", colour_tsv(60, 0));
  const std::string valid = write(dir, "valid.tsv", colour_tsv(12, 1));
  const auto texts = models::task_file_texts(models::TaskType::kClassify, train);
  const auto tok = models::train_tokenizer(texts, 300);
  models::TaskEncoding enc;
  enc.seq_len = 32;
  const auto data =
      models::load_task_files(models::TaskType::kClassify, {train, valid, valid}, tok, enc);
  const auto config = models::small_config(tok.vocab_size(), 32, 1, 64);
  auto p = tiny_run(dir + "/pre");
  p.name = "mlm";
  p.steps = 2;
  const auto pre = models::pretrain("mlm", tok, texts, config, p);
  auto finetuned = [&](double scale, const std::string& name) {
    auto o = tiny_run(dir + "/" + name);
    o.steps = 1;
    o.eval_every = 0;
    o.warmup_ratio = 0;
    o.body_lr_scale = scale;
    return ts::safetensors::load(
        models::finetune(data, "classify", tok, config, pre.weights_path, o).weights_path);
  };
  const auto init = ts::safetensors::load(pre.weights_path);
  const auto full = finetuned(1.0, "full"), quarter = finetuned(0.25, "quarter");
  int body = 0, head = 0;
  for (const auto& [name, t] : full.tensors) {
    INFO(name);
    const ts::Tensor q = quarter.find(name);
    REQUIRE(q.defined());
    if (name.rfind("body.", 0) == 0) {
      const ts::Tensor before = init.find(name);
      if (!before.defined()) continue;  // not in the checkpoint
      const auto b = before.to_vector<double>(), f = t.to_vector<double>(),
                 g = q.to_vector<double>();
      double moved = 0, off = 0;
      for (size_t i = 0; i < b.size(); ++i) {
        moved = std::max(moved, std::abs(f[i] - b[i]));
        off = std::max(off, std::abs((g[i] - b[i]) - 0.25 * (f[i] - b[i])));
      }
      if (moved == 0) continue;  // no gradient reached it in one step
      CHECK(off <= 1e-2 * moved);
      ++body;
    } else if (name.rfind("classifier.", 0) == 0) {
      CHECK(q.to_vector<float>() == t.to_vector<float>());
      ++head;
    }
  }
  CHECK(body > 10);
  CHECK(head == 2);
}

TEST_CASE("generate_text continues a prompt with a causal-LM checkpoint", "[app]") {
  ts::test::ScratchDir scratch;
  const std::string dir = scratch.path().string();
  const auto texts = models::task_file_texts(models::TaskType::kClassify,
                                             write(dir, "train.tsv", colour_tsv(60, 0)));
  const auto tok = models::train_tokenizer(texts, 300);
  const auto config = models::small_config(tok.vocab_size(), 32, 1, 64);
  auto p = tiny_run(dir + "/pre");
  p.name = "clm";
  p.steps = 2;
  const auto clm = models::pretrain("clm", tok, texts, config, p);
  const std::string prompt = "a blue";
  const std::string text = models::generate_text(clm.weights_path, tok, prompt, 6);
  REQUIRE(text.size() > prompt.size());
  CHECK(text.rfind(prompt, 0) == 0);
  // what generate_text documents: greedy, repetition penalty 1.2, stopping at [EOS]
  models::DecoderModel model(config);
  ts::load(model, clm.weights_path);
  const auto ids = models::generate(
      model, tok.encode(prompt),
      {.max_new_tokens = 6, .repetition_penalty = 1.2, .eos_token_id = tok.token_to_id("[EOS]")});
  CHECK(text == prompt + tok.decode(ids, true));
  // sampling is seeded
  CHECK(models::generate_text(clm.weights_path, tok, prompt, 6, true, 5) ==
        models::generate_text(clm.weights_path, tok, prompt, 6, true, 5));
}

TEST_CASE("the sidecar keeps type_vocab_size and layer_norm_eps", "[app]") {
  // A model saved with 3 token types (small_config's) or another eps must load back as built:
  // the sidecar rebuilt it with the defaults, and loading its weights failed.
  ts::test::ScratchDir scratch;
  const std::string weights = scratch.file("m.safetensors");
  std::ofstream(weights) << "x";
  models::ModelMeta meta;
  meta.kind = "encoder";
  meta.config = models::small_config(50, 32, 1, 64);
  meta.config.type_vocab_size = 5;
  meta.config.layer_norm_eps = 1e-3;
  models::write_model_meta(weights, meta);
  const models::ModelMeta back = models::read_model_meta(weights);
  CHECK(back.config.type_vocab_size == 5);
  CHECK(back.config.layer_norm_eps == 1e-3);
  // a sidecar written before they were recorded reads as the defaults
  auto j = nlohmann::json::parse(ts::test::read_text(models::model_meta_path(weights)));
  j.at("config").erase("type_vocab_size");
  j.at("config").erase("layer_norm_eps");
  std::ofstream(models::model_meta_path(weights)) << j.dump();
  const models::ModelMeta old = models::read_model_meta(weights);
  CHECK(old.config.type_vocab_size == 2);
  CHECK(old.config.layer_norm_eps == 1e-5);
}
