// The `taesan` command line (examples/taesan_cli.cc is its main): pretrain, finetune, evaluate,
// predict, generate and demo, each with --help; every failure is a one-line error (exit 1), a
// bad command line exits 2 and Ctrl-C during training saves a resumable checkpoint and exits 130.
//
//   taesan demo [--quick] [--data DIR] [--out DIR]
//   taesan pretrain --objective mlm --out runs/enc
//   taesan finetune --task spam --init runs/enc/pretrain_mlm.safetensors --out runs/spam
//   taesan finetune --task classify --train my.tsv [--valid v.tsv] [--test t.tsv] --out runs/my
//   taesan evaluate --model runs/my --test other.tsv
//   taesan predict --model runs/my --input new.txt > predictions.jsonl
//   taesan generate --model runs/dec/pretrain_clm.safetensors --prompt "티끌 모아"
//   taesan-run --nproc 2 taesan pretrain --objective clm --out runs/dec   (data-parallel)
#include "taesan/app/cli.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "taesan/app/tasks.h"
#include "taesan/core/parallel.h"
#include "taesan/data/data.h"
#include "taesan/dist/dist.h"
#include "taesan/dist/init.h"
#include "taesan/train/trainer.h"

namespace ts = taesan;
namespace fs = std::filesystem;

namespace {

struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// --name value / --flag arguments of a subcommand, checked against the allowed names.
class Args {
 public:
  Args(int argc, char** argv, int first, const std::map<std::string, bool>& allowed) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-h" || a == "--help") {
        help = true;
        continue;
      }
      if (a.rfind("--", 0) != 0) throw Usage("unexpected argument '" + a + "'");
      a = a.substr(2);
      auto it = allowed.find(a);
      if (it == allowed.end()) throw Usage("unknown option --" + a);
      if (!it->second) {
        values_[a] = "1";
        continue;
      }
      if (i + 1 >= argc) throw Usage("--" + a + " needs a value");
      values_[a] = argv[++i];
    }
  }
  bool has(const std::string& k) const { return values_.count(k) > 0; }
  std::string str(const std::string& k, const std::string& def = "") const {
    auto it = values_.find(k);
    return it == values_.end() ? def : it->second;
  }
  int64_t num(const std::string& k, int64_t def) const {
    if (!has(k)) return def;
    try {
      size_t used = 0;
      const int64_t v = std::stoll(str(k), &used);
      if (used == str(k).size()) return v;
    } catch (const std::exception&) {
    }
    throw Usage("--" + k + " expects an integer, got '" + str(k) + "'");
  }
  double real(const std::string& k, double def) const {
    if (!has(k)) return def;
    try {
      size_t used = 0;
      const double v = std::stod(str(k), &used);
      if (used == str(k).size()) return v;
    } catch (const std::exception&) {
    }
    throw Usage("--" + k + " expects a number, got '" + str(k) + "'");
  }
  std::string need(const std::string& k) const {
    if (!has(k)) throw Usage("--" + k + " is required");
    return str(k);
  }
  bool help = false;

 private:
  std::map<std::string, std::string> values_;
};

const std::map<std::string, bool> kRunFlags = {
    {"data", true},        {"out", true},       {"name", true},   {"steps", true},
    {"batch", true},       {"seq-len", true},   {"lr", true},     {"seed", true},
    {"threads", true},     {"tokenizer", true}, {"resume", true}, {"max-train", true},
    {"time-budget", true}, {"patience", true},  {"quiet", false}, {"dropout", true}};

const char* kRunHelp =
    "  --data DIR         dataset pack (default ../shared/data)\n"
    "  --out DIR          output folder (weights + .json sidecar, CSV log, SVG chart)\n"
    "  --name NAME        file stem of the outputs\n"
    "  --steps N --batch N --seq-len N --lr X --seed N --patience N\n"
    "  --max-train N      use at most N training examples\n"
    "  --time-budget S    stop training after S seconds\n"
    "  --dropout X        dropout while training (default: pretrain the config's, 0.1 for a\n"
    "                     new config; finetune 0.1)\n"
    "  --resume FILE      continue from <name>.ckpt.safetensors (same settings)\n"
    "  --threads N        worker threads (default 2; under taesan-run: cores / local ranks)\n"
    "  --quiet            no progress output\n";

