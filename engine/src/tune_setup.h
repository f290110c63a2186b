// Everything a tuning run reads before its first step: the model, the tokenizer, the data
// (tokenized, split, filtered) and the optional initial state, all validated with messages that
// name the file and the problem.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "rwkv/dataset.h"
#include "rwkv/model.h"
#include "rwkv/state.h"
#include "rwkv/tokenizer.h"
#include "rwkv/tune_config.h"

namespace rwkv {

struct TuneInputs {
  std::shared_ptr<const Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<Sample> train, eval;        // samples with at least one target token
  std::vector<std::string> data_issues;   // "line 12: invalid JSON ..."
  int n_truncated = 0;
  std::string data_fingerprint;           // sha256 of the tokenized train and eval splits
  InitialState init;                      // empty = zeros
  std::vector<std::string> warnings;      // e.g. the init state was tuned on another model
};

// "" = auto: bytes for a 256-token model, else the one sentencepiece *.model or rwkv_vocab*.txt
// next to the model file. Throws Error naming the folder when none or several are found.
std::unique_ptr<Tokenizer> resolve_tune_tokenizer(const std::string& spec, const ModelInfo& model);

// cfg must be valid. Throws rwkv::Error (Io, Format, Argument, Mismatch) on any problem.
TuneInputs load_tune_inputs(const TuneConfig& cfg);

}  // namespace rwkv
