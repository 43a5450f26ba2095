// Fine-tune a BERT-like classifier on SMS spam (en_sms_spam.tsv): a seeded train/validation/test
// split, a SequenceClassifier (optionally on a pretrained body from `taesan pretrain --objective
// mlm`), the Trainer selecting on validation macro-F1, and the test score.
//
//   finetune_classifier [data_dir = ../shared/data] [pretrained.safetensors tokenizer.json]
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
  const std::string pretrained = argc > 3 ? argv[2] : "";
  ts::set_num_threads(2);
  ts::manual_seed(7);

  // The tokenizer of the pretrained model, or a new one trained on the pack's text.
  auto tok = !pretrained.empty()
                 ? ts::data::BpeTokenizer::load(argv[3])
                 : ts::models::train_tokenizer(ts::models::pretraining_texts(data_dir, 2000), 4000);
  ts::data::ClassificationOptions copt;
  copt.max_length = 64;
  auto ds = ts::data::load_classification_tsv(data_dir + "/en_sms_spam.tsv", tok, copt);
  auto split = ts::data::split_indices(static_cast<int64_t>(ds.examples.size()), 0.1, 0.1, 7);

  auto config = pretrained.empty() ? ts::models::small_config(tok.vocab_size())
                                   : ts::models::read_model_meta(pretrained).config;
  ts::models::SequenceClassifier model(config, ds.labels.size());
  if (!pretrained.empty())  // body.* from the MLM checkpoint; the classifier head starts fresh
    std::printf("%s\n", ts::models::load_pretrained_body(model, pretrained).summary().c_str());

  ts::data::BatcherOptions bopt;
  bopt.batch_size = 16;
  bopt.seed = 7;
  ts::data::Batcher train(ts::data::select(ds.examples, split.train), bopt);
  // Scores a split: macro-F1 (spam is the rare class, accuracy would flatter).
  auto score = [&](const std::vector<int64_t>& rows) {
    std::vector<int64_t> pred, gold;
    for (size_t i = 0; i < rows.size(); i += 64) {
      std::vector<int64_t> part(rows.begin() + i, rows.begin() + std::min(rows.size(), i + 64));
      auto b = ts::data::collate(ts::data::select(ds.examples, part));
      auto p = ts::argmax(model.forward(b.input_ids, b.attention_mask), -1).to_vector<int64_t>();
      pred.insert(pred.end(), p.begin(), p.end());
      for (int64_t y : b.labels.to_vector<int64_t>()) gold.push_back(y);
    }
    return ts::models::macro_f1(pred, gold, ds.labels.size());
  };

  ts::models::TrainerOptions opt;
  opt.name = "spam";
  opt.out_dir = "finetune_classifier_out";
  opt.max_steps = 200;
  opt.lr = 5e-4;
  opt.eval_every = 40;
  opt.greater_is_better = true;  // the EvalFn returns a score
  opt.patience = 3;
  ts::models::Trainer trainer(model, opt);
  auto r = trainer.fit(
      [&](int64_t i) {
        train.set_epoch(i / train.num_batches());
        auto b = train.batch(i % train.num_batches());
        return ts::models::StepOutput{
            model.loss(model.forward(b.input_ids, b.attention_mask), b.labels),
            b.input_ids.numel()};
      },
      [&] { return score(split.validation); });
  if (r.interrupted) return 130;
  ts::NoGradGuard no_grad;
  std::printf("validation macro-F1 %.3f, test macro-F1 %.3f\n", r.best_eval, score(split.test));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "finetune_classifier: %s\n", e.what());
  return 1;
}