ts::models::RunOptions run_options(const Args& a, const std::string& name, int64_t steps) {
  ts::models::RunOptions o;
  o.name = a.str("name", name);
  o.out_dir = a.str("out", "taesan_out");
  o.steps = a.num("steps", steps);
  o.batch_size = a.num("batch", 16);
  o.seq_len = a.num("seq-len", 64);
  o.lr = a.real("lr", 5e-4);
  o.seed = static_cast<uint64_t>(a.num("seed", 1234));
  o.patience = a.num("patience", 0);
  o.max_train = a.num("max-train", 0);
  o.time_budget_seconds = a.real("time-budget", 0);
  o.resume_from = a.str("resume");
  o.dropout = a.real("dropout", -1);
  o.verbose = !a.has("quiet") && ts::dist::is_main_process();  // under taesan-run: rank 0 talks
  // Under taesan-run the machine's cores are shared by its ranks.
  const auto env = ts::dist::DistEnv::from_env();
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = env.distributed ? std::max(1, cores / env.local_world_size) : 2;
  ts::set_num_threads(static_cast<int>(a.num("threads", threads)));
  return o;
}

ts::data::BpeTokenizer load_tokenizer(const std::string& path) {
  TS_CHECK(fs::exists(path), "tokenizer file '{}' does not exist (pass --tokenizer FILE)", path);
  return ts::data::BpeTokenizer::load(path);
}

/// The tokenizer of a model: --tokenizer, else tokenizer.json beside the weights.
std::string tokenizer_for(const Args& a, const std::string& weights) {
  TS_CHECK(fs::exists(weights), "model weights '{}' do not exist", weights);
  if (a.has("tokenizer")) return a.str("tokenizer");
  // The tokenizer recorded in the sidecar (tokenizer.json beside the weights in older ones).
  return ts::models::model_tokenizer_path(weights, ts::models::read_model_meta(weights));
}

int cmd_pretrain(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan pretrain --objective mlm|rtd|clm|span [options]\n"
        "Pretrains an encoder (mlm: masked LM; rtd: ELECTRA's replaced-token detection),\n"
        "a decoder (clm: next token) or an encoder-decoder (span: span corruption) on the\n"
        "pack's English + Korean text.\n"
        "Without --tokenizer (or --init) a BPE tokenizer is trained and saved as\n"
        "OUT/tokenizer.json.\n"
        "  --objective mlm|rtd|clm|span (required)\n  --vocab N --d-model N --layers N\n"
        "  --init FILE   continue pretraining these weights (of the same objective; their\n"
        "                config, and their tokenizer.json unless --tokenizer is given)\n%s",
        kRunHelp);
    return 0;
  }
  const std::string obj = a.need("objective");
  auto o = run_options(a, "pretrain_" + obj, 300);
  const std::string data = a.str("data", "../shared/data");
  const auto texts = ts::models::pretraining_texts(data);
  o.init = a.str("init");
  ts::data::BpeTokenizer tok = !o.init.empty() ? load_tokenizer(tokenizer_for(a, o.init))
                               : a.has("tokenizer")
                                   ? load_tokenizer(a.str("tokenizer"))
                                   : ts::models::train_tokenizer(texts, a.num("vocab", 6000));
  fs::create_directories(o.out_dir);
  if (ts::dist::is_main_process()) tok.save((fs::path(o.out_dir) / "tokenizer.json").string());
  const auto config = !o.init.empty()
                          ? ts::models::read_model_meta(o.init).config
                          : ts::models::small_config(tok.vocab_size(), a.num("d-model", 128),
                                                     a.num("layers", 2), 128);
  const auto r = ts::models::pretrain(obj, tok, texts, config, o);
  if (!ts::dist::is_main_process()) return r.train.interrupted ? 130 : 0;
  if (r.train.interrupted) {
    std::fprintf(stderr, "interrupted: resume with --resume %s\n", r.train.checkpoint_path.c_str());
    return 130;
  }
  std::printf("%s: validation loss %.4f in %.0fs -> %s\n", obj.c_str(), r.validation_loss,
              r.seconds, r.weights_path.c_str());
  return 0;
}

