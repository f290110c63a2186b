// Fuzzes the World vocab loader (Python literals, ids, byte lengths, the byte trie), then
// encodes a fixed text and the input itself, and decodes every id.
#include <cstdlib>

#include "fuzz_support.h"
#include "rwkv/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile file(".txt");
  const std::string& path = file.write(data, size);
  fuzz::expect_rwkv_errors([&] {
    const auto tok = rwkv::load_world_tokenizer(path);
    std::vector<int> all(static_cast<size_t>(tok->vocab_size()));
    for (int i = 0; i < tok->vocab_size(); ++i) all[i] = i;
    for (const std::string text : {std::string("User: hello\n\nAssistant: \xE4\xBD\xA0\xE5\xA5\xBD"),
                                   std::string(reinterpret_cast<const char*>(data), size)}) {
      try {
        const std::vector<int> ids = tok->encode(text);
        if (tok->decode(ids) != text) std::abort();  // greedy match must spell the text back
      } catch (const rwkv::Error&) {  // a byte with no token: fine
      }
    }
    for (int i = 0; i < tok->vocab_size(); ++i) {
      try {
        (void)tok->decode({i});
      } catch (const rwkv::Error&) {  // a gap in the ids: fine
      }
    }
  });
  return 0;
}
