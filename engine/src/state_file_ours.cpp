// Our .rwkvstate layout: safetensors, "blocks.{l}.att.time_state" F32 [H,N,N] ([value][key]) and
// __metadata__ with every StateFile::meta entry (all strings) plus the marker
// "rwkv_studio_state": "1" that tells it apart from an Ai00 file.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <ctime>

#include <cmath>

#include "kernel_state.h"
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

// The kernel arrays, one tensor per layer: "blocks.{l}.att.kernel_{name}".
struct KernelArray {
  const char* name;
  std::vector<float> KernelState::*data;
  int rows_key;  // shape [H, a, b]: 0 = [H,M,N], 1 = [H,N,M], 2 = [H,M,M], 3 = [H]
};
const KernelArray kKernelArrays[] = {
    {"C", &KernelState::C, 0},   {"Q", &KernelState::Q, 1},         {"R", &KernelState::R, 2},
    {"U0", &KernelState::U0, 2}, {"gamma", &KernelState::gamma, 3}, {"beta", &KernelState::beta, 3},
};

std::vector<int64_t> kernel_shape(const KernelState& k, int kind) {
  switch (kind) {
    case 0: return {k.n_head, k.m, k.head_size};
    case 1: return {k.n_head, k.head_size, k.m};
    case 2: return {k.n_head, k.m, k.m};
    default: return {k.n_head};
  }
}

std::string kernel_key(int l, const char* name) { return "blocks." + std::to_string(l) + ".att.kernel_" + name; }

void check_kernel_finite(const KernelState& k, const std::string& path) {
  for (const auto& a : kKernelArrays)
    for (float v : k.*(a.data))
      if (!std::isfinite(v))
        throw Error(ErrorKind::NonFinite, path + ": not saved: the kernel part " + a.name + " holds a non-finite value");
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
  if (s0.kernel) {
    const KernelState& k = *s0.kernel;
    check_kernel_state(k);
    if (k.n_layer != s0.n_layer || k.n_head != s0.n_head || k.head_size != s0.head_size)
      throw Error(ErrorKind::Shape, path + ": the kernel part's dims differ from the state's");
    check_kernel_finite(k, path);
    meta["kernel"] = json{{"m", k.m}, {"write", k.write}, {"version", 1}}.dump();
    for (const auto& a : kKernelArrays) {
      const auto shape = kernel_shape(k, a.rows_key);
      size_t per_layer = 1;
      for (auto d : shape) per_layer *= static_cast<size_t>(d);
      const std::vector<float>& v = k.*(a.data);
      for (int l = 0; l < k.n_layer; ++l) {
        SafetensorsEntry e;
        e.name = kernel_key(l, a.name);
        e.dtype = "F32";
        e.shape = shape;
        e.data.assign(reinterpret_cast<const char*>(v.data() + l * per_layer), per_layer * sizeof(float));
        tensors.push_back(std::move(e));
      }
    }
  } else {
    meta.erase("kernel");
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
  const TensorMap tensors = read_safetensors(path);
  out.s0 = state_from_tensors(tensors, path, /*transposed=*/false, &out.stored_dtype);
  if (out.meta.count("dims")) check_dims_agree(out.s0, out.meta["dims"], path, ErrorKind::Format);
  if (out.meta.count("kernel")) {
    json kj;
    try {
      kj = json::parse(out.meta["kernel"]);
    } catch (const json::exception& e) {
      throw Error(ErrorKind::Format, path + ": metadata \"kernel\" is not valid JSON: " + e.what());
    }
    if (!kj.is_object() || !kj.contains("m") || !kj["m"].is_number_integer() || kj["m"].get<int>() <= 0)
      throw Error(ErrorKind::Format, path + ": metadata \"kernel\" lacks a positive integer \"m\"");
    auto k = std::make_shared<KernelState>();
    k->n_layer = out.s0.n_layer;
    k->n_head = out.s0.n_head;
    k->head_size = out.s0.head_size;
    k->m = kj["m"].get<int>();
    k->write = kj.value("write", false);
    for (const auto& a : kKernelArrays) {
      const auto shape = kernel_shape(*k, a.rows_key);
      for (int l = 0; l < k->n_layer; ++l) {
        const std::string key = kernel_key(l, a.name);
        const auto it = tensors.find(key);
        if (it == tensors.end()) throw Error(ErrorKind::MissingKey, path + ": missing key " + key + " (a kernel state)");
        if (!it->second.sizes().equals(shape))
          throw Error(ErrorKind::Shape, path + ": " + key + " has shape " + c10::str(it->second.sizes()) + ", expected " +
                                            c10::str(torch::IntArrayRef(shape)));
        const auto t = it->second.to(torch::kCPU, torch::kFloat32).contiguous();
        std::vector<float>& v = (*k).*(a.data);
        v.insert(v.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
      }
    }
    check_kernel_finite(*k, path);
    out.s0.kernel = k;
  }
  return out;
}

}  // namespace rwkv
