// taesan: the command-line program (built as examples/taesan_cli: the target name `taesan` is
// the library's). Subcommands pretrain, finetune, evaluate, generate and demo,
// each with --help; every failure is a one-line error (exit 1), a bad command line exits 2 and
// Ctrl-C during training saves a resumable checkpoint and exits 130.
//
//   taesan demo [--quick] [--data DIR] [--out DIR]
//   taesan pretrain --objective mlm --out runs/enc
//   taesan finetune --task spam --init runs/enc/pretrain_mlm.safetensors --out runs/spam
//   taesan evaluate --model runs/spam/spam.safetensors --tokenizer runs/enc/tokenizer.json
//   taesan generate --model runs/dec/pretrain_clm.safetensors --prompt "티끌 모아"
//   taesan-run --nproc 2 taesan pretrain --objective clm --out runs/dec   (data-parallel)
#include <taesan/taesan.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <thread>
#include <string>
#include <vector>

#include "taesan/data/data.h"
#include "taesan/dist/init.h"
#include "taesan/app/tasks.h"
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
    {"data", true},  {"out", true},   {"name", true},     {"steps", true},  {"batch", true},
    {"seq-len", true}, {"lr", true},  {"seed", true},     {"threads", true}, {"tokenizer", true},
    {"resume", true}, {"max-train", true}, {"time-budget", true}, {"patience", true},
    {"quiet", false}};

const char* kRunHelp =
    "  --data DIR         dataset pack (default ../shared/data)\n"
    "  --out DIR          output folder (weights + .json sidecar, CSV log, SVG chart)\n"
    "  --name NAME        file stem of the outputs\n"
    "  --steps N --batch N --seq-len N --lr X --seed N --patience N\n"
    "  --max-train N      use at most N training examples\n"
    "  --time-budget S    stop training after S seconds\n"
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
  return (fs::path(weights).parent_path() / "tokenizer.json").string();
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
  ts::data::BpeTokenizer tok =
      !o.init.empty()     ? load_tokenizer(tokenizer_for(a, o.init))
      : a.has("tokenizer") ? load_tokenizer(a.str("tokenizer"))
                           : ts::models::train_tokenizer(texts, a.num("vocab", 6000));
  fs::create_directories(o.out_dir);
  if (ts::dist::is_main_process()) tok.save((fs::path(o.out_dir) / "tokenizer.json").string());
  const auto config = !o.init.empty() ? ts::models::read_model_meta(o.init).config
                                      : ts::models::small_config(tok.vocab_size(),
                                                                 a.num("d-model", 128),
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

int cmd_finetune(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan finetune --task TASK [--init WEIGHTS] [options]\n"
        "Fine-tunes a task model (from a pretrained checkpoint, or from scratch without\n"
        "--init) and scores it on the held-out test split.\n"
        "  --task spam|sentiment|ner|qa|generation|translation (required)\n"
        "  --init FILE   weights from taesan pretrain (its tokenizer.json is used unless\n"
        "                --tokenizer is given)\n"
        "  --body-lr-scale X  learning-rate multiplier of the pretrained body (default 1)\n%s",
        kRunHelp);
    return 0;
  }
  const std::string task = a.need("task");
  ts::models::task_model_kind(task);  // unknown task: a clear error first
  auto o = run_options(a, task, 200);
  o.body_lr_scale = a.real("body-lr-scale", 1.0);
  const std::string init = a.str("init");
  TS_CHECK(!init.empty() || a.has("tokenizer"),
           "finetune: give --init WEIGHTS (pretrained) or --tokenizer FILE (from scratch)");
  const auto tok = load_tokenizer(init.empty() ? a.str("tokenizer") : tokenizer_for(a, init));
  const auto config = init.empty() ? ts::models::small_config(tok.vocab_size())
                                   : ts::models::read_model_meta(init).config;
  const auto s = ts::models::finetune(task, tok, a.str("data", "../shared/data"), config, init, o);
  if (!ts::dist::is_main_process()) return s.train.interrupted ? 130 : 0;
  if (s.train.interrupted) {
    std::fprintf(stderr, "interrupted: resume with --resume %s\n", s.train.checkpoint_path.c_str());
    return 130;
  }
  std::printf("%s: test %s = %.3f (validation %.3f) in %.0fs -> %s\n", task.c_str(),
              s.metric.c_str(), s.score, s.validation, s.seconds, s.weights_path.c_str());
  if (!s.sample.empty()) std::printf("sample: %s\n", s.sample.c_str());
  return 0;
}

int cmd_evaluate(const Args& a) {
  if (a.help) {
    std::printf(
        "taesan evaluate --model WEIGHTS [--tokenizer FILE] [--data DIR] [--seq-len N]\n"
        "Scores fine-tuned weights (from taesan finetune) on their task's test split.\n");
    return 0;
  }
  const std::string model = a.need("model");
  auto o = run_options(a, "evaluate", 1);
  const auto tok = load_tokenizer(tokenizer_for(a, model));
  const auto s = ts::models::evaluate_task(model, tok, a.str("data", "../shared/data"), o);
  std::printf("%s: test %s = %.3f\n", s.task.c_str(), s.metric.c_str(), s.score);
  if (!s.sample.empty()) std::printf("sample: %s\n", s.sample.c_str());
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
  std::printf("%s\n", ts::models::generate_text(model, tok, a.need("prompt"), a.num("max-new", 40),
                                                a.has("sample"),
                                                static_cast<uint64_t>(a.num("seed", 0)))
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
    "  finetune   a task model (spam, sentiment, ner, qa, generation, translation)\n"
    "  evaluate   score fine-tuned weights on the held-out test split\n"
    "  generate   continue a prompt (decoder) or translate (encoder-decoder)\n"
    "  demo       the whole story: pretraining vs from scratch on every task\n";

}  // namespace

int main(int argc, char** argv) {
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
      flags.insert({{"objective", true}, {"vocab", true}, {"d-model", true}, {"layers", true},
                    {"init", true}});
      return cmd_pretrain(Args(argc, argv, 2, flags));
    }
    if (cmd == "finetune") {
      flags.insert({"init", true});
      flags.insert({"task", true});
      flags.insert({"body-lr-scale", true});
      return cmd_finetune(Args(argc, argv, 2, flags));
    }
    if (cmd == "evaluate") {
      flags.insert({"model", true});
      return cmd_evaluate(Args(argc, argv, 2, flags));
    }
    if (cmd == "generate")
      return cmd_generate(Args(argc, argv, 2,
                               {{"model", true}, {"tokenizer", true}, {"prompt", true},
                                {"max-new", true}, {"sample", false}, {"seed", true},
                                {"threads", true}}));
    if (cmd == "demo")
      return cmd_demo(Args(argc, argv, 2,
                           {{"quick", false}, {"data", true}, {"out", true}, {"threads", true},
                            {"quiet", false}, {"tasks", true}}));
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
