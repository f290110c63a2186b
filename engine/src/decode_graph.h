// Single-stream decoding on CUDA as one replayed CUDA graph per token: a step of the eager
// forward issues ~60 small kernels per layer, so at batch 1 it is bound by launch latency;
// captured once, a step costs one graph launch and runs near the weights' read bandwidth.
#pragma once
#include <memory>

#include "forward.h"

namespace rwkv {

class DecodeGraph {
 public:
  explicit DecodeGraph(const Model::Impl& m);
  ~DecodeGraph();
  // One token through the model from `state` (batch 1); on return `state` holds the graph's
  // static buffers with the new state. Returns the logits [V] fp32 on the device.
  torch::Tensor step(int token, RecurrentState& state);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether decoding on this model's device uses DecodeGraph (CUDA builds, CUDA device, unless
// the environment sets RWKV_NO_CUDA_GRAPH=1).
bool decode_graph_enabled(const Model::Impl& m);

}  // namespace rwkv
