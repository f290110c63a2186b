// Reader for .safetensors files: u64 LE header length, a JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data
// section. Every range is checked against the file before anything is read; each tensor gets
// its own memory so the file is closed on return.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <vector>

#include "rwkv/error.h"
#include "weights.h"

namespace rwkv {
namespace {

struct Entry {
  std::string name;
  torch::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the start of the data section
};

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(ErrorKind::Format, path + ": corrupt safetensors file: " + what);
}

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j) {
  const std::string where = "tensor '" + name + "'";
  if (!j.is_object()) fail(path, where + " is not a JSON object");
  Entry e;
  e.name = name;

  if (!j.contains("dtype") || !j["dtype"].is_string()) fail(path, where + " has no dtype");
  const std::string dt = j["dtype"].get<std::string>();
  if (dt == "BF16") e.dtype = torch::kBFloat16;
  else if (dt == "F16") e.dtype = torch::kHalf;
  else if (dt == "F32") e.dtype = torch::kFloat32;
  else
    throw Error(ErrorKind::Format, path + ": " + where + " has dtype " + dt +
                                       ", which is not supported (expected BF16, F16 or F32)");

  if (!j.contains("shape") || !j["shape"].is_array()) fail(path, where + " has no shape");
  uint64_t numel = 1;
  for (const auto& d : j["shape"]) {
    if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
      fail(path, where + " has a shape entry that is not a non-negative integer");
    const uint64_t v = d.get<uint64_t>();
    if (v > (uint64_t(1) << 40) || (v != 0 && numel > (uint64_t(1) << 48) / v))
      fail(path, where + " has an impossibly large shape");
    numel *= v;
    e.shape.push_back(static_cast<int64_t>(v));
  }

  const auto& off = j.contains("data_offsets") ? j["data_offsets"] : nlohmann::json();
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    fail(path, where + " has no valid data_offsets [begin, end]");
  e.begin = off[0].get<uint64_t>();
  e.end = off[1].get<uint64_t>();
  if (e.end < e.begin) fail(path, where + " has data_offsets with end < begin");
  const uint64_t want = numel * c10::elementSize(e.dtype);
  if (e.end - e.begin != want)
    fail(path, where + " has shape " + shape_str(e.shape) + " and dtype " + dt + " (" +
                   std::to_string(want) + " bytes) but data_offsets span " +
                   std::to_string(e.end - e.begin) + " bytes");
  return e;
}

}  // namespace

TensorMap read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(ErrorKind::Io, path + ": cannot open for reading");
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);

  unsigned char len_bytes[8];
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(len_bytes), 8))
    fail(path, "file is truncated (" + std::to_string(file_size) + " bytes, no header)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > file_size - 8)
    fail(path, "file is truncated: the header needs " + std::to_string(header_len) +
                   " bytes but only " + std::to_string(file_size - 8) + " follow");

  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len)))
    throw Error(ErrorKind::Io, path + ": read error in the header");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(path, "header is not a JSON object");

  std::vector<Entry> entries;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    entries.push_back(parse_entry(path, it.key(), it.value()));
  }

  // Every range must lie inside the data section and no two may overlap.
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) {
    if (e.end > data_size)
      fail(path, "file is truncated: tensor '" + e.name + "' needs data bytes " +
                     std::to_string(e.begin) + ".." + std::to_string(e.end) + " but the data section has " +
                     std::to_string(data_size) + " bytes");
    by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      fail(path, "tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name + "' overlap");

  TensorMap out;
  for (const Entry* e : by_offset) {
    torch::Tensor t = torch::empty(e->shape, torch::TensorOptions().dtype(e->dtype));
    in.seekg(static_cast<std::streamoff>(data_start + e->begin));
    if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(e->end - e->begin)))
      throw Error(ErrorKind::Io, path + ": read error in tensor '" + e->name + "'");
    out.emplace(e->name, std::move(t));
  }
  return out;
}

}  // namespace rwkv
