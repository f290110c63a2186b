// Picks the checkpoint reader from the file's first bytes (never from its extension).
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "rwkv/error.h"
#include "weights.h"

namespace rwkv {
namespace {

// A safetensors file starts with a little-endian u64 header length, then the JSON header.
bool looks_like_safetensors(const unsigned char* head, size_t n) {
  if (n < 9 || head[8] != '{') return false;
  uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | head[i];
  return len >= 2 && len < (uint64_t(1) << 32);  // a header over 4 GiB is not plausible
}

}  // namespace

TensorMap read_checkpoint(const std::string& path, std::string* format) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) throw Error(ErrorKind::Io, path + ": no such file");
  if (fs::is_directory(st)) throw Error(ErrorKind::Io, path + ": is a directory, not a model file");

  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::Io, path + ": cannot open for reading");
  unsigned char head[16] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  const size_t n = static_cast<size_t>(in.gcount());
  in.close();

  std::string fmt;
  if (n >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) {
    fmt = "pth";
  } else if (n >= 4 && std::memcmp(head, "\x66\x6d\x67\x67", 4) == 0) {
    fmt = "rwkv.cpp";
  } else if (looks_like_safetensors(head, n)) {
    fmt = "safetensors";
  } else {
    throw Error(ErrorKind::Format,
                path + ": unknown model format (expected .pth, .safetensors or rwkv.cpp .bin)" +
                    (n == 0 ? std::string(" - the file is empty") : std::string()));
  }
  if (format) *format = fmt;
  if (fmt == "pth") return read_pth(path);
  if (fmt == "rwkv.cpp") return read_rwkvcpp(path);
  return read_safetensors(path);
}

}  // namespace rwkv
