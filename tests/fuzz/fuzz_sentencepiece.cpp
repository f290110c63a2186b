// Fuzzes how a tokenizer path is handled (load_tokenizer: "bytes", missing files, folders,
// special files, the .model extension) and what we do with a sentencepiece model's pieces.
// An input starting with a NUL byte is a path (the rest, given as is); any other input is the
// content of a .model file (a protobuf never starts with 0; libsentencepiece parses it, our code
// maps its pieces to bytes), so real .model files are seeds as they are.
#include <cstdlib>

#include "fuzz_support.h"
#include "rwkv/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::InputFile file(".model");
  if (size == 0) return 0;
  std::string spec;
  if (data[0] == 0) {
    spec.assign(reinterpret_cast<const char*>(data + 1), size - 1);
    if (spec.find("/dev/") != std::string::npos || spec.find("/proc/") != std::string::npos) return 0;
  } else {
    spec = file.write(data, size);
  }
  fuzz::expect_rwkv_errors([&] {
    const auto tok = rwkv::load_tokenizer(spec);
    std::vector<int> ids;
    try {
      ids = tok->encode("User: hello\n\nAssistant: world");
    } catch (const rwkv::Error&) {
    }
    (void)tok->decode(ids);
    for (int i = 0; i < tok->vocab_size() && i < 4096; ++i) (void)tok->decode({i});
  });
  return 0;
}
