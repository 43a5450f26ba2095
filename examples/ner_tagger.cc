// A named-entity tagger (PER, LOC, ORG in BIO tags) on English EWT: fine-tune a TokenClassifier
// with the ready-made pipeline (entity F1 on the held-out split), then reload the saved weights
// and tag a new sentence word by word.
//
//   ner_tagger [data_dir = ../shared/data] [pretrained_mlm.safetensors]
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "taesan/app/tasks.h"
#include "taesan/data/data.h"
#include <taesan/taesan.h>

namespace ts = taesan;

int main(int argc, char** argv) try {
  const std::string data_dir = argc > 1 ? argv[1] : "../shared/data";
  const std::string init = argc > 2 ? argv[2] : "";  // from `taesan pretrain --objective mlm`
  ts::set_num_threads(2);
  const std::string out = "ner_tagger_out";
  auto tok = init.empty()
                 ? ts::models::train_tokenizer(ts::models::pretraining_texts(data_dir, 2000), 4000)
                 : ts::data::BpeTokenizer::load(
                       ts::models::model_tokenizer_path(init, ts::models::read_model_meta(init)));
  std::filesystem::create_directories(out);
  tok.save(out + "/tokenizer.json");
  auto config = init.empty() ? ts::models::small_config(tok.vocab_size())
                             : ts::models::read_model_meta(init).config;

  ts::models::RunOptions run;
  run.name = "ner";
  run.out_dir = out;
  run.steps = 200;
  run.lr = 5e-4;
  auto score = ts::models::finetune("ner", tok, data_dir, config, init, run);
  std::printf("test %s = %.2f\n", score.metric.c_str(), score.score);

  // Inference by hand: one token row, the tag of each word's first token.
  const auto meta = ts::models::read_model_meta(score.weights_path);
  ts::models::TokenClassifier model(meta.config, static_cast<int64_t>(meta.labels.size()));
  ts::load(model, score.weights_path);
  model.eval();
  ts::NoGradGuard no_grad;
  const std::vector<std::string> words = {"Barack", "Obama", "visited", "Seoul", "with",
                                          "Google", "engineers", "."};
  std::vector<int64_t> ids = {tok.token_to_id("[CLS]")};
  std::vector<size_t> first;  // the position of each word's first token
  for (size_t w = 0; w < words.size(); ++w) {
    first.push_back(ids.size());
    for (int64_t id : tok.encode(w ? " " + words[w] : words[w])) ids.push_back(id);
  }
  ids.push_back(tok.token_to_id("[SEP]"));
  const auto n = static_cast<int64_t>(ids.size());
  auto tags = ts::argmax(model.forward(ts::from_vector<int64_t>(ids, {1, n})), -1).to_vector<int64_t>();
  for (size_t w = 0; w < words.size(); ++w)
    std::printf("%-10s %s\n", words[w].c_str(), meta.labels[tags[first[w]]].c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ner_tagger: %s\n", e.what());
  return 1;
}
