// load_tokenizer: "bytes" -> the byte tokenizer, *.model -> sentencepiece, any other path -> a
// World vocab .txt. A path that is missing (or not a regular file) is an Io error naming it.
#include <filesystem>
#include <string>

#include "rwkv/error.h"
#include "rwkv/tokenizer.h"

namespace rwkv {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec) {
  if (spec == "bytes") return make_byte_tokenizer();
  if (spec.empty()) throw Error(ErrorKind::Argument, "tokenizer: empty path (give a vocab .txt, a .model or \"bytes\")");
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(spec, ec);
  if (!fs::exists(st))
    throw Error(ErrorKind::Io, "tokenizer file " + spec + " does not exist (give a World vocab .txt, a sentencepiece "
                               ".model or \"bytes\")");
  if (!fs::is_regular_file(st)) throw Error(ErrorKind::Io, "tokenizer path " + spec + " is not a regular file");
  if (fs::path(spec).extension() == ".model") return load_sentencepiece_tokenizer(spec);
  return load_world_tokenizer(spec);
}

}  // namespace rwkv
