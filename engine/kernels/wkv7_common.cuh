// Device helpers shared by the wkv7 span kernels (wkv7_spans.cu, wkv7_steps.cu).
//
// Every span kernel is one block of 256 threads per (batch*head, span) and holds a head's whole
// 64 x 64 state. Row layout: thread tid owns row i = tid/4 (value index) and, with c = tid%4,
// the 16 keys j = 4(c + 4q) + e (q, e < 4), kept as x[4q+e]. The 4 threads of a row are adjacent
// lanes, so a row sum is 16 in-thread terms and two xor shuffles, and a key vector read by them
// is one contiguous 64-float line broadcast to the warp's other rows.
//
// Inputs arrive by cp.async into shared memory, one stage of P steps ahead of their use.
#pragma once
#include <cuda_bf16.h>
#include <cuda_pipeline.h>

#include <type_traits>

#include "wkv7_kernels.h"

namespace rwkv::cuda::wkv {

constexpr int N = kHeadSize;
constexpr int kThreads = 256;  // 64 rows x 4 lanes
constexpr int kLanes = 4;      // threads per row
constexpr int R = N / kLanes;  // keys per thread
constexpr int P = 8;           // steps per prefetch stage (divides kSpan)
static_assert(kSpan % P == 0 && kSpan % kChunk == 0, "stages and checkpoints tile a span");

// x[b][t][h][n] in a contiguous [B,T,H,N] tensor.
__device__ __forceinline__ size_t at(int b, int t, int h, int n, int T, int H) {
  return ((size_t(b) * T + t) * H + h) * N + n;
}

// Sum over the 4 threads of a row (adjacent lanes); all 4 get the same bits.
__device__ __forceinline__ float row_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Sum of four partial accumulators: breaks one FMA dependency chain into four.
__device__ __forceinline__ float sum4(const float (&p)[4]) { return (p[0] + p[1]) + (p[2] + p[3]); }

// Four consecutive elements p[0..3] as floats (p 8- or 16-byte aligned).
__device__ __forceinline__ void load4(const float* p, float* x) {
  const float4 f = *reinterpret_cast<const float4*>(p);
  x[0] = f.x, x[1] = f.y, x[2] = f.z, x[3] = f.w;
}
__device__ __forceinline__ void load4(const __nv_bfloat16* p, float* x) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  const float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.x));
  const float2 hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&u.y));
  x[0] = lo.x, x[1] = lo.y, x[2] = hi.x, x[3] = hi.y;
}

// Row layout: x[4q+e] = vec[4(c + 4q) + e], the thread's 16 entries of a key-indexed vector [N].
template <typename T>
__device__ __forceinline__ void gather_keys(float (&x)[R], const T* vec, int c) {
#pragma unroll
  for (int q = 0; q < R / 4; ++q) load4(vec + 4 * (c + kLanes * q), x + 4 * q);
}

// gather_keys of an fp32 vector in global memory that another block of the same launch wrote:
// ld.global.cg reads past L1, which its writes do not update.
__device__ __forceinline__ void gather_keys_cg(float (&x)[R], const float* vec, int c) {
#pragma unroll
  for (int q = 0; q < R / 4; ++q) {
    const float4 f = __ldcg(reinterpret_cast<const float4*>(vec + 4 * (c + kLanes * q)));
    x[4 * q] = f.x, x[4 * q + 1] = f.y, x[4 * q + 2] = f.z, x[4 * q + 3] = f.w;
  }
}

// Inverse of gather_keys, into an fp32 vector.
__device__ __forceinline__ void scatter_keys(float* vec, const float (&x)[R], int c) {
#pragma unroll
  for (int q = 0; q < R / 4; ++q)
    *reinterpret_cast<float4*>(vec + 4 * (c + kLanes * q)) = make_float4(x[4 * q], x[4 * q + 1], x[4 * q + 2], x[4 * q + 3]);
}

// Starts the asynchronous copy of steps [t0, t0+P) of one [B,T,H,N] tensor into dst[P][N];
// steps outside [lo, T) are skipped. The caller commits the group.
template <typename T>
__device__ __forceinline__ void stage_copy(T (*dst)[N], const T* src, int b, int h, int t0, int lo, int T_len,
                                           int H) {
  constexpr int per_step = N * int(sizeof(T)) / 16;  // 16-byte pieces of one step
  for (int idx = threadIdx.x; idx < P * per_step; idx += kThreads) {
    const int s = idx / per_step, q = idx % per_step, t = t0 + s;
    constexpr int elems = 16 / int(sizeof(T));
    if (t >= lo && t < T_len) __pipeline_memcpy_async(&dst[s][elems * q], src + at(b, t, h, elems * q, T_len, H), 16);
  }
}

}  // namespace rwkv::cuda::wkv

