// Ai00 / web-rwkv .st layout (spec/rwkv7.md 5.2): safetensors, "blocks.{l}.att.time_state" F16
// [H,N,N] transposed in the last two axes ([h][key][value]), metadata {"format": "pt"}.
#include <cmath>

#include "rwkv/error.h"
#include "safetensors_write.h"
#include "state_file_formats.h"

namespace rwkv {

std::string encode_state_ai00(const InitialState& s0, const std::string& path) {
  std::vector<SafetensorsEntry> tensors;
  for (int l = 0; l < s0.n_layer; ++l) {
    // [H,N,N] [value][key] -> [key][value], rounded to f16 (nearest even).
    const torch::Tensor st = state_layer(s0, l).transpose(1, 2).to(torch::kHalf).contiguous();
    if (!torch::isfinite(st).all().item<bool>()) {
      const float peak = state_layer(s0, l).abs().max().item<float>();
      throw Error(ErrorKind::NonFinite, path + ": not saved: " + state_key(l) + " has a value of magnitude " +
                                            std::to_string(peak) + ", beyond the f16 range (65504) of the Ai00 format");
    }
    SafetensorsEntry e;
    e.name = state_key(l);
    e.dtype = "F16";
    e.shape = {s0.n_head, s0.head_size, s0.head_size};
    e.data.assign(static_cast<const char*>(st.data_ptr()), static_cast<size_t>(st.nbytes()));
    tensors.push_back(std::move(e));
  }
  return encode_safetensors(tensors, {{"format", "pt"}});
}

StateFile decode_state_ai00(const std::string& path) {
  StateFile out;
  out.format = StateFormat::Ai00;
  out.s0 = state_from_tensors(read_safetensors(path), path, /*transposed=*/true, &out.stored_dtype);
  return out;
}

}  // namespace rwkv
