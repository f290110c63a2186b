// save_state / load_state / check_state_matches: format choice, content sniffing and the model
// checks; the layouts themselves are in state_file_{ours,peft,ai00}.cpp.
#include "rwkv/state_file.h"


#include <algorithm>
#include <cstring>

#include "read_file.h"
#include "rwkv/error.h"
#include "safetensors_write.h"
#include "state_file_formats.h"

namespace rwkv {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string extension(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  return lower(path.substr(dot));
}

std::string dims_text(int L, int H, int N) {
  return "n_layer=" + std::to_string(L) + ", n_head=" + std::to_string(H) + ", head_size=" + std::to_string(N);
}

}  // namespace

StateFormat state_format_for_path(const std::string& path) {
  const std::string ext = extension(path);
  if (ext == ".pth") return StateFormat::PeftPth;
  if (ext == ".st" || ext == ".state") return StateFormat::Ai00;
  return StateFormat::Ours;
}

const char* state_format_name(StateFormat f) {
  switch (f) {
    case StateFormat::Ours: return "RWKV Studio .rwkvstate";
    case StateFormat::PeftPth: return "RWKV-PEFT .pth";
    case StateFormat::Ai00: return "Ai00 .st";
  }
  return "?";
}

std::string state_export_warning(const InitialState& s0, StateFormat format) {
  if (!s0.kernel || format == StateFormat::Ours) return "";
  return std::string("the ") + state_format_name(format) + " format holds the plain state S0 only: the kernel-upscaled "
         "part (M=" + std::to_string(s0.kernel->m) + ": U0, C, Q, R, gamma) is dropped, so this file behaves like a "
         "plain state tuned alongside it; save as .rwkvstate to keep the whole state";
}

void save_state(const std::string& path, const StateFile& state) {
  check_state_for_save(state.s0, path);  // before anything touches the disk
  std::string bytes;
  switch (state.format) {
    case StateFormat::Ours: bytes = encode_state_ours(state, path); break;
    case StateFormat::PeftPth: bytes = encode_state_peft(state.s0, state.pth_bf16, path); break;
    case StateFormat::Ai00: bytes = encode_state_ai00(state.s0, path); break;
  }
  atomic_write_file(path, bytes);
}

void save_state(const std::string& path, const InitialState& s0, StateFormat format) {
  StateFile sf;
  sf.s0 = s0;
  sf.format = format;
  save_state(path, sf);
}

StateFile load_state(const std::string& path) {
  // State files are small (L*H*N*N values): reading the whole file to sniff it is fine.
  const std::string bytes = read_file(path, "a state file");
  StateFile out;
  if (bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04", 4) == 0) {
    out = decode_state_peft(path);
  } else if (looks_like_safetensors(bytes, bytes.size())) {
    const auto meta = safetensors_metadata(bytes, path);
    out = meta.count("rwkv_studio_state") ? decode_state_ours(path, bytes) : decode_state_ai00(path);
  } else if (!bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x80) {
    throw Error(ErrorKind::Format, path + ": a legacy (pre-zip) torch.save file; re-save it with torch.save "
                                          "from PyTorch 1.6 or newer");
  } else {
    throw Error(ErrorKind::Format, path + ": not a state file (" +
                                       (bytes.empty() ? std::string("the file is empty")
                                                      : "neither a PyTorch .pth zip nor safetensors") +
                                       ")");
  }
  out.path = path;
  return out;
}

std::string check_state_matches(const StateFile& state, const ModelInfo& model) {
  const InitialState& s = state.s0;
  const ModelDims& d = model.dims;
  const std::string name = state.path.empty() ? std::string("the state") : "the state " + state.path;
  if (s.n_layer != d.n_layer || s.n_head != d.n_head || s.head_size != d.head_size)
    throw Error(ErrorKind::Mismatch, name + " is for a model with " + dims_text(s.n_layer, s.n_head, s.head_size) +
                                         " but " + (model.path.empty() ? "the model" : model.path) + " has " +
                                         dims_text(d.n_layer, d.n_head, d.head_size));
  const auto it = state.meta.find("model_sha256");
  if (it == state.meta.end() || it->second.empty() || model.sha256.empty()) return "";
  if (lower(it->second) == lower(model.sha256)) return "";
  return name + " was tuned on another model file (sha256 " + it->second.substr(0, 12) + "...) than " +
         (model.path.empty() ? "this model" : model.path) + " (sha256 " + model.sha256.substr(0, 12) +
         "...); the dimensions match, so it is used, but its effect may differ";
}

}  // namespace rwkv