namespace rwkv::cuda::wkv {

// Double-buffered stages of P steps: NI input vectors of type In and NF fp32 vectors. In = bf16
// arrives raw and is widened once per block into `wide` (every row's threads then read floats),
// In = float is read where it landed.
template <typename In, int NI, int NF>
struct Stages {
  static constexpr bool kWiden = !std::is_same<In, float>::value;
  __align__(16) In raw[2][NI][P][N];
  __align__(16) float wide[kWiden ? NI : 1][P][N];
  __align__(16) float f[2][NF > 0 ? NF : 1][P][N];

  __device__ __forceinline__ const float* in(int st, int i, int s) const {
    if constexpr (kWiden) return wide[i][s];
    else return raw[st][i][s];
  }
  // After the stage's copies completed and a barrier: widen it (bf16 only), then a barrier. The
  // stage holds steps [t_lo, t_hi] at slots t - base.
  __device__ __forceinline__ void widen(int st, int /*t_lo*/, int /*t_hi*/, int /*base*/) {
    if constexpr (kWiden) {
      const __nv_bfloat162* src = reinterpret_cast<const __nv_bfloat162*>(&raw[st][0][0][0]);
      float2* dst = reinterpret_cast<float2*>(&wide[0][0][0]);
      for (int idx = threadIdx.x; idx < NI * P * N / 2; idx += kThreads) dst[idx] = __bfloat1622float2(src[idx]);
      __syncthreads();
    }
  }
};

// Walks steps [t_begin, t_end) in stages of P, forwards or (Backward) from t_end-1 down, with the
// next stage's copies in flight: prefetch(buf, t0) starts the copies of steps [t0, t0+P) into
// buffer buf and commits them; stg.widen(st, t_lo, t_hi, base) prepares a landed stage; step(st,
// s, t) runs step t, held in slot s of buffer st. Every thread of the block calls it.
template <bool Backward, typename Stg, typename Prefetch, typename Step>
__device__ __forceinline__ void walk_stages(Stg& stg, int t_begin, int t_end, Prefetch&& prefetch, Step&& step) {
  if (Backward) {  // stage i: steps [t_end - (i+1) P, t_end - i P), those >= t_begin
    const int n_stages = (t_end - t_begin + P - 1) / P;
    prefetch(0, t_end - P);
    for (int i = 0; i < n_stages; ++i) {
      const int st = i & 1, t_hi = t_end - 1 - i * P, base = t_hi - P + 1, t_lo = max(t_begin, base);
      if (i + 1 < n_stages) {
        prefetch(st ^ 1, base - P);
        __pipeline_wait_prior(1);
      } else {
        __pipeline_wait_prior(0);
      }
      __syncthreads();  // stage st has landed for every thread
      stg.widen(st, t_lo, t_hi, base);
      for (int t = t_hi; t >= t_lo; --t) step(st, t - base, t);
      __syncthreads();  // stage st is consumed before the next iteration's prefetch reuses it
    }
  } else {  // stage i: steps [t_begin + i P, t_begin + (i+1) P), those < t_end
    prefetch(0, t_begin);
    for (int t0 = t_begin, i = 0; t0 < t_end; t0 += P, ++i) {
      const int st = i & 1;
      if (t0 + P < t_end) {
        prefetch(st ^ 1, t0 + P);
        __pipeline_wait_prior(1);
      } else {
        __pipeline_wait_prior(0);
      }
      __syncthreads();
      const int steps = min(P, t_end - t0);
      stg.widen(st, t0, t0 + steps - 1, t0);
      for (int s = 0; s < steps; ++s) step(st, s, t0 + s);
      __syncthreads();
    }
  }
}

// The fused launches of wkv7_apply.cu and wkv7_steps.cu: the chain of every head beside the
// work of every span that needs the chain's result. Span starts: starts + (bh * starts_per_bh +
// sp * start_step) * N*N for sp >= 1 (s0 for sp = 0); dS at span ends: dsend + (bh * ns + sp) *
// N*N. QG .. AD [B,T,H,N], GS, DS [B,H,ns,3,N,N]: the transition's outputs (wkv7_spans.cu).
// sync: 1 + BH*ns ints of workspace (zeroed by the launcher).
struct ApplyArgs {
  int T, H, BH, ns, n_chain;  // n_chain = BH, or 0 when a single span needs no chain
  const float *s0, *G, *D, *QG, *QD, *AG, *AD, *GS, *DS;
  float* starts;
  int starts_per_bh, start_step;
  float *y, *sT, *ckpt, *sa;
};
template <typename In>
struct BwdArgs {
  int T, H, BH, ns;
  const In *r, *k, *v, *a, *b;
  const float *w, *sT, *ckpt, *sa, *dy, *dsT, *G, *E;
  float* dsend;
  float *dr, *dw, *dk, *dv, *da, *db, *ds0;
};
void launch_forward_apply(const ApplyArgs& p, int* sync, cudaStream_t stream);
template <typename In>
void launch_backward_fused(const BwdArgs<In>& p, int* sync, cudaStream_t stream);

}  // namespace rwkv::cuda::wkv
