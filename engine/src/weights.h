// Model::Impl: the validated weights of an RWKV-7 model as torch tensors, squeezed to the
// shapes the forward pass uses (spec/rwkv7.md section 2, "squeeze to" column).
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "rwkv/model.h"

namespace rwkv {

// Raw tensors as read from a checkpoint, keyed by their .pth names (rwkv.cpp files are
// converted to .pth naming and layout by their reader). Values keep the file's dtype.
using TensorMap = std::map<std::string, torch::Tensor>;

struct AttWeights {
  torch::Tensor x_r, x_w, x_k, x_v, x_a, x_g;  // [C] token-shift lerp coefficients
  torch::Tensor w0, w1, w2;                    // [C], [C,Dw], [Dw,C]  decay LoRA
  torch::Tensor a0, a1, a2;                    // [C], [C,Da], [Da,C]  in-context learning rate
  torch::Tensor v0, v1, v2;                    // [C], [C,Dv], [Dv,C]  value residual (undefined in layer 0)
  torch::Tensor g1, g2;                        // [C,Dg], [Dg,C]      output gate
  torch::Tensor k_k, k_a;                      // [C]
  torch::Tensor r_k;                           // [H,N]
  torch::Tensor Wr, Wk, Wv, Wo;                // [C,C] nn.Linear (out, in)
  torch::Tensor ln_x_w, ln_x_b;                // [C] GroupNorm affine
};

struct FfnWeights {
  torch::Tensor x_k;    // [C]
  torch::Tensor Wkey;   // [F,C]
  torch::Tensor Wval;   // [C,F]
};

struct LayerWeights {
  torch::Tensor ln1_w, ln1_b, ln2_w, ln2_b;  // [C]
  AttWeights att;
  FfnWeights ffn;
};

struct Model::Impl {
  ModelInfo info;
  torch::Tensor emb;                 // [V,C]
  torch::Tensor ln0_w, ln0_b;        // [C] (block 0 only, applied once before block 0)
  std::vector<LayerWeights> layers;  // L
  torch::Tensor ln_out_w, ln_out_b;  // [C]
  torch::Tensor head;                // [V,C]
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;  // compute dtype of the weights
};

// Checkpoint readers (one file each). They throw rwkv::Error naming the file.
TensorMap read_pth(const std::string& path);
TensorMap read_safetensors(const std::string& path);
TensorMap read_rwkvcpp(const std::string& path);
// Detects the format from the file's first bytes; sets *format to "pth", "safetensors" or "rwkv.cpp".
TensorMap read_checkpoint(const std::string& path, std::string* format);

// Validates every key and shape (messages name the key, the expected and the found shape),
// refuses NaN/Inf, infers the dimensions, converts to the compute dtype and device.
std::unique_ptr<Model::Impl> build_weights(TensorMap tensors, const std::string& path,
                                           const LoadOptions& opt);

}  // namespace rwkv
