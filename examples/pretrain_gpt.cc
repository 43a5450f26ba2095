// Pretrain a small GPT (decoder-only, next-token prediction) on the pack's English + Korean text,
// then continue "티끌 모아" with it. Shows: tokenizer training, causal-LM blocks, the Trainer,
// perplexity on held-out text, generation with the key/value cache.
//
//   pretrain_gpt [data_dir = ../shared/data] [steps = 300]
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "taesan/app/tasks.h"
#include "taesan/data/data.h"
#include "taesan/train/trainer.h"
#include <taesan/taesan.h>

namespace ts = taesan;

int main(int argc, char** argv) try {
  const std::string data_dir = argc > 1 ? argv[1] : "../shared/data";
  const int64_t steps = argc > 2 ? std::stoll(argv[2]) : 300;
  ts::set_num_threads(2);
  ts::manual_seed(42);

  // 1. Text and a byte-level BPE tokenizer (any UTF-8, Korean included).
  std::vector<std::string> texts = ts::models::pretraining_texts(data_dir, 3000);
  ts::data::BpeTrainOptions topt;
  topt.vocab_size = 4000;
  topt.special_tokens = ts::data::kDefaultSpecialTokens;
  auto tok = ts::data::BpeTokenizer::train(texts, topt);

  // 2. Hold out every 20th text; cut the rest into blocks of 64 next-token examples.
  std::vector<std::string> train_texts, val_texts;
  for (size_t i = 0; i < texts.size(); ++i) (i % 20 == 0 ? val_texts : train_texts).push_back(texts[i]);
  ts::data::CausalLmOptions copt;
  copt.block_size = 64;
  ts::data::BatcherOptions bopt;
  bopt.batch_size = 16;
  bopt.seed = 42;
  ts::data::Batcher train(ts::data::causal_lm_dataset(tok, train_texts, copt), bopt);
  auto val_examples = ts::data::causal_lm_dataset(tok, val_texts, copt);
  val_examples.resize(std::min<size_t>(val_examples.size(), 128));
  const auto val = ts::data::collate(val_examples);

  // 3. A GPT-like model: token + position embeddings, pre-LN causal blocks, tied output.
  ts::models::ModelConfig config;
  config.vocab_size = tok.vocab_size();
  config.max_position = 128;
  config.d_model = 128;
  config.num_heads = 2;
  config.num_layers = 2;
  config.d_ff = 512;
  ts::models::DecoderModel gpt(config);

  // 4. Train: the step function returns the loss of micro-batch i; the trainer does the rest
  //    (AdamW, warmup-cosine, clipping, evaluation, best weights, CSV + SVG, Ctrl-C).
  ts::models::TrainerOptions opt;
  opt.name = "gpt";
  opt.out_dir = "pretrain_gpt_out";
  opt.max_steps = steps;
  opt.lr = 1e-3;
  opt.eval_every = std::max<int64_t>(1, steps / 5);
  ts::models::Trainer trainer(gpt, opt);
  auto result = trainer.fit(
      [&](int64_t i) {
        train.set_epoch(i / train.num_batches());
        auto b = train.batch(i % train.num_batches());
        return ts::models::StepOutput{ts::models::lm_loss(gpt.forward(b.input_ids), b.labels),
                                      b.input_ids.numel()};
      },
      [&] { return ts::models::lm_loss(gpt.forward(val.input_ids), val.labels).item<float>() * 1.0; });
  if (result.interrupted) return 130;
  std::printf("validation loss %.3f, perplexity %.1f (log and chart in %s)\n", result.best_eval,
              std::exp(result.best_eval), opt.out_dir.c_str());

  // 5. Continue a prompt: sampling with top-k / top-p and a repetition penalty.
  ts::models::GenerationOptions g;
  g.max_new_tokens = 30;
  g.do_sample = true;
  g.top_k = 40;
  g.top_p = 0.95;
  g.repetition_penalty = 1.2;
  g.eos_token_id = tok.token_to_id("[EOS]");
  const std::string prompt = "티끌 모아";
  std::printf("%s%s\n", prompt.c_str(), tok.decode(generate(gpt, tok.encode(prompt), g), true).c_str());
  ts::save(gpt, opt.out_dir + "/gpt.safetensors");
  tok.save(opt.out_dir + "/tokenizer.json");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "pretrain_gpt: %s\n", e.what());
  return 1;
}
