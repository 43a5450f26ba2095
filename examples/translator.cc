// English -> Korean translation with an encoder-decoder: fine-tune on Tatoeba pairs with the
// ready-made pipeline (chrF on held-out pairs, greedy decoding), optionally from a pretrained
// checkpoint — a causal LM (`taesan pretrain --objective clm`, which warm-starts both stacks, as
// the demo does) or an encoder-decoder pretrained by span corruption (`--objective span`) — then
// translate sentences with beam search.
//
//   translator [data_dir = ../shared/data] [pretrain_clm.safetensors]
#include <cstdio>
#include <filesystem>
#include <string>

#include "taesan/app/tasks.h"
#include "taesan/data/data.h"
#include <taesan/taesan.h>

namespace ts = taesan;

int main(int argc, char** argv) try {
  const std::string data_dir = argc > 1 ? argv[1] : "../shared/data";
  const std::string init = argc > 2 ? argv[2] : "";  // from `taesan pretrain`: clm or span
  ts::set_num_threads(2);
  const std::string out = "translator_out";
  std::filesystem::create_directories(out);
  auto tok = init.empty()
                 ? ts::models::train_tokenizer(ts::models::pretraining_texts(data_dir, 2000), 4000)
                 : ts::data::BpeTokenizer::load(
                       ts::models::model_tokenizer_path(init, ts::models::read_model_meta(init)));
  tok.save(out + "/tokenizer.json");
  auto config = init.empty() ? ts::models::small_config(tok.vocab_size())
                             : ts::models::read_model_meta(init).config;

  ts::models::RunOptions run;
  run.name = "translation";
  run.out_dir = out;
  run.steps = 300;
  run.batch_size = 32;
  run.seq_len = 32;
  run.lr = 1e-3;
  auto score = ts::models::finetune("translation", tok, data_dir, config, init, run);
  std::printf("test %s = %.2f\nsample: %s\n", score.metric.c_str(), score.score,
              score.sample.c_str());

  // Beam search by hand: source "text [EOS]", decoding starts at [BOS] and stops at [EOS].
  ts::models::EncoderDecoderModel model(config);
  ts::load(model, score.weights_path);
  model.eval();
  ts::NoGradGuard no_grad;
  ts::models::GenerationOptions g;
  g.num_beams = 4;
  g.length_penalty = 1.0;
  g.max_new_tokens = 30;
  g.eos_token_id = tok.token_to_id("[EOS]");
  for (const char* en : {"I am hungry.", "Where is the station?", "Thank you very much."}) {
    auto src = tok.encode(en);
    src.push_back(tok.token_to_id("[EOS]"));
    auto out_ids = ts::models::generate(model, src, tok.token_to_id("[BOS]"), g);
    std::printf("%s -> %s\n", en, tok.decode(out_ids, true).c_str());
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "translator: %s\n", e.what());
  return 1;
}
