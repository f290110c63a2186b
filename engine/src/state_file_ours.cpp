// Our .rwkvstate layout: safetensors, "blocks.{l}.att.time_state" F32 [H,N,N] ([value][key]) and
// __metadata__ with every StateFile::meta entry (all strings) plus the marker
// "rwkv_studio_state": "1" that tells it apart from an Ai00 file.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <ctime>

#include "rwkv/error.h"
#include "safetensors_write.h"
#include "state_file_formats.h"

namespace rwkv {
namespace {

using json = nlohmann::json;
constexpr const char* kMarker = "rwkv_studio_state";

std::string now_iso8601() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The dims a "dims" JSON names for the state (n_layer, n_head, head_size), each -1 if absent.
void dims_from_meta(const std::string& text, const std::string& where, int* L, int* H, int* N) {
  *L = *H = *N = -1;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(ErrorKind::Format, where + ": metadata \"dims\" is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(ErrorKind::Format, where + ": metadata \"dims\" is not a JSON object");
  const auto get = [&](const char* k, int* out) {
    if (j.contains(k) && j[k].is_number_integer()) *out = j[k].get<int>();
  };
  get("n_layer", L);
  get("n_head", H);
  get("head_size", N);
}

void check_dims_agree(const InitialState& s, const std::string& dims, const std::string& where, ErrorKind kind) {
  int L, H, N;
  dims_from_meta(dims, where, &L, &H, &N);
  if ((L >= 0 && L != s.n_layer) || (H >= 0 && H != s.n_head) || (N >= 0 && N != s.head_size))
    throw Error(kind, where + ": metadata \"dims\" " + dims + " disagrees with the state tensors (n_layer=" +
                          std::to_string(s.n_layer) + ", n_head=" + std::to_string(s.n_head) +
                          ", head_size=" + std::to_string(s.head_size) + ")");
}

}  // namespace

std::string encode_state_ours(const StateFile& state, const std::string& path) {
  const InitialState& s0 = state.s0;
  std::map<std::string, std::string> meta = state.meta;
  if (meta.count("dims")) {
    check_dims_agree(s0, meta["dims"], path, ErrorKind::Argument);
  } else {
    meta["dims"] = json{{"n_embd", s0.n_head * s0.head_size}, {"n_layer", s0.n_layer},
                        {"n_head", s0.n_head}, {"head_size", s0.head_size}}.dump();
  }
  if (!meta.count("created") || meta["created"].empty()) meta["created"] = now_iso8601();
  meta[kMarker] = "1";

  std::vector<SafetensorsEntry> tensors;
  const size_t layer_bytes = static_cast<size_t>(s0.n_head) * s0.head_size * s0.head_size * sizeof(float);
  for (int l = 0; l < s0.n_layer; ++l) {
    SafetensorsEntry e;
    e.name = state_key(l);
    e.dtype = "F32";
    e.shape = {s0.n_head, s0.head_size, s0.head_size};
    e.data.assign(reinterpret_cast<const char*>(state_layer(s0, l).data_ptr<float>()), layer_bytes);
    tensors.push_back(std::move(e));
  }
  return encode_safetensors(tensors, meta);
}

StateFile decode_state_ours(const std::string& path, const std::string& bytes) {
  StateFile out;
  out.format = StateFormat::Ours;
  out.meta = safetensors_metadata(bytes, path);
  const auto marker = out.meta.find(kMarker);
  if (marker != out.meta.end() && marker->second != "1")
    throw Error(ErrorKind::Format, path + ": state file version " + marker->second +
                                       " is not supported (this build reads version 1)");
  out.meta.erase(kMarker);
  out.s0 = state_from_tensors(read_safetensors(path), path, /*transposed=*/false, &out.stored_dtype);
  if (out.meta.count("dims")) check_dims_agree(out.s0, out.meta["dims"], path, ErrorKind::Format);
  return out;
}

}  // namespace rwkv
