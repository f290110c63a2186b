// The state-tuning loss of one micro-batch: run the frozen model from the trainable initial
// states, take the hidden rows that predict target tokens (row t-1 for target t), apply the head
// to those rows only and sum the token cross-entropies. Gradients flow to s0 only (the weights
// never require grad).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "tune_batches.h"
#include "weights.h"

namespace rwkv {

// s0: L x [H,N,N] fp32 (requires_grad for training, or not for eval), expanded over the batch.
// Returns the summed cross-entropy over mb's targets, a 0-dim fp32 tensor on the model's device.
// Plain states on a GPU with bf16 weights take the hand-written passes of tune_fused.h.
torch::Tensor micro_batch_ce_sum(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0);

struct KernelExt;
// The kernel-upscaled state of a run: fixed parameters (R and beta may be leaves that require
// grad) and the trainable U0, L x [H,M,M], expanded over the batch like s0; and the tuner's
// forward option `recompute`.
struct KernelTrain {
  std::shared_ptr<const KernelExt> ext;
  const std::vector<torch::Tensor>* u0 = nullptr;
  bool recompute = false;  // TuneConfig::recompute (any method): re-run each layer in the backward
};
// As above with a kernel state; with `z`, also returns z = R phi(r/|r|) of every real input token
// per layer, L x [n_tokens,H,M] (for DBP), still attached to the graph.
torch::Tensor micro_batch_ce_sum(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0,
                                 const KernelTrain& kernel, std::vector<torch::Tensor>* z);
// The logits of mb's target rows, [n_targets, V] fp32 (row i predicts mb.labels[i]); the same
// forward as micro_batch_ce_sum (which is cross_entropy(sum) of these). s0 empty = zeros.
torch::Tensor micro_batch_logits(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0,
                                 const KernelTrain& kernel, std::vector<torch::Tensor>* z);

}  // namespace rwkv
