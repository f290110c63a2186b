// encode_safetensors and the header helpers of safetensors_write.h. Reading the tensors
// themselves is read_safetensors (weights.h), which validates every range.
#include "safetensors_write.h"

#include <nlohmann/json.hpp>

#include <set>

#include "rwkv/error.h"

namespace rwkv {
namespace {

using json = nlohmann::json;

size_t element_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  throw Error(ErrorKind::Argument, "safetensors writer: unsupported dtype " + dtype + " (expected F32, F16 or BF16)");
}

uint64_t read_u64_le(const std::string& b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(i)]);
  return v;
}

}  // namespace

std::string encode_safetensors(const std::vector<SafetensorsEntry>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second)
      throw Error(ErrorKind::Argument, "safetensors writer: tensor name '" + t.name + "' is reserved or repeated");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) throw Error(ErrorKind::Argument, "safetensors writer: tensor '" + t.name + "' has a negative dimension");
      numel *= static_cast<uint64_t>(d);
    }
    const uint64_t want = numel * element_size(t.dtype);
    if (t.data.size() != want)
      throw Error(ErrorKind::Argument, "safetensors writer: tensor '" + t.name + "' has " + std::to_string(t.data.size()) +
                                           " bytes of data, its shape and dtype need " + std::to_string(want));
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + want}}};
    offset += want;
  }
  // Invalid UTF-8 in metadata (a path in a legacy encoding) is replaced rather than refused.
  std::string h = header.dump(-1, ' ', false, json::error_handler_t::replace);
  while (h.size() % 8 != 0) h.push_back(' ');

  std::string out;
  out.reserve(8 + h.size() + offset);
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += h;
  for (const auto& t : tensors) out += t.data;
  return out;
}

bool looks_like_safetensors(const std::string& head, uint64_t file_size) {
  if (head.size() < 9 || file_size < 9) return false;
  const uint64_t n = read_u64_le(head);
  return n >= 2 && n <= file_size - 8 && head[8] == '{';
}

std::map<std::string, std::string> safetensors_metadata(const std::string& bytes, const std::string& path) {
  if (!looks_like_safetensors(bytes, bytes.size()))
    throw Error(ErrorKind::Format, path + ": not a safetensors file (no valid header length and JSON header)");
  json header;
  try {
    header = json::parse(bytes.substr(8, read_u64_le(bytes)));
  } catch (const json::exception& e) {
    throw Error(ErrorKind::Format, path + ": corrupt safetensors file: header is not valid JSON: " + e.what());
  }
  std::map<std::string, std::string> out;
  if (!header.is_object() || !header.contains("__metadata__")) return out;
  const json& meta = header["__metadata__"];
  if (!meta.is_object()) throw Error(ErrorKind::Format, path + ": corrupt safetensors file: __metadata__ is not an object");
  for (auto it = meta.begin(); it != meta.end(); ++it)
    out[it.key()] = it->is_string() ? it->get<std::string>() : it->dump();
  return out;
}

}  // namespace rwkv
