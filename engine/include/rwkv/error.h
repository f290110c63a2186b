// Typed errors of the engine. Every message names the file, the key and the
// expected versus found values where there are any, so a UI can show it as is.
#pragma once
#include <stdexcept>
#include <string>

namespace rwkv {

enum class ErrorKind {
  Io,           // file missing, unreadable, unwritable, disk full
  Format,       // not a format we know, or a corrupt / truncated file
  MissingKey,   // a checkpoint or state file lacks a required tensor
  Shape,        // a tensor has the wrong shape
  NonFinite,    // NaN or Inf in weights, state or loss
  Token,        // unknown token id, text the tokenizer cannot encode
  Argument,     // a bad option value (empty prompt, ctx_len 0, negative lr)
  Mismatch,     // a state made for another model
  Cancelled,    // the user cancelled
};

const char* error_kind_name(ErrorKind k);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace rwkv
