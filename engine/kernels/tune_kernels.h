// Launchers of the fused kernels of the CUDA state-tuning step (raw pointers, no torch). Each
// kernel is one pass over the rows of a piece of the layer that the eager forward spends 5-20
// elementwise launches on; the backward kernels recompute what they need from the forward's
// inputs instead of reading saved intermediates. The math is spelt out in torch ops in
// engine/src/tune_ops.cpp (the reference these kernels are tested against).
//
// Rows: M = B*T tokens, row m = b*T + t; C channels (a multiple of 64), heads of N = 64.
// Activations are bf16, the residual stream x and every gradient that feeds a sum are fp32,
// parameter vectors fp32.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace rwkv::cuda {

using bf16 = __nv_bfloat16;

constexpr int kMaxMix = 6;  // lerps of the time mix
struct MixOuts { bf16* p[kMaxMix]; };
struct MixGrads { const bf16* p[kMaxMix]; };

// x = x_in + add (add may be null: then x = x_in and x_out may be null; else x_out gets x),
// xa = LayerNorm(x; ln_w, ln_b, eps 1e-5), and for l < n_mix
//   out_l = xa + (xa_prev - xa) * mu_l,  mu [n_mix, C],
// xa_prev the previous token's xa in the same sequence of T rows (0 before its first token).
void norm_mix_forward(int M, int T, int C, const float* x_in, const bf16* add, const float* ln_w, const float* ln_b,
                      const float* mu, int n_mix, float* x_out, MixOuts outs, cudaStream_t stream);

// Backward of norm_mix_forward with respect to x, given d out_l (douts):
//   dxa_t = Σ_l dout_l,t (1 - mu_l) + dout_l,t+1 mu_l,  dx = dres + LayerNorm'(x)ᵀ dxa.
// dres may be null (0); dx_bf, if not null, gets a bf16 copy of dx.
void norm_mix_backward(int M, int T, int C, const float* x, const float* ln_w, const float* mu, int n_mix,
                       MixGrads douts, const float* dres, float* dx, bf16* dx_bf, cudaStream_t stream);

// The time mix between its projections and the recurrence (spec 1.3), per token and head:
//   w = exp(-e^-0.5 σ(w0 + wl)), a = σ(a0 + al), kk = normalize(k k_k), km = k (1 + (a-1) k_a),
//   vm = v + (vfirst - v) σ(v0 + vl)  (vm = v when vl is null: layer 0),
//   wkv inputs: w (fp32), km, vm, aa = -kk, bb = kk a.
struct MidParams { const float *w0, *a0, *v0, *k_k, *k_a; };
void mid_forward(int M, int C, const bf16* k, const bf16* v, const bf16* wl, const bf16* al, const bf16* vl,
                 const bf16* vfirst, MidParams p, float* w, bf16* km, bf16* vm, bf16* aa, bf16* bb,
                 cudaStream_t stream);

// Its backward, from the recurrence's gradients (dr_w .. dbb) plus the bonus term's (dr_b, dkm_b,
// dvm_b), to the projections' outputs: dr, dk, dv, dwl, dal, dvl (bf16; dvl unused in layer 0).
// dvfirst (fp32 [M,C]) collects the value residual: layers > 0 add dvm σ(v0 + vl) to it, layer 0
// (vl null) adds it to dv.
struct MidGrads {
  const float *dr_w, *dr_b, *dw, *dkm_w, *dkm_b, *dvm_w, *dvm_b, *daa, *dbb;
};
void mid_backward(int M, int C, const bf16* k, const bf16* v, const bf16* wl, const bf16* al, const bf16* vl,
                  const bf16* vfirst, MidParams p, MidGrads g, float* dvfirst, bf16* dr, bf16* dk, bf16* dv,
                  bf16* dwl, bf16* dal, bf16* dvl, cudaStream_t stream);

// After the recurrence, per token and head: yo = GroupNorm(y) ln_x_w + ln_x_b (eps 64e-5),
// z = (yo + (Σ_j r_j km_j r_k[h][j]) vm) g.
struct PostParams { const float *lnx_w, *lnx_b, *r_k; };
void post_forward(int M, int C, const float* y, const bf16* r, const bf16* km, const bf16* vm, const bf16* g,
                  PostParams p, bf16* z, cudaStream_t stream);
// Its backward from dz: dy (fp32), dg (bf16) and the bonus term's dr_b, dkm_b, dvm_b (fp32).
void post_backward(int M, int C, const bf16* dz, const float* y, const bf16* r, const bf16* km, const bf16* vm,
                   const bf16* g, PostParams p, float* dy, bf16* dg, float* dr_b, float* dkm_b, float* dvm_b,
                   cudaStream_t stream);

// Channel mix activation h = relu(u)^2, and in place dh -> du = dh 2 relu(u). n elements.
void relu_sq_forward(size_t n, const bf16* u, bf16* h, cudaStream_t stream);
void relu_sq_backward(size_t n, const bf16* u, bf16* dh, cudaStream_t stream);

// Cross-entropy of n rows of V logits: loss[i] = logsumexp(logits_i) - logits_i[label_i], and
// in place logits_i = softmax(logits_i) - onehot(label_i) (its gradient).
void cross_entropy_rows(int n, int V, bf16* logits, const int64_t* labels, float* loss, cudaStream_t stream);

}  // namespace rwkv::cuda