/// The task-run settings a fine-tuning command line may change.
ts::models::TaskRunOptions task_run_options(const Args& a) {
  ts::models::TaskRunOptions ro;
  ro.ner_tag_weight_power = a.real("tag-weight-power", ro.ner_tag_weight_power);
  if (a.has("word-pooling")) ro.ner_word_pooling = a.str("word-pooling");
  ro.metric = a.str("metric");
  return ro;
}

/// Options a fine-tuning command line sets on top of a task type's defaults.
ts::models::RunOptions finetune_options(const Args& a, ts::models::TaskType type, bool pretrained,
                                        const std::string& name) {
  ts::models::RunOptions o = ts::models::default_finetune_options(type, pretrained);
  const ts::models::RunOptions base = run_options(a, name, o.steps);  // threads, out, verbose
  o.name = base.name;
  o.out_dir = base.out_dir;
  o.verbose = base.verbose;
  o.resume_from = base.resume_from;
  o.seed = base.seed;
  o.steps = a.num("steps", o.steps);
  o.batch_size = a.num("batch", o.batch_size);
  o.seq_len = a.num("seq-len", o.seq_len);
  o.lr = a.real("lr", o.lr);
  o.patience = a.num("patience", o.patience);
  o.max_train = a.num("max-train", 0);
  o.time_budget_seconds = a.real("time-budget", o.time_budget_seconds);
  o.eval_every = a.num("eval-every", -1);
  o.body_lr_scale = a.real("body-lr-scale", 1.0);
  o.dropout = a.real("dropout", o.dropout);
  return o;
}

void print_score(const ts::models::TaskScore& s) {
  std::printf("%s: validation %s %.3f; test rows %lld; baseline (%s) %.3f\n", s.task.c_str(),
              s.metric.c_str(), s.validation, static_cast<long long>(s.test_rows),
              s.baseline_name.c_str(), s.baseline);
  if (!s.sample.empty()) std::printf("sample: %s\n", s.sample.c_str());
  if (!s.weights_path.empty()) std::printf("model: %s\n", s.weights_path.c_str());
  if (std::isnan(s.score))
    std::printf("test %s: none (no --test file)\n", s.metric.c_str());
  else
    std::printf("test %s: %.3f\n", s.metric.c_str(), s.score);
}

