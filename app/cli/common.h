// Pieces shared by the subcommands: the model options, loading the model, choosing the
// tokenizer and applying a state file.
#pragma once
#include <memory>
#include <string>

#include "args.h"
#include "rwkv/context.h"
#include "rwkv/model.h"
#include "rwkv/tokenizer.h"

namespace cli {

// --model M (required) and --device D.
void add_model_options(ArgParser& a);
std::shared_ptr<const rwkv::Model> load_model(const ArgParser& a);

// `spec` from --tokenizer: a World vocab .txt, a sentencepiece .model or "bytes". Empty = auto:
// bytes for a 256-token model, else the one *.model or rwkv_vocab*.txt beside the model file.
// Throws rwkv::Error when nothing (or more than one candidate) is found, or when the tokenizer
// has more ids than the model.
std::unique_ptr<rwkv::Tokenizer> resolve_tokenizer(const std::string& spec, const rwkv::ModelInfo& model);

// Reads a state file (any supported layout), checks it against the model and makes it the
// context's initial state (the context is reset). Returns a warning to print, or "".
std::string apply_state_file(rwkv::Context& ctx, const std::string& path);

// "42s", "3m05s", "1h07m"; "?" for negative or absurd values.
std::string format_duration(double seconds);

}  // namespace cli
