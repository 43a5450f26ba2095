// The data layer in one include: tokenizer, file reading, datasets of the pack's formats,
// splits, batching and the objectives' masking. Namespace ts::data.
#pragma once

#include "data/batch.h"
#include "data/bpe_tokenizer.h"
#include "data/classification.h"
#include "data/example.h"
#include "data/label_vocab.h"
#include "data/ner.h"
#include "data/objectives.h"
#include "data/parallel_text.h"
#include "data/pretokenizer.h"
#include "data/qa.h"
#include "data/rng.h"
#include "data/split.h"
#include "data/text_dataset.h"
#include "data/text_io.h"
#include "data/unicode.h"
