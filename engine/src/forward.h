// The RWKV-7 forward pass over a batch of token sequences (spec/rwkv7.md section 1).
// Everything except the token shift and the wkv recurrence is batched over time; the
// recurrence runs in wkv7(). The function is pure (state in, state out) so autograd can
// differentiate through it with respect to the initial wkv states (state tuning).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "weights.h"

namespace rwkv {

struct KernelExt;    // kernel_state.h
struct KernelLayer;  // kernel_state.h

// Recurrent state of a batch of B streams, one tensor per layer.
struct RecurrentState {
  std::vector<torch::Tensor> att_shift;  // L x [B,C]      ln1 output at the previous token
  std::vector<torch::Tensor> ffn_shift;  // L x [B,C]      ln2 output at the previous token
  std::vector<torch::Tensor> wkv;        // L x [B,H,N,N]  fp32, [value i][key j]
  // Kernel-upscaled state (kernel_state.h): the fixed parameters and the running U per layer,
  // L x [B,H,M,M] fp32 (empty = zeros). Null for the plain model: nothing else is computed.
  std::shared_ptr<const KernelExt> kernel;
  std::vector<torch::Tensor> ups;

  static RecurrentState zeros(const Model::Impl& m, int64_t batch);
  // Copies src's shifts and wkv into this state's tensors in place (their storage is kept, as
  // a CUDA graph's static buffers need); the kernel part is not copied.
  void copy_from(const RecurrentState& src);
};

// Optional per-layer view of the recurrence inputs, for the inspector and tests.
struct WkvTrace {
  // per layer: r,w,k,v,a,b each [B,T,H,N] (a = -kk, b = kk*a_lr)
  std::vector<std::vector<torch::Tensor>> inputs;
  // per layer, with a kernel state and want_kernel_z: z = R phi(r/|r|) [B,T,H,M]
  bool want_kernel_z = false;
  std::vector<torch::Tensor> kernel_z;
};

struct ForwardResult {
  torch::Tensor logits;  // [B,T,V] or [B,1,V] (last_only); in the weights' dtype promoted to fp32
  RecurrentState state;  // after the last token
};

// tokens: [B,T] int64 on any device. last_only: compute the head only for the last position.
ForwardResult forward(const Model::Impl& m, const torch::Tensor& tokens, const RecurrentState& in,
                      bool last_only = false, WkvTrace* trace = nullptr);

// Hidden states before ln_out/head, [B,T,C] — used by the tuner to compute the loss only on the
// positions that need it. recompute: keep only each layer's inputs for autograd and re-run the
// layer in the backward (layer_recompute.h); then out must be null and trace only gives kernel_z.
torch::Tensor forward_hidden(const Model::Impl& m, const torch::Tensor& tokens, const RecurrentState& in,
                             RecurrentState* out, WkvTrace* trace = nullptr, bool recompute = false);

// One layer's inputs besides x: its slice of a RecurrentState.
struct LayerIn {
  torch::Tensor att_shift, ffn_shift;    // [B,C]
  torch::Tensor wkv;                     // [B,H,N,N]
  const KernelLayer* kernel = nullptr;   // null = plain model
  bool write = false, r_decor_only = false;
  torch::Tensor ups;                     // [B,H,M,M] or undefined (= zeros)
  static LayerIn of(const RecurrentState& s, int l);
};
// What one layer gives back besides x: the outgoing state (want_state) and z (want_z, kernel only).
struct LayerOut {
  bool want_state = false, want_z = false;
  torch::Tensor att_shift, ffn_shift, wkv, ups, z;  // [B,C], [B,C], [B,H,N,N], [B,H,M,M], [B,T,H,M]
};
// One layer (time mix + channel mix): x [B,T,C] -> [B,T,C]. v_first [B,T,C] is set by the first
// layer (undefined on entry) and read by the others. trace: that layer's WkvTrace inputs, or null.
torch::Tensor forward_layer(const LayerWeights& lw, int64_t H, int64_t N, const torch::Tensor& x, const LayerIn& in,
                            torch::Tensor& v_first, std::vector<torch::Tensor>* trace, LayerOut* out);
torch::Tensor head_logits(const Model::Impl& m, const torch::Tensor& hidden);  // [...,C] -> [...,V] fp32

}  // namespace rwkv
