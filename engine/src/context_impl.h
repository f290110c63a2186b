// Context::Impl and conversions between InitialState (plain floats) and torch tensors.
#pragma once
#include <memory>

#include "decode_graph.h"
#include "forward.h"
#include "rwkv/context.h"

namespace rwkv {

struct Context::Impl {
  RecurrentState state;  // batch 1
  torch::Tensor s0;      // [L,H,N,N] fp32, or undefined for zeros
  std::shared_ptr<const KernelExt> kernel;  // kernel-upscaled state, or null
  std::vector<torch::Tensor> kernel_u0;     // L x [H,M,M] with `kernel`
  std::unique_ptr<DecodeGraph> graph;  // CUDA: step() replays one captured graph per token
};

// [L,H,N,N] fp32 on `device`; throws Error(Mismatch) when the dims differ from the model's.
torch::Tensor initial_state_to_tensor(const InitialState& s0, const ModelDims& d, torch::Device device);
InitialState tensor_to_initial_state(const torch::Tensor& t, const ModelDims& d);  // t [L,H,N,N]

}  // namespace rwkv
