// sentencepiece .model tokenizer (Debian libsentencepiece).
// encode: the processor's own Encode (normalization, byte fallback, dummy prefix all as the
// model says). decode: the concatenation of each id's bytes, so that decoding one token at a time
// (generation) gives the same bytes as decoding the whole sequence:
//   byte piece <0xAB> -> the byte 0xAB, control pieces (<s>, </s>) -> "", the unknown piece ->
//   the model's unk surface (" ⁇ " by default), any other piece -> its text with U+2581 as ' '.
// sentencepiece's own DecodeIds differs only in dropping the dummy-prefix space of the first piece
// and in replacing invalid UTF-8 with U+FFFD; callers strip a leading space themselves if wanted.
#include <sentencepiece_processor.h>

#include <filesystem>
#include <string>
#include <vector>

#include "rwkv/error.h"
#include "rwkv/tokenizer.h"

namespace rwkv {
namespace {

const std::string kSpaceMark = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, sentencepiece's space

std::string piece_text(const std::string& piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out += ' ';
      i += kSpaceMark.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

class SentencePieceTokenizer final : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec))
      throw Error(ErrorKind::Io, "cannot open the sentencepiece model " + path + " (no such file)");
    const auto status = sp_.Load(path);
    if (!status.ok())
      throw Error(ErrorKind::Format, "cannot load the sentencepiece model " + path +
                                         " (not a valid .model file?): " + status.ToString());
    const int n = sp_.GetPieceSize();
    if (n <= 0) throw Error(ErrorKind::Format, "the sentencepiece model " + path + " has no pieces");
    bytes_.resize(static_cast<size_t>(n));
    for (int id = 0; id < n; ++id) {
      const std::string& piece = sp_.IdToPiece(id);
      if (sp_.IsByte(id)) {  // "<0xAB>"
        if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>')
          throw Error(ErrorKind::Format, "sentencepiece model " + path + ": byte piece " + std::to_string(id) +
                                             " is '" + piece + "', expected <0xHH>");
        bytes_[id] = std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
      } else if (sp_.IsControl(id)) {
        bytes_[id].clear();
      } else if (sp_.IsUnknown(id)) {
        bytes_[id] = sp_.DecodeIds({id});
      } else {
        bytes_[id] = piece_text(piece);
      }
    }
  }

  std::vector<int> encode(const std::string& text) const override {
    std::vector<int> ids;
    const auto status = sp_.Encode(text, &ids);
    if (!status.ok())
      throw Error(ErrorKind::Token, "sentencepiece model " + path_ + " cannot encode the text: " + status.ToString());
    return ids;
  }

  std::string decode(const std::vector<int>& ids) const override {
    std::string out;
    for (int id : ids) {
      if (id < 0 || id >= vocab_size())
        throw Error(ErrorKind::Token, "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                          std::to_string(vocab_size() - 1) + ") of " + path_);
      out += bytes_[static_cast<size_t>(id)];
    }
    return out;
  }

  int vocab_size() const override { return static_cast<int>(bytes_.size()); }
  std::string name() const override { return "sentencepiece"; }
  int eos_id() const override { return sp_.eos_id(); }  // -1 when the model has none

 private:
  std::string path_;
  sentencepiece::SentencePieceProcessor sp_;
  std::vector<std::string> bytes_;  // [vocab_size] bytes of each id
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::string& model_path) {
  return std::make_unique<SentencePieceTokenizer>(model_path);
}

}  // namespace rwkv
