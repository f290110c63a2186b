// The byte tokenizer of the tiny fixture model: id = byte value, vocab 256.
// It has no end-of-text token: id 0 is the byte 0x00, which may occur in text, so eos_id() is -1
// (generation never stops on it and training samples get no separator).
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/tokenizer.h"

namespace rwkv {
namespace {

class ByteTokenizer final : public Tokenizer {
 public:
  std::vector<int> encode(const std::string& text) const override {
    std::vector<int> ids(text.size());
    for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }

  std::string decode(const std::vector<int>& ids) const override {
    std::string out(ids.size(), '\0');
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] > 255)
        throw Error(ErrorKind::Token,
                    "token id " + std::to_string(ids[i]) + " is outside the vocabulary (0..255) of the byte tokenizer");
      out[i] = static_cast<char>(static_cast<unsigned char>(ids[i]));
    }
    return out;
  }

  int vocab_size() const override { return 256; }
  std::string name() const override { return "bytes"; }
  int eos_id() const override { return -1; }
};

}  // namespace

std::unique_ptr<Tokenizer> make_byte_tokenizer() { return std::make_unique<ByteTokenizer>(); }

}  // namespace rwkv
