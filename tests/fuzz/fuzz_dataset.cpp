// Fuzzes the dataset loader (JSON Lines in the text / question-answer / chat shapes), through a
// real file, tokenized by bytes (the last input byte selects ctx_len) and, when the fixture is
// there, by the World vocab. Samples must satisfy the documented invariants.
#include <cstdlib>
#include <memory>

#include "fuzz_support.h"
#include "rwkv/dataset.h"

namespace {
const rwkv::Tokenizer* world() {
  static std::unique_ptr<rwkv::Tokenizer> tok = [] {
    try {
      return rwkv::load_world_tokenizer(RWKV_SHARED_DIR "/fixtures/world-vocab/rwkv_vocab_v20230424.txt");
    } catch (const rwkv::Error&) {
      return std::unique_ptr<rwkv::Tokenizer>();
    }
  }();
  return tok.get();
}

void check(const rwkv::Dataset& ds, int ctx_len) {
  if (ds.samples.empty()) std::abort();  // documented: throws instead
  for (const auto& s : ds.samples) {
    if (s.tokens.size() != s.target.size() || s.tokens.empty()) std::abort();
    if (static_cast<int>(s.tokens.size()) > ctx_len || s.target[0] != 0 || s.line < 1) std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile file(".jsonl");
  static const auto bytes = rwkv::make_byte_tokenizer();
  if (size == 0) return 0;
  const int ctx_len = 2 + data[size - 1] % 64;
  const std::string& path = file.write(data, size);
  fuzz::expect_rwkv_errors([&] { check(rwkv::load_jsonl(path, *bytes, ctx_len), ctx_len); });
  if (const rwkv::Tokenizer* w = world())
    fuzz::expect_rwkv_errors([&] { check(rwkv::load_jsonl(path, *w, ctx_len), ctx_len); });
  return 0;
}
