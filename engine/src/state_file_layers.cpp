// The per-layer checks shared by every state file layout (see state_file_formats.h).
#include <cmath>
#include <map>

#include "rwkv/error.h"
#include "state_file_formats.h"

namespace rwkv {
namespace {

std::string dims_str(const InitialState& s) {
  return "n_layer=" + std::to_string(s.n_layer) + ", n_head=" + std::to_string(s.n_head) +
         ", head_size=" + std::to_string(s.head_size);
}

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

const char* dtype_name(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "fp32";
    case torch::kBFloat16: return "bf16";
    case torch::kHalf: return "fp16";
    default: return nullptr;
  }
}

// "blocks.12.att.time_state" -> 12; -1 for any other name.
int layer_of(const std::string& key) {
  static const std::string head = "blocks.", tail = ".att.time_state";
  if (key.size() <= head.size() + tail.size() || key.compare(0, head.size(), head) != 0 ||
      key.compare(key.size() - tail.size(), tail.size(), tail) != 0)
    return -1;
  const std::string num = key.substr(head.size(), key.size() - head.size() - tail.size());
  if (num.empty() || num.size() > 6 || (num.size() > 1 && num[0] == '0')) return -1;
  for (char c : num)
    if (c < '0' || c > '9') return -1;
  return std::stoi(num);
}

// Position [h][i][j] of the first NaN/Inf of a [H,N,N] fp32 tensor, or "" if all are finite.
std::string first_non_finite(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  const float* p = c.data_ptr<float>();
  const int64_t n = c.numel(), N = c.size(2);
  for (int64_t k = 0; k < n; ++k)
    if (!std::isfinite(p[k]))
      return "[" + std::to_string(k / (N * N)) + "][" + std::to_string(k / N % N) + "][" + std::to_string(k % N) +
             "] = " + std::to_string(p[k]);
  return "";
}

}  // namespace

std::string state_key(int layer) { return "blocks." + std::to_string(layer) + ".att.time_state"; }

torch::Tensor state_layer(const InitialState& s0, int layer) {
  const int64_t H = s0.n_head, N = s0.head_size;
  float* base = const_cast<float*>(s0.wkv.data()) + static_cast<size_t>(layer) * H * N * N;
  return torch::from_blob(base, {H, N, N}, torch::TensorOptions().dtype(torch::kFloat32));
}

void check_state_for_save(const InitialState& s0, const std::string& path) {
  if (s0.n_layer <= 0 || s0.n_head <= 0 || s0.head_size <= 0)
    throw Error(ErrorKind::Argument, path + ": cannot save a state with " + dims_str(s0));
  const size_t want = static_cast<size_t>(s0.n_layer) * s0.n_head * s0.head_size * s0.head_size;
  if (s0.wkv.size() != want)
    throw Error(ErrorKind::Shape, path + ": the state holds " + std::to_string(s0.wkv.size()) + " values, " +
                                      dims_str(s0) + " needs " + std::to_string(want));
  for (int l = 0; l < s0.n_layer; ++l) {
    const std::string bad = first_non_finite(state_layer(s0, l));
    if (!bad.empty())
      throw Error(ErrorKind::NonFinite, path + ": not saved: " + state_key(l) + " holds a non-finite value (" + bad +
                                            ", layout [head][value][key])");
  }
}

InitialState state_from_tensors(const TensorMap& tensors, const std::string& path, bool transposed,
                                std::string* stored_dtype) {
  std::map<int, const torch::Tensor*> layers;
  std::string others;
  int n_other = 0;
  for (const auto& [key, t] : tensors) {
    const int l = layer_of(key);
    if (l >= 0) {
      layers[l] = &t;
    } else if (n_other++ < 5) {
      others += (others.empty() ? "" : ", ") + key;
    }
  }
  if (layers.empty())
    throw Error(ErrorKind::MissingKey, path + ": no state tensors " + state_key(0) + ", " + state_key(1) +
                                           ", ... in the file (it holds " + std::to_string(n_other) + " other tensors" +
                                           (others.empty() ? "" : ": " + others + (n_other > 5 ? ", ..." : "")) + ")");
  const int L = layers.rbegin()->first + 1;
  for (int l = 0; l < L; ++l)
    if (!layers.count(l))
      throw Error(ErrorKind::MissingKey, path + ": missing key " + state_key(l) + " (the file has " +
                                             std::to_string(layers.size()) + " state tensors, the highest is layer " +
                                             std::to_string(L - 1) + ")");

  const torch::Tensor& first = *layers.at(0);
  if (first.dim() != 3 || first.size(1) != first.size(2) || first.size(0) <= 0 || first.size(1) <= 0)
    throw Error(ErrorKind::Shape, path + ": " + state_key(0) + " has shape " + shape_str(first.sizes()) +
                                      ", expected [n_head, head_size, head_size]");
  InitialState s = InitialState::zeros(L, static_cast<int>(first.size(0)), static_cast<int>(first.size(1)));
  std::string dtype;
  for (int l = 0; l < L; ++l) {
    const torch::Tensor& t = *layers.at(l);
    const std::string key = state_key(l);
    if (!t.sizes().equals(first.sizes()))
      throw Error(ErrorKind::Shape, path + ": " + key + " has shape " + shape_str(t.sizes()) + " but " + state_key(0) +
                                        " has " + shape_str(first.sizes()) + " (every layer must have the same)");
    const char* name = dtype_name(t.scalar_type());
    if (!name)
      throw Error(ErrorKind::Format, path + ": " + key + " has dtype " + std::string(c10::toString(t.scalar_type())) +
                                         ", expected fp32, bf16 or fp16");
    if (dtype.empty()) dtype = name;
    else if (dtype != name) dtype = "mixed";
    const torch::Tensor f = t.to(torch::kCPU, torch::kFloat32);
    const std::string bad = first_non_finite(f);
    if (!bad.empty())
      throw Error(ErrorKind::NonFinite, path + ": " + key + " holds a non-finite value (" + bad + " as stored)");
    state_layer(s, l).copy_(transposed ? f.transpose(1, 2) : f);
  }
  if (stored_dtype) *stored_dtype = dtype;
  return s;
}

}  // namespace rwkv
