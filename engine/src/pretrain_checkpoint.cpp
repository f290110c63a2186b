// Pretraining files (see pretrain_checkpoint.h).
#include "pretrain_checkpoint.h"


#include "read_file.h"
#include "rwkv/error.h"
#include "rwkv/state_file.h"
#include "safetensors_write.h"

namespace rwkv {
namespace {

std::string st_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat32: return "F32";
    case torch::kBFloat16: return "BF16";
    case torch::kHalf: return "F16";
    default: throw Error(ErrorKind::Argument, std::string("encode_tensor_map: unsupported dtype ") + c10::toString(t));
  }
}

}  // namespace

std::string encode_tensor_map(const TensorMap& tensors, const std::map<std::string, std::string>& meta) {
  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, t0] : tensors) {
    const auto t = t0.to(torch::kCPU).contiguous();
    SafetensorsEntry e;
    e.name = name;
    e.dtype = st_dtype(t.scalar_type());
    e.shape = t.sizes().vec();
    e.data.assign(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
    entries.push_back(std::move(e));
  }
  return encode_safetensors(entries, meta);
}

void save_pretrain_checkpoint(const std::string& path, const PretrainCheckpoint& ck) {
  TensorMap t{{"flat", ck.flat}, {"adam_m", ck.m}, {"adam_v", ck.v}};
  atomic_write_file(path, encode_tensor_map(t, {{"rwkv_studio_pretrain_ckpt", "1"},
                                                {"step", std::to_string(ck.step)},
                                                {"adam_t", std::to_string(ck.adam_t)},
                                                {"elapsed_s", std::to_string(ck.elapsed_s)},
                                                {"recipe", ck.recipe_json}}));
}

PretrainCheckpoint load_pretrain_checkpoint(const std::string& path) {
  const auto meta = safetensors_metadata(read_file(path, "a pretraining checkpoint"), path);
  for (const char* k : {"rwkv_studio_pretrain_ckpt", "step", "adam_t", "recipe"})
    if (!meta.count(k)) throw Error(ErrorKind::Format, path + ": not a pretraining checkpoint (no '" + k + "' metadata)");
  auto t = read_safetensors(path);
  PretrainCheckpoint ck;
  for (const char* k : {"flat", "adam_m", "adam_v"})
    if (!t.count(k)) throw Error(ErrorKind::MissingKey, path + ": missing tensor '" + std::string(k) + "'");
  ck.flat = t["flat"];
  ck.m = t["adam_m"];
  ck.v = t["adam_v"];
  if (ck.m.sizes() != ck.flat.sizes() || ck.v.sizes() != ck.flat.sizes())
    throw Error(ErrorKind::Shape, path + ": adam moments do not match the weights' shape " + c10::str(ck.flat.sizes()));
  ck.step = std::stoi(meta.at("step"));
  ck.adam_t = std::stoll(meta.at("adam_t"));
  ck.recipe_json = meta.at("recipe");
  if (meta.count("elapsed_s")) ck.elapsed_s = std::stod(meta.at("elapsed_s"));
  return ck;
}

}  // namespace rwkv