int cmd_finetune(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan finetune --task TYPE --train FILE [--valid FILE] [--test FILE] --out DIR\n"
        "taesan finetune --task PACK_TASK [--data DIR] --out DIR\n"
        "Fine-tunes a task model on your files (or on a task of the dataset pack), from a\n"
        "pretrained checkpoint (--init) or from scratch, until the validation score stops\n"
        "improving; scores the test file beside a simple baseline on the same rows. Writes\n"
        "DIR/model.safetensors (+ model.json sidecar, tokenizer.json), DIR/metrics.json and\n"
        "the training log; the last line is 'test <metric>: <value>'.\n"
        "  --task classify|ner|qa|translation|generation  (your files), or\n"
        "         spam|sentiment|ner|qa|generation|translation with --data (the pack's tasks)\n"
        "  --train FILE  classify: label<TAB>text; ner: CoNLL (BIO tags); qa: SQuAD-style\n"
        "                JSONL; translation: source<TAB>target; generation: text per line\n"
        "  --valid FILE  chooses the best weights and stops training (default: 10%% of --train,\n"
        "                seeded)\n"
        "  --test FILE   scored at the end (never used for any choice)\n"
        "  --init FILE   weights from taesan pretrain (its tokenizer is used); without it a\n"
        "                tokenizer is trained on the training file (or --tokenizer FILE)\n"
        "  --vocab N     vocabulary of that tokenizer (default 4000); --d-model N --layers N\n"
        "  --eval-every N  steps between validations (default: twice per epoch)\n"
        "  --metric accuracy|macro-F1  classify's metric (default accuracy)\n"
        "  --tag-weight-power X  ner: weigh tags by (count(O) / count(tag))^X (default 0.5)\n"
        "  --word-pooling mean|first  ner: a word's tag from the mean of its tokens' logits\n"
        "                (default) or from its first token's\n"
        "  --body-lr-scale X  learning-rate multiplier of the pretrained body (default 1)\n"
        "Training defaults per task type: see default_finetune_options in app/finetune.cc;\n"
        "--steps is a cap, --patience counts validations without improvement (default 6).\n%s",
        kRunHelp);
    return 0;
  }
  const std::string task = a.need("task");
  const bool user_files = a.has("train");
  const ts::models::TaskType type = ts::models::task_type_of(task);  // unknown: a clear error
  const std::string init = a.str("init");
  auto o = finetune_options(a, type, !init.empty(), user_files ? "model" : task);
  if (!user_files) {
    TS_CHECK(!a.has("valid") && !a.has("test"),
             "finetune: --valid and --test need --train (the pack's tasks split their file)");
    TS_CHECK(ts::models::is_pack_task(task),
             "finetune: --task {} needs --train FILE (it is not a task of the dataset pack)", task);
  }
  // The tokenizer: the pretrained model's, a given one, or one trained on the training file.
  const ts::data::BpeTokenizer tok = [&] {
    if (!init.empty())
      return load_tokenizer(a.has("tokenizer") ? a.str("tokenizer")
                                               : ts::models::model_tokenizer_path(
                                                     init, ts::models::read_model_meta(init)));
    if (a.has("tokenizer")) return load_tokenizer(a.str("tokenizer"));
    TS_CHECK(user_files,
             "finetune: give --init WEIGHTS (pretrained) or --tokenizer FILE (from "
             "scratch) for a pack task");
    return ts::models::train_tokenizer(ts::models::task_file_texts(type, a.str("train")),
                                       a.num("vocab", 4000));
  }();
  const int64_t context = std::max<int64_t>(128, o.seq_len);
  const auto config = init.empty()
                          ? ts::models::small_config(tok.vocab_size(), a.num("d-model", 128),
                                                     a.num("layers", 2), context)
                          : ts::models::read_model_meta(init).config;
  o.seq_len = std::min(o.seq_len, config.max_position);
  ts::models::TaskScore s;
  if (user_files) {
    ts::models::TaskFiles files;
    files.train = a.str("train");
    files.validation = a.str("valid");
    files.test = a.str("test");
    files.split_seed = o.seed;
    ts::models::TaskEncoding enc;
    enc.seq_len = o.seq_len;
    enc.qa_mark_question_words = ts::models::qa_should_mark_question_words(config);
    const auto data = ts::models::load_task_files(type, files, tok, enc);
    s = ts::models::finetune(data, task, tok, config, init, o, task_run_options(a));
  } else {
    s = ts::models::finetune(task, tok, a.str("data", "../shared/data"), config, init, o,
                             task_run_options(a));
  }
  if (!ts::dist::is_main_process()) return s.train.interrupted ? 130 : 0;
  if (s.train.interrupted) {
    std::fprintf(stderr, "interrupted: resume with --resume %s\n", s.train.checkpoint_path.c_str());
    return 130;
  }
  // DIR/metrics.json: the run's <name>.metrics.json under the name users look for.
  const fs::path per_run = fs::path(o.out_dir) / (o.name + ".metrics.json");
  if (fs::exists(per_run))
    ts::models::write_file_atomic((fs::path(o.out_dir) / "metrics.json").string(),
                                  ts::data::read_file(per_run.string()));
  print_score(s);
  return 0;
}

