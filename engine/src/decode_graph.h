// Single-stream decoding on CUDA as one replayed CUDA graph per token. What the graph holds is
// the fused decode step (decode_fused.h, 6 kernels per layer) where the model allows it, else
// the eager forward (~60 small kernels per layer); either way a step costs one graph launch.
// The token's upload and the logits' download are in the graph too, through pinned host buffers,
// so that a step is: write the token, replay, wait, copy the logits out.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "forward.h"

namespace rwkv {

class DecodeGraph {
 public:
  // fused: capture the fused step (needs decode_fused_supported(m)) instead of the eager forward.
  DecodeGraph(const Model::Impl& m, bool fused);
  ~DecodeGraph();
  // One token through the model from `state` (batch 1); on return `state` holds the graph's
  // static buffers with the new state. Returns the logits [V]; waits for the GPU.
  std::vector<float> step(int token, RecurrentState& state);
  bool fused() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether decoding on this model's device uses DecodeGraph (CUDA builds, CUDA device, unless
// the environment sets RWKV_NO_CUDA_GRAPH=1: then Context::step runs the eager forward).
bool decode_graph_enabled(const Model::Impl& m);

// Whether that graph holds the fused step: decode_fused_supported(m), unless the environment
// sets RWKV_NO_FUSED_DECODE=1 (then it holds the eager forward, for comparisons).
bool decode_fused_enabled(const Model::Impl& m);

// Whether the fused step overlaps its kernels (programmatic dependent launch): on sm_90 and
// later, unless the environment sets RWKV_NO_PDL=1.
bool decode_overlap_enabled(const Model::Impl& m);

// Which path Context::step takes for a plain (not kernel-upscaled) state on this model:
// "cuda-graph-fused-pdl", "cuda-graph-fused", "cuda-graph-eager" or "eager".
std::string decode_path(const Model::Impl& m);

}  // namespace rwkv
