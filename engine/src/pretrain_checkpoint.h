// Files of a pretraining run: the finished model (our safetensors: .pth key names, bf16 matrices,
// fp32 vectors, the recipe and results in __metadata__) and the resumable checkpoint
// <out>.ckpt (fp32 flat weights, AdamW moments, step). Both written atomically.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>

#include "weights.h"

namespace rwkv {

// TensorMap (CPU tensors of fp32/bf16/fp16) -> safetensors bytes.
std::string encode_tensor_map(const TensorMap& tensors, const std::map<std::string, std::string>& meta);

struct PretrainCheckpoint {
  torch::Tensor flat, m, v;  // [P] fp32 each, CPU
  int64_t adam_t = 0;
  int step = 0;
  double elapsed_s = 0;  // wall time of the run so far, all calls
  std::string recipe_json;
};

void save_pretrain_checkpoint(const std::string& path, const PretrainCheckpoint& ck);
// Throws Error naming the file on a missing or damaged checkpoint.
PretrainCheckpoint load_pretrain_checkpoint(const std::string& path);

}  // namespace rwkv
