// The state-tuning loss of one micro-batch through hand-written forward and backward passes
// (tune_ops.h), the path micro_batch_ce_sum takes on the GPU for plain state tuning.
//
// The same function as the autograd path (tune_loss.h: the summed cross-entropy over mb's
// targets from the per-layer S0, shifts zero, weights frozen), computed differently: the layer's
// elementwise work is a few fused passes instead of dozens of kernels; activations stay in the
// weights' dtype; since nothing but S0 is trained, only activation gradients flow (no weight
// gradients) and layer 0 needs its recurrence's dS0 only; and the head's gradient is taken
// during the forward, a chunk of logits at a time, so no [n, V] logits outlive their chunk.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "tune_batches.h"
#include "tune_ops.h"
#include "weights.h"

namespace rwkv {

// s0: L x [H,N,N] fp32 leaves (gradients flow to those that require grad when grad mode is
// on; otherwise the forward alone runs). recompute: keep only each layer's input and re-run
// the layer in the backward (less memory, one more forward). Returns a 0-dim fp32 tensor.
torch::Tensor fused_ce_sum(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0,
                           bool recompute, tune_ops::Impl impl);

// Whether micro_batch_ce_sum takes this path: the kernels apply to the model
// (tune_ops::kernels_apply) and the environment does not set RWKV_NO_FUSED_TUNE.
bool fused_tuning_applies(const Model::Impl& m);

}  // namespace rwkv
