// Extractive question answering (SQuAD-style): fine-tune a QuestionAnswering head with the
// ready-made pipeline (token F1 on held-out questions), then answer a new question by hand:
// "[CLS] question [SEP] context [SEP]" -> start/end logits -> best valid span in the context.
//
//   qa_model [data_dir = ../shared/data] [pretrained_mlm.safetensors]
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
  const std::string out = "qa_model_out";
  std::filesystem::create_directories(out);
  auto tok = init.empty()
                 ? ts::models::train_tokenizer(ts::models::pretraining_texts(data_dir, 2000), 4000)
                 : ts::data::BpeTokenizer::load(
                       ts::models::model_tokenizer_path(init, ts::models::read_model_meta(init)));
  tok.save(out + "/tokenizer.json");
  auto config = init.empty() ? ts::models::small_config(tok.vocab_size())
                             : ts::models::read_model_meta(init).config;

  ts::models::RunOptions run;
  run.name = "qa";
  run.out_dir = out;
  run.steps = 300;
  run.seq_len = 128;
  run.lr = 5e-4;
  auto score = ts::models::finetune("qa", tok, data_dir, config, init, run);
  std::printf("test %s = %.2f\n", score.metric.c_str(), score.score);

  // Inference by hand.
  ts::models::QuestionAnswering model(config);
  ts::load(model, score.weights_path);
  model.eval();
  ts::NoGradGuard no_grad;
  const std::string question = "Where is the tower?";
  const std::string context = "The old tower stands in Paris, next to the river.";
  std::vector<int64_t> ids = {tok.token_to_id("[CLS]")};
  for (int64_t id : tok.encode(question)) ids.push_back(id);
  ids.push_back(tok.token_to_id("[SEP]"));
  const size_t context_start = ids.size();
  const auto enc = tok.encode_with_offsets(context);
  for (int64_t id : enc.ids) ids.push_back(id);
  ids.push_back(tok.token_to_id("[SEP]"));
  const auto n = static_cast<int64_t>(ids.size());
  std::vector<int64_t> types(ids.size(), 0);
  for (size_t i = context_start; i < ids.size(); ++i) types[i] = 1;
  auto logits = model.forward(ts::from_vector<int64_t>(ids, {1, n}), ts::Tensor(),
                              ts::from_vector<int64_t>(types, {1, n}));  // (1, n, 2)
  std::vector<bool> allowed(ids.size(), false);
  for (size_t i = context_start; i + 1 < ids.size(); ++i) allowed[i] = true;
  auto start = logits.slice(-1, 0, 1).reshape({n}), end = logits.slice(-1, 1, 2).reshape({n});
  auto span = ts::models::QuestionAnswering::best_span(start, end, allowed, 15);
  std::string answer = "(no answer)";
  if (span.start > 0) {
    const auto b = enc.offsets[span.start - context_start].first;
    const auto e = enc.offsets[span.end - context_start].second;
    answer = context.substr(static_cast<size_t>(b), static_cast<size_t>(e - b));
  }
  std::printf("Q: %s\nC: %s\nA: %s\n", question.c_str(), context.c_str(), answer.c_str());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "qa_model: %s\n", e.what());
  return 1;
}
