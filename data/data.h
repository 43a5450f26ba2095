// The data layer in one include: tokenizer, file reading, datasets of the pack's formats,
// splits, batching and the objectives' masking. Namespace ts::data.
#pragma once

#include "taesan/data/batch.h"
#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/classification.h"
#include "taesan/data/example.h"
#include "taesan/data/label_vocab.h"
#include "taesan/data/ner.h"
#include "taesan/data/objectives.h"
#include "taesan/data/parallel_text.h"
#include "taesan/data/pretokenizer.h"
#include "taesan/data/qa.h"
#include "taesan/data/rng.h"
#include "taesan/data/split.h"
#include "taesan/data/text_dataset.h"
#include "taesan/data/text_io.h"
#include "taesan/data/unicode.h"