int cmd_evaluate(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan evaluate --model DIR_OR_WEIGHTS --test FILE [--out DIR]\n"
        "taesan evaluate --model WEIGHTS [--data DIR]   (a pack task's test split)\n"
        "Scores fine-tuned weights (from taesan finetune) on a labelled file of their task's\n"
        "format, beside the simple baseline when the model's training rows are known (pack\n"
        "tasks). With --out, writes DIR/metrics.json. The last line is 'test <metric>: "
        "<value>'.\n");
    return 0;
  }
  const std::string model = ts::models::resolve_model_path(a.need("model"));
  auto o = run_options(a, "evaluate", 1);
  ts::models::TaskScore s;
  if (a.has("test")) {
    s = ts::models::evaluate_file(model, a.str("test"));
  } else {
    const auto meta = ts::models::read_model_meta(model);
    const auto tok = load_tokenizer(
        a.has("tokenizer") ? a.str("tokenizer") : ts::models::model_tokenizer_path(model, meta));
    s = ts::models::evaluate_task(model, tok, a.str("data", "../shared/data"), o);
  }
  if (a.has("out")) {
    fs::create_directories(a.str("out"));
    nlohmann::json j{
        {"task", s.task},
        {"metric", s.metric},
        {"value", s.score},
        {"baseline", std::isnan(s.baseline) ? nlohmann::json(nullptr) : nlohmann::json(s.baseline)},
        {"baseline_name", s.baseline_name},
        {"test_rows", s.test_rows},
        {"model", model}};
    ts::models::write_file_atomic((fs::path(a.str("out")) / "metrics.json").string(),
                                  j.dump(2) + "\n");
  }
  if (!s.sample.empty()) std::printf("sample: %s\n", s.sample.c_str());
  std::printf("test %s: %.3f\n", s.metric.c_str(), s.score);
  return 0;
}

int cmd_predict(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan predict --model DIR_OR_WEIGHTS --input FILE [--output FILE] [--max-new N]\n"
        "Runs a fine-tuned model on new inputs and prints one JSON object per input (JSONL):\n"
        "  classify     text per line                 -> {\"text\",\"label\",\"scores\"}\n"
        "  ner          sentence per line (or .conll)  -> {\"text\",\"words\",\"tags\",\n"
        "               \"entities\":[{\"type\",\"text\",\"start\",\"end\"}]} (character offsets)\n"
        "  qa           JSONL {\"context\",\"question\"} -> "
        "{\"id\",\"question\",\"answer\",\"start\",\n"
        "               \"end\"} (character offsets into the context)\n"
        "  translation  source per line               -> {\"source\",\"translation\"}\n"
        "  generation   prompt per line               -> {\"prompt\",\"generation\"}\n"
        "  --output FILE  write there (atomically) instead of standard output\n");
    return 0;
  }
  ts::set_num_threads(static_cast<int>(a.num("threads", 2)));
  const auto lines = ts::models::predict(a.need("model"), a.need("input"), a.num("max-new", 40));
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  if (a.has("output"))
    ts::models::write_file_atomic(a.str("output"), out);
  else
    std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int cmd_generate(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan generate --model WEIGHTS --prompt TEXT [--max-new N] [--sample] [--seed N]\n"
        "Continues TEXT with a decoder, or translates it with an encoder-decoder.\n"
        "  --tokenizer FILE   default: tokenizer.json beside the weights\n");
    return 0;
  }
  const std::string model = a.need("model");
  ts::set_num_threads(static_cast<int>(a.num("threads", 2)));
  const auto tok = load_tokenizer(tokenizer_for(a, model));
  std::printf("%s\n",
              ts::models::generate_text(model, tok, a.need("prompt"), a.num("max-new", 40),
                                        a.has("sample"), static_cast<uint64_t>(a.num("seed", 0)))
                  .c_str());
  return 0;
}

