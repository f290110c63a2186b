// The span chain of the wkv7 span algorithm (wkv7_kernels.h), as a device function that one
// block runs per head: forwards S_{c+1} = S_c G_c + D_c, backwards dS_c = dS_{c+1} G_cᵀ + E_c.
// After each result is in global memory, publish(c) is called by every thread (the fused
// kernels of wkv7_steps.cu raise the flag that lets span c's per-step block start).
#pragma once
#include "wkv7_common.cuh"

namespace rwkv::cuda::wkv {

constexpr size_t kMat = size_t(N) * N;
constexpr int kPad = N + 4;  // shared rows padded by one float4

struct ChainShared {
  __align__(16) float St[N][kPad];  // St[m][i] = S[i][m]
  __align__(16) float X[N][kPad];   // the step's G_c (or G_cᵀ) as X[m][j]
};

// The thread's 16 entries of an N x N row-major matrix in the load layout: row tid/4, columns
// 16 (tid%4) .. +15.
__device__ __forceinline__ void load_tile(const float* M, float (&x)[16]) {
  const float* p = M + (threadIdx.x / 4) * N + 16 * (threadIdx.x % 4);
#pragma unroll
  for (int q = 0; q < 4; ++q) load4(p + 4 * q, x + 4 * q);
}
// Into shared memory as X[m][j] = M[m][j], or transposed X[j][m] = M[m][j].
__device__ __forceinline__ void store_tile(float (*X)[kPad], const float (&x)[16], bool transpose) {
  const int m = threadIdx.x / 4, j0 = 16 * (threadIdx.x % 4);
#pragma unroll
  for (int e = 0; e < 16; ++e) {
    if (transpose) X[j0 + e][m] = x[e];
    else X[m][j0 + e] = x[e];
  }
}

// Thread tile of every product: rows i0 .. i0+3 of the output (value index), columns j0 .. j0+3.
__device__ __forceinline__ int tile_i0() { return 4 * (threadIdx.x / 16); }
__device__ __forceinline__ int tile_j0() { return 4 * (threadIdx.x % 16); }

// acc += S X over the shared St (S transposed) and X, for the thread's tile. Barriers: before
// (St and X complete), after (both free to be written again).
__device__ __forceinline__ void product(const ChainShared& sh, float (&acc)[4][4]) {
  const int i0 = tile_i0(), j0 = tile_j0();
  __syncthreads();
#pragma unroll 8
  for (int m = 0; m < N; ++m) {
    const float4 s4 = *reinterpret_cast<const float4*>(&sh.St[m][i0]);
    const float4 g4 = *reinterpret_cast<const float4*>(&sh.X[m][j0]);
    const float sv[4] = {s4.x, s4.y, s4.z, s4.w}, gv[4] = {g4.x, g4.y, g4.z, g4.w};
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) acc[i][jj] = fmaf(sv[i], gv[jj], acc[i][jj]);
  }
  __syncthreads();
}

// Head bh. Forward (backward = false): S = init (s0), then for c = 0 .. ns-2: S = S G_c + D_c,
// written to out slot c+1 and published as c+1. Backward: S = init (dsT, or 0 when null),
// written to slot ns-1 and published, then for c = ns-1 .. c_lo: S = S G_cᵀ + D_c (D = E),
// written to slot c-1 (published as c-1), or to ds0 for c = 0.
// Slot(c) = out + (bh * out_per_bh + c * out_step) * N*N. S is kept transposed in St so that
// both operands of the inner product are float4 reads. Needs 256 threads.
template <typename Publish>
__device__ __forceinline__ void run_chain(ChainShared& sh, int bh, int ns, bool backward, int c_lo,
                                          const float* __restrict__ init, const float* __restrict__ G,
                                          const float* __restrict__ D, float* __restrict__ out, int out_per_bh,
                                          int out_step, float* __restrict__ ds0, Publish publish) {
  const int i0 = tile_i0(), j0 = tile_j0();
  auto slot = [&](int c) { return out + (size_t(bh) * out_per_bh + size_t(c) * out_step) * kMat; };
  float x[16];
  if (init) {
    load_tile(init + size_t(bh) * kMat, x);
  } else {
#pragma unroll
    for (int e = 0; e < 16; ++e) x[e] = 0.f;
  }
  store_tile(sh.St, x, true);
  if (backward) {
    float* o = slot(ns - 1) + (threadIdx.x / 4) * N + 16 * (threadIdx.x % 4);
#pragma unroll
    for (int q = 0; q < 4; ++q)
      *reinterpret_cast<float4*>(o + 4 * q) = make_float4(x[4 * q], x[4 * q + 1], x[4 * q + 2], x[4 * q + 3]);
    publish(ns - 1);
  }
  const int n_steps = backward ? ns - c_lo : ns - 1;
  auto span_of = [&](int n) { return backward ? ns - 1 - n : n; };
  float dn[4][4];  // the next step's D tile, in the product's layout
  auto load_step = [&](int n) {
    const size_t o = (size_t(bh) * ns + span_of(n)) * kMat;
    load_tile(G + o, x);
#pragma unroll
    for (int i = 0; i < 4; ++i) load4(D + o + (i0 + i) * N + j0, dn[i]);
  };
  if (n_steps > 0) load_step(0);
  for (int n = 0; n < n_steps; ++n) {
    const int cs = span_of(n);
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) acc[i][jj] = dn[i][jj];
    store_tile(sh.X, x, backward);          // X is free: the last product ended with a barrier
    if (n + 1 < n_steps) load_step(n + 1);  // in flight during the product
    product(sh, acc);                       // its barriers: St and X complete, then read
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) sh.St[j0 + jj][i0 + i] = acc[i][jj];
    float* o = !backward ? slot(cs + 1) : cs >= 1 ? slot(cs - 1) : ds0 + size_t(bh) * kMat;
#pragma unroll
    for (int i = 0; i < 4; ++i)
      *reinterpret_cast<float4*>(o + (i0 + i) * N + j0) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
    if (!backward) publish(cs + 1);
    else if (cs >= 1) publish(cs - 1);
  }
}

// Cross-block hand-off inside one launch. flag[i] goes 0 -> 1 once slot i is in global memory.
// Every thread of the writer calls release (its stores become visible device-wide, then one
// thread raises the flag); every thread of a reader calls acquire before reading the slot with
// ld.global.cg (past L1, which other blocks' writes do not update).
__device__ __forceinline__ void release(int* flag) {
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) atomicExch(flag, 1);
}
__device__ __forceinline__ void acquire(const int* flag) {
  if (threadIdx.x == 0)
    while (*reinterpret_cast<const volatile int*>(flag) == 0) __nanosleep(100);
  __syncthreads();
  __threadfence();
}

// Which role a block of a fused launch has, in the order blocks actually started: a ticket
// from an atomic counter, so that a block only ever waits for blocks that started before it
// (blockIdx order is not a promise of start order). Every thread gets the ticket.
__device__ __forceinline__ int take_ticket(int* counter) {
  __shared__ int ticket;
  if (threadIdx.x == 0) ticket = atomicAdd(counter, 1);
  __syncthreads();
  return ticket;
}

}  // namespace rwkv::cuda::wkv
