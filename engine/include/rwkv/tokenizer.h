// One interface for the three tokenizers: RWKV World (greedy longest byte match over a vocab
// file), sentencepiece .model files, and raw bytes (vocab 256, the tiny fixture).
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace rwkv {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int> encode(const std::string& text) const = 0;
  // The bytes of the tokens, concatenated. May be invalid UTF-8 (a split multibyte char).
  virtual std::string decode(const std::vector<int>& ids) const = 0;
  virtual int vocab_size() const = 0;
  virtual std::string name() const = 0;  // "world", "sentencepiece", "bytes"
  // Id that ends a document (0 for World and bytes-with-eot), or -1.
  virtual int eos_id() const { return 0; }
};

// Load by path: a World vocab .txt, a sentencepiece .model, or the literal "bytes".
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& spec);
std::unique_ptr<Tokenizer> make_byte_tokenizer();
std::unique_ptr<Tokenizer> load_world_tokenizer(const std::string& vocab_path);
std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path);

// Streaming decode: feed token bytes, get back only complete UTF-8 (incomplete
// sequences are held back until the next piece completes them or flush() is called;
// invalid bytes are passed through as they are).
class Utf8Stream {
 public:
  std::string push(const std::string& bytes);
  std::string flush();

 private:
  std::string pending_;
};

}  // namespace rwkv
