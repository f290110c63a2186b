// Activation recomputation for one layer of the tuner's forward (gradient checkpointing): the
// layer runs without keeping its internals for autograd, only its inputs (x, the shift states,
// the wkv state, v_first, the kernel state's U and trainable R/beta); the backward re-runs the
// layer from them with grad enabled and differentiates it. About one extra forward per step for
// activation memory of one layer instead of all of them. Gradients and values equal
// forward_layer's (the recurrence is deterministic).
#pragma once
#include <torch/torch.h>

#include "forward.h"

namespace rwkv {

// As forward_layer with no outgoing state and no trace; z (kernel only, may be null) receives
// z = R phi(r/|r|) [B,T,H,M], attached to the graph. lw and in.kernel must outlive the backward.
torch::Tensor recomputed_layer(const LayerWeights& lw, int64_t H, int64_t N, const torch::Tensor& x,
                               const LayerIn& in, torch::Tensor& v_first, torch::Tensor* z);

}  // namespace rwkv
