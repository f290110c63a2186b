// What the "auto" tokenizer choice resolves to for a model, with the same rule the tuner uses:
// bytes for a 256-token vocabulary, else exactly one *.model or rwkv_vocab*.txt next to the model.
#pragma once
#include <QString>

#include "rwkv/model.h"

struct TokenizerGuess {
  QString spec;  // "bytes", a file path, or "" when nothing suitable was found
  QString note;  // why, in words (shown under the tokenizer field)
};

TokenizerGuess detectTokenizer(const rwkv::ModelInfo& model);
