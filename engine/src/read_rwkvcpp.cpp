// Reader for rwkv.cpp's binary model format (spec/rwkv7.md section 3), converted to .pth naming
// and layout: x_rwkvag is split into x_r..x_g, the transposed LoRA matrices are transposed
// back, ggml's fastest-first sizes are reversed. Every read is bounds-checked against the file
// size, so a truncated or corrupt file throws instead of reading out of range.
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

#include "rwkv/error.h"
#include "weights.h"

namespace rwkv {
namespace {

constexpr int32_t kMagic = 0x67676d66;  // bytes 66 6d 67 67 on disk

const char* ggml_type_name(int32_t t) {
  switch (t) {
    case 0: return "FP32";
    case 1: return "FP16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q5_0";
    case 8: return "Q5_1";
    case 9: return "Q8_0";
    default: return nullptr;
  }
}

// Bounded sequential reader over the file.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), in_(path, std::ios::binary | std::ios::ate) {
    if (!in_) throw Error(ErrorKind::Io, path + ": cannot open for reading");
    size_ = static_cast<uint64_t>(in_.tellg());
    in_.seekg(0);
  }
  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  bool at_end() const { return pos_ == size_; }

  void require(uint64_t n, const std::string& what) const {
    if (n > size_ - pos_)
      throw Error(ErrorKind::Format, path_ + ": truncated rwkv.cpp file: " + what + " needs " +
                                         std::to_string(n) + " bytes at offset " + std::to_string(pos_) +
                                         " but the file has " + std::to_string(size_) + " bytes");
  }
  void read(void* dst, uint64_t n, const std::string& what) {
    require(n, what);
    if (n > 0 && !in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n)))
      throw Error(ErrorKind::Io, path_ + ": read error at offset " + std::to_string(pos_));
    pos_ += n;
  }
  int32_t i32(const std::string& what) {
    unsigned char b[4];
    read(b, 4, what);
    return static_cast<int32_t>(uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 |
                                uint32_t(b[3]) << 24);
  }

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0, pos_ = 0;
};

std::string leaf_of(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

bool is_lora_matrix(const std::string& name) {
  static const std::set<std::string> kLora = {"w1", "w2", "a1", "a2", "v1", "v2", "g1", "g2"};
  return name.find(".att.") != std::string::npos && kLora.count(leaf_of(name)) > 0;
}

}  // namespace

TensorMap read_rwkvcpp(const std::string& path) {
  Reader r(path);
  const int32_t magic = r.i32("the header");
  if (magic != kMagic) throw Error(ErrorKind::Format, path + ": not an rwkv.cpp file (bad magic)");
  const int32_t version = r.i32("the header");
  if (version != 100 && version != 101)
    throw Error(ErrorKind::Format, path + ": unsupported rwkv.cpp file version " + std::to_string(version) +
                                       " (expected 100 or 101)");
  const int32_t n_vocab = r.i32("the header"), n_embd = r.i32("the header");
  const int32_t n_layer = r.i32("the header"), data_type = r.i32("the header");
  (void)n_layer;
  (void)data_type;  // each record's own dtype is authoritative

  TensorMap out;
  std::set<std::string> seen;
  while (!r.at_end()) {
    const std::string rec = "tensor record " + std::to_string(seen.size()) + " (offset " + std::to_string(r.pos()) + ")";
    const int32_t n_dims = r.i32(rec), name_len = r.i32(rec), dtype = r.i32(rec);
    if (n_dims < 1 || n_dims > 4)
      throw Error(ErrorKind::Format, path + ": corrupt rwkv.cpp file: " + rec + " has " +
                                         std::to_string(n_dims) + " dimensions (expected 1 to 4)");
    if (name_len < 1 || name_len > 4096)
      throw Error(ErrorKind::Format, path + ": corrupt rwkv.cpp file: " + rec + " has a name length of " +
                                         std::to_string(name_len));
    std::vector<int64_t> ne(static_cast<size_t>(n_dims));
    uint64_t numel = 1;
    for (auto& d : ne) {
      d = r.i32(rec);
      if (d < 1) throw Error(ErrorKind::Format, path + ": corrupt rwkv.cpp file: " + rec + " has a size of " + std::to_string(d));
      if (numel > (uint64_t(1) << 40) / static_cast<uint64_t>(d))
        throw Error(ErrorKind::Format, path + ": corrupt rwkv.cpp file: " + rec + " is impossibly large");
      numel *= static_cast<uint64_t>(d);
    }
    std::string name(static_cast<size_t>(name_len), '\0');
    r.read(name.data(), name.size(), rec + " name");
    if (name.find('\0') != std::string::npos)
      throw Error(ErrorKind::Format, path + ": corrupt rwkv.cpp file: " + rec + " has a name with a NUL byte");
    if (!seen.insert(name).second)
      throw Error(ErrorKind::Format, path + ": corrupt rwkv.cpp file: tensor '" + name + "' appears twice");

    torch::ScalarType st;
    if (dtype == 0) {
      st = torch::kFloat32;
    } else if (dtype == 1) {
      st = torch::kHalf;
    } else {
      const char* tn = ggml_type_name(dtype);
      throw Error(ErrorKind::Format,
                  path + ": tensor '" + name + "' is stored as " +
                      (tn ? std::string("quantized type ") + tn : "unknown type") + " (dtype " +
                      std::to_string(dtype) + "); only FP32 and FP16 rwkv.cpp files are supported");
    }

    // Data are row-major in the reversed sizes (ggml ne[0] varies fastest).
    const std::string what = "the data of tensor '" + name + "'";
    const uint64_t bytes = numel * c10::elementSize(st);
    r.require(bytes, what);  // before allocating: a corrupt size must not allocate terabytes
    std::vector<int64_t> shape(ne.rbegin(), ne.rend());
    torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(st));
    r.read(t.data_ptr(), bytes, what);

    const std::string leaf = leaf_of(name);
    if (leaf == "x_rwkvag") {  // (6, 1, C) in the order r, w, k, v, a, g
      if (t.dim() != 3 || t.size(0) != 6 || t.size(1) != 1)
        throw Error(ErrorKind::Shape, path + ": tensor '" + name + "' has shape " + c10::str(t.sizes()) +
                                          ", expected [6, 1, C]");
      const std::string prefix = name.substr(0, name.size() - leaf.size());
      const char* mix[6] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
      for (int i = 0; i < 6; ++i) out[prefix + mix[i]] = t[i].unsqueeze(0).clone();  // [1, 1, C]
      continue;
    }
    if (is_lora_matrix(name)) {  // the converter stored these transposed
      if (t.dim() != 2)
        throw Error(ErrorKind::Shape, path + ": tensor '" + name + "' has shape " + c10::str(t.sizes()) +
                                          ", expected a 2-D LoRA matrix");
      t = t.t().contiguous();
    }
    out[name] = std::move(t);
  }

  // The header repeats two dimensions; a disagreement means a corrupt or hand-edited file.
  auto emb = out.find("emb.weight");
  if (emb != out.end() && emb->second.dim() == 2 &&
      (emb->second.size(0) != n_vocab || emb->second.size(1) != n_embd))
    throw Error(ErrorKind::Format, path + ": corrupt rwkv.cpp file: the header says n_vocab " +
                                       std::to_string(n_vocab) + ", n_embed " + std::to_string(n_embd) +
                                       " but 'emb.weight' has shape " + c10::str(emb->second.sizes()));
  return out;
}

}  // namespace rwkv