int cmd_demo(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan demo [--quick] [--data DIR] [--out DIR] [--threads N]\n"
        "Trains a tokenizer, pretrains an encoder, a decoder and an encoder-decoder on the\n"
        "pack's text, then trains every task from scratch and from the pretrained body with\n"
        "the same budget, and prints the table. Writes OUT/results.md, OUT/results.json and\n"
        "the CSV logs / SVG charts of every run (OUT/runs). About 10 minutes on 2 cores;\n"
        "--quick runs every stage briefly (under 3 minutes).\n"
        "  --data DIR   dataset pack (default ../shared/data)\n"
        "  --out DIR    output folder (default demo_out)\n"
        "  --tasks A,B  only these tasks (and the pretraining they need), e.g. ner,qa\n");
    return 0;
  }
  ts::models::DemoOptions d;
  d.quick = a.has("quick");
  d.data_dir = a.str("data", "../shared/data");
  d.out_dir = a.str("out", "demo_out");
  d.threads = static_cast<int>(a.num("threads", 2));
  d.verbose = !a.has("quiet");
  for (std::string rest = a.str("tasks"); !rest.empty();) {
    const size_t comma = rest.find(',');
    d.tasks.push_back(rest.substr(0, comma));
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  ts::models::run_demo(d);
  return 0;
}

const char* kTopHelp =
    "taesan: pretrain and fine-tune Transformers on the CPU\n"
    "usage: taesan <command> [options]   (taesan <command> --help)\n"
    "  pretrain   masked LM / causal LM / span corruption on the pack's text\n"
    "  finetune   a task model on your files (classify, ner, qa, translation, generation)\n"
    "             or on a task of the dataset pack\n"
    "  evaluate   score fine-tuned weights on a test file\n"
    "  predict    run fine-tuned weights on new inputs (JSONL out)\n"
    "  generate   continue a prompt (decoder) or translate (encoder-decoder)\n"
    "  demo       the whole story: pretraining vs from scratch on every task\n";

}  // namespace

namespace taesan::models {
int run_cli(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::printf("%s", kTopHelp);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    // Under taesan-run (WORLD_SIZE set) training commands join the job: the Trainer then trains
    // data-parallel and only rank 0 prints and writes.
    std::optional<ts::dist::ProcessGroupGuard> dist_group;
    if ((cmd == "pretrain" || cmd == "finetune") && ts::dist::DistEnv::from_env().distributed) {
      ts::dist::init_process_group();
      dist_group.emplace();
    }
    std::map<std::string, bool> flags = kRunFlags;
    if (cmd == "pretrain") {
      flags.insert({{"objective", true},
                    {"vocab", true},
                    {"d-model", true},
                    {"layers", true},
                    {"init", true}});
      return cmd_pretrain(Args(argc, argv, 2, flags));
    }
    if (cmd == "finetune") {
      flags.insert({{"init", true},
                    {"task", true},
                    {"body-lr-scale", true},
                    {"train", true},
                    {"valid", true},
                    {"test", true},
                    {"vocab", true},
                    {"d-model", true},
                    {"layers", true},
                    {"eval-every", true},
                    {"metric", true},
                    {"tag-weight-power", true},
                    {"word-pooling", true}});
      return cmd_finetune(Args(argc, argv, 2, flags));
    }
    if (cmd == "evaluate") {
      flags.insert({{"model", true}, {"test", true}});
      return cmd_evaluate(Args(argc, argv, 2, flags));
    }
    if (cmd == "predict")
      return cmd_predict(Args(argc, argv, 2,
                              {{"model", true},
                               {"input", true},
                               {"output", true},
                               {"max-new", true},
                               {"threads", true}}));
    if (cmd == "generate")
      return cmd_generate(Args(argc, argv, 2,
                               {{"model", true},
                                {"tokenizer", true},
                                {"prompt", true},
                                {"max-new", true},
                                {"sample", false},
                                {"seed", true},
                                {"threads", true}}));
    if (cmd == "demo")
      return cmd_demo(Args(argc, argv, 2,
                           {{"quick", false},
                            {"data", true},
                            {"out", true},
                            {"threads", true},
                            {"quiet", false},
                            {"tasks", true}}));
    std::fprintf(stderr, "taesan: unknown command '%s'\n%s", cmd.c_str(), kTopHelp);
    return 2;
  } catch (const Usage& e) {
    std::fprintf(stderr, "taesan %s: %s (see taesan %s --help)\n", cmd.c_str(), e.what(),
                 cmd.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "taesan %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
}  // namespace taesan::models
