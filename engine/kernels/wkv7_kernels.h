// Launchers of the wkv7 CUDA kernels (raw pointers, no torch). All tensors contiguous fp32:
// r, w, k, v, a, b, y, sa, dy and the input grads [B,T,H,N]; s0, sT, dsT, ds0 [B,H,N,N] ([value][key]);
// ckpt [B,H,ceil(T/16),N,N] = the state before each 16-step chunk (ckpt[...,0,:,:] = s0).
// ckpt and sa may be null in the forward (inference: nothing kept for a backward). N must be 64.
// Kernels run on `stream`; nothing synchronises the host. Each head runs as 4 blocks of 16 state
// rows; the backward's 4 blocks form a thread-block cluster (sm_90+) and add their key-indexed
// gradient partials in a fixed order, so results are reproducible run to run.
#pragma once
#include <cuda_runtime.h>

namespace rwkv::cuda {

constexpr int kHeadSize = 64;
constexpr int kChunk = 16;

void wkv7_forward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                  const float* a, const float* b, const float* s0, float* y, float* sT, float* ckpt,
                  float* sa, cudaStream_t stream);

void wkv7_backward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                   const float* a, const float* b, const float* sT, const float* ckpt, const float* sa,
                   const float* dy, const float* dsT, float* dr, float* dw, float* dk, float* dv, float* da,
                   float* db, float* ds0, cudaStream_t stream);

}  // namespace rwkv::cuda
