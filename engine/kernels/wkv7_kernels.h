// Launchers of the wkv7 CUDA kernels (raw pointers, no torch), per head (spec/rwkv7.md 6.1):
//   S_t = S_{t-1} (diag(w_t) + a_t b_tᵀ) + v_t k_tᵀ,   y_t = S_t r_t,   S [value i][key j], N = 64.
//
// Time is cut into spans of kSpan steps that run in parallel (wkv7_spans.cu, wkv7_apply.cu,
// wkv7_steps.cu, wkv7_chain.cuh):
//   1. per span c, from the span's own inputs only: its transition G_c = Π_t (diag(w_t) + a_t b_tᵀ)
//      and its offset D_c (the state it ends in when it starts from 0), so S_end = S_start G_c + D_c,
//      and per step the dot products that make y, sa and the checkpoints linear in S_start;
//   2. one short sequential chain S_{c+1} = S_c G_c + D_c per head (ns - 1 matrix products);
//   3. every span turns its S_start into y (and what the backward needs) by 64 x 64 products.
// The backward does the same with the adjoint: dS_start = dS_end G_cᵀ + E_c, E_c the span's
// gradient of its start state when nothing flows in from its end, which is the product
// Σ_t dy_t QG_tᵀ of the span's output gradients with the forward's QG_t = G_{<=t} r_t (y_t =
// S_start QG_t + ...); then every span runs the exact per-step backward from its dS_end, in
// parallel. Spans make T steps a dependency chain of T/64 matrix products instead of T
// dependent steps; 2 and 3 share one launch, so the chain's latency hides behind the spans
// whose start is already known.
//
// Tensors, all contiguous: r, k, v, a, b of type In (float or __nv_bfloat16) and w, y, sa, dy and
// every gradient fp32, [B,T,H,N]; QG fp32 [B,T,H,N]; s0, sT, dsT, ds0 fp32 [B,H,N,N]; ckpt fp32 [B,H,ceil(T/16),N,N],
// the state before every 16th step (ckpt[...,0,:,:] = s0); G fp32 [B,H,ns,N,N], ns = ceil(T/64).
// Kernels run on `stream`; nothing synchronises the host; results are the same bits run to run.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace rwkv::cuda {

constexpr int kHeadSize = 64;
constexpr int kChunk = 16;  // checkpoint interval
constexpr int kSpan = 64;   // steps per span (a multiple of kChunk)

inline int n_spans(int T) { return (T + kSpan - 1) / kSpan; }
inline int n_chunks(int T) { return (T + kChunk - 1) / kChunk; }

// Scratch the launchers need, in floats (the caller allocates it on the device).
size_t wkv7_workspace_floats(int B, int T, int H);

// ckpt, sa, G and QG may be null (inference: nothing is kept for a backward). G and QG, when
// given, are kept for the backward, which needs G whenever T > kSpan and QG whenever it computes
// a span's adjoint (T > kSpan, or ds0_only).
template <typename In>
void wkv7_forward(int B, int T, int H, const In* r, const float* w, const In* k, const In* v, const In* a,
                  const In* b, const float* s0, float* y, float* sT, float* ckpt, float* sa, float* G, float* QG,
                  float* work, cudaStream_t stream);

// dsT may be null (zero). With ds0_only, only ds0 is computed (dr .. db, ckpt and sa may be
// null): the chain alone, no per-step backward.
template <typename In>
void wkv7_backward(int B, int T, int H, const In* r, const float* w, const In* k, const In* v, const In* a,
                   const In* b, const float* sT, const float* ckpt, const float* sa, const float* G, const float* QG,
                   const float* dy, const float* dsT, float* dr, float* dw, float* dk, float* dv, float* da, float* db,
                   float* ds0, bool ds0_only, float* work, cudaStream_t stream);

}  // namespace rwkv::cuda
