// wkv7 recurrence on the GPU, sequential over time (spec/rwkv7.md 6.2): one block per
// (batch, head), 64 threads. Forward: thread i keeps row i of S (value i) in registers.
// Backward: thread j keeps column j of S (key j) and both row j and column j of dS, so every
// gradient is a per-thread sum; S_{t-1} is recovered inside a chunk by exact backstepping
// S_{t-1}[:,j] = (S_t[:,j] - v k_j - sa b_j) / w_j and reloaded from a checkpoint every 16 steps.
#include <cuda_pipeline.h>

#include "wkv7_kernels.h"

namespace rwkv::cuda {
namespace {

constexpr int N = kHeadSize;

constexpr int P = 8;  // steps per prefetch stage: inputs arrive by cp.async two stages ahead of use

// x[b][t][h][n] in a contiguous [B,T,H,N] tensor.
__device__ __forceinline__ size_t at(int b, int t, int h, int n, int T, int H) {
  return ((size_t(b) * T + t) * H + h) * N + n;
}

// Sum of four partial accumulators: breaks the 64-long FMA dependency chains into four.
__device__ __forceinline__ float sum4(const float (&p)[4]) { return (p[0] + p[1]) + (p[2] + p[3]); }


// Starts the asynchronous copy of steps [t0, t0+P) of `nv` input vectors (each [B,T,H,N]) into
// stage[vec][s][n]; steps outside [0, T) are skipped. One commit group per call.
template <int NV>
__device__ __forceinline__ void prefetch(float (*stage)[P][N], const float* const (&src)[NV], int b, int h, int t0,
                                         int T, int H) {
  for (int idx = threadIdx.x; idx < NV * P * (N / 4); idx += N) {
    const int vec = idx / (P * (N / 4)), rem = idx % (P * (N / 4)), s = rem / (N / 4), q = rem % (N / 4);
    const int t = t0 + s;
    if (t >= 0 && t < T) __pipeline_memcpy_async(&stage[vec][s][4 * q], src[vec] + at(b, t, h, 4 * q, T, H), 16);
  }
  __pipeline_commit();
}

__global__ void __launch_bounds__(N) forward_kernel(int T, int H, const float* __restrict__ r,
                                                    const float* __restrict__ w, const float* __restrict__ k,
                                                    const float* __restrict__ v, const float* __restrict__ a,
                                                    const float* __restrict__ bb, const float* __restrict__ s0,
                                                    float* __restrict__ y, float* __restrict__ sT,
                                                    float* __restrict__ ckpt, float* __restrict__ sa_out) {
  const int bh = blockIdx.x, b = bh / H, h = bh % H, i = threadIdx.x;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  enum { R, W, K, V, A, Bv, NV };
  __shared__ __align__(16) float buf[2][NV][P][N];  // two stages of P steps of the six input vectors
  __shared__ float stage_S[N][N + 1];                // checkpoint transposed through shared memory
  const float* const src[NV] = {r, w, k, v, a, bb};
  float S[N];  // row i
#pragma unroll
  for (int j = 0; j < N; ++j) S[j] = s0[(size_t(bh) * N + i) * N + j];
  prefetch<NV>(buf[0], src, b, h, 0, T, H);
  for (int t0 = 0; t0 < T; t0 += P) {
    const int st = (t0 / P) & 1;
    if (t0 + P < T) {
      prefetch<NV>(buf[st ^ 1], src, b, h, t0 + P, T, H);
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();  // stage st is complete for every thread
    const int steps = min(P, T - t0);
    for (int s = 0; s < steps; ++s) {
      const int t = t0 + s;
      if (ckpt && t % kChunk == 0) {
        // Row i is in this thread's registers; written directly, each store would touch 64 rows.
        // Through shared memory, the 64 threads write 64 consecutive floats per instruction.
#pragma unroll
        for (int j = 0; j < N; ++j) stage_S[i][j] = S[j];
        __syncthreads();
        float* dst = ckpt + (size_t(bh) * n_chunks + t / kChunk) * N * N;
        for (int x = 0; x < N; ++x) dst[x * N + i] = stage_S[x][i];
        __syncthreads();
      }
      const float* vr = buf[st][R][s];
      const float* vw = buf[st][W][s];
      const float* vk = buf[st][K][s];
      const float* va = buf[st][A][s];
      const float* vb = buf[st][Bv][s];
      const float vi = buf[st][V][s][i];
      float part[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int j = 0; j < N; ++j) part[j & 3] += S[j] * va[j];
      const float sa = sum4(part);
      float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int j = 0; j < N; ++j) {
        S[j] = S[j] * vw[j] + sa * vb[j] + vi * vk[j];
        acc[j & 3] += S[j] * vr[j];
      }
      const size_t o = at(b, t, h, i, T, H);
      y[o] = sum4(acc);
      if (sa_out) sa_out[o] = sa;
    }
    __syncthreads();  // stage st is consumed before the next iteration's prefetch reuses it
  }
#pragma unroll
  for (int j = 0; j < N; ++j) sT[(size_t(bh) * N + i) * N + j] = S[j];
}

__global__ void __launch_bounds__(N) backward_kernel(
    int T, int H, const float* __restrict__ r, const float* __restrict__ w, const float* __restrict__ k,
    const float* __restrict__ v, const float* __restrict__ a, const float* __restrict__ bb,
    const float* __restrict__ sT, const float* __restrict__ ckpt, const float* __restrict__ sa_in,
    const float* __restrict__ dy, const float* __restrict__ dsT, float* __restrict__ dr, float* __restrict__ dw,
    float* __restrict__ dk, float* __restrict__ dv, float* __restrict__ da, float* __restrict__ db,
    float* __restrict__ ds0) {
  const int bh = blockIdx.x, b = bh / H, h = bh % H, j = threadIdx.x;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  enum { R, W, K, V, A, Bv, DY, SA, NV };
  __shared__ __align__(16) float buf[2][NV][P][N];  // stages of P steps, walked backwards
  __shared__ float sdSb[2][N];                      // (dS_t b) by row, exchanged every step
  const float* const src[NV] = {r, w, k, v, a, bb, dy, sa_in};
  float S[N];    // column j of S_t: S[i] = S_t[i][j]
  float dSr[N];  // row j of dS:     dSr[x] = dS[j][x]
  float dSc[N];  // column j of dS:  dSc[i] = dS[i][j]
  const float* dsT_bh = dsT + size_t(bh) * N * N;
#pragma unroll
  for (int x = 0; x < N; ++x) {
    dSr[x] = dsT_bh[j * N + x];
    dSc[x] = dsT_bh[x * N + j];
  }
  // Stage c holds steps [T_last - (c+1)P + 1, T_last - cP]; stage index = c & 1.
  const int n_stages = (T + P - 1) / P;
  prefetch<NV>(buf[0], src, b, h, T - P, T, H);
  for (int c = 0; c < n_stages; ++c) {
    const int st = c & 1, t_hi = T - 1 - c * P, t_lo = max(0, t_hi - P + 1);
    const int base = t_hi - P + 1;  // step held in slot 0 of this stage (may be < 0)
    if (c + 1 < n_stages) {
      prefetch<NV>(buf[st ^ 1], src, b, h, base - P, T, H);
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();
    for (int t = t_hi; t >= t_lo; --t) {
      const int s = t - base, p = t & 1;
      if (t == T - 1 || (t + 1) % kChunk == 0) {  // exact state at the end of this chunk
        const float* sp = (t == T - 1) ? sT + size_t(bh) * N * N
                                       : ckpt + (size_t(bh) * n_chunks + (t + 1) / kChunk) * N * N;
#pragma unroll
        for (int x = 0; x < N; ++x) S[x] = sp[x * N + j];
      }
      const float* vr = buf[st][R][s];
      const float* vw = buf[st][W][s];
      const float* vk = buf[st][K][s];
      const float* vv = buf[st][V][s];
      const float* va = buf[st][A][s];
      const float* vb = buf[st][Bv][s];
      const float* vdy = buf[st][DY][s];
      const float* vsa = buf[st][SA][s];
      const float rj = vr[j], wj = vw[j], kj = vk[j], aj = va[j], bj = vb[j], dyj = vdy[j];
      // dr_j = sum_i S_t[i][j] dy_i ; then dS += dy r^T ; then S_t -> S_{t-1} (backstep).
      float pr[4] = {0.f, 0.f, 0.f, 0.f};
      const float inv_w = 1.f / wj;
#pragma unroll
      for (int x = 0; x < N; ++x) {
        pr[x & 3] += S[x] * vdy[x];
        dSc[x] += vdy[x] * rj;
        dSr[x] += dyj * vr[x];
        S[x] = (S[x] - vv[x] * kj - vsa[x] * bj) * inv_w;
      }
      const size_t o = at(b, t, h, j, T, H);
      dr[o] = sum4(pr);
      // Row j: dv_j = sum_x dS[j][x] k_x ; dSb_j = sum_x dS[j][x] b_x.
      float pv[4] = {0.f, 0.f, 0.f, 0.f}, psb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < N; ++x) {
        pv[x & 3] += dSr[x] * vk[x];
        psb[x & 3] += dSr[x] * vb[x];
      }
      dv[o] = sum4(pv);
      const float dSbj = sum4(psb);
      sdSb[p][j] = dSbj;
      __syncthreads();  // dSb of every row is needed by every column below
      // Column j: dw, dk, da, db.
      float pw[4] = {0.f, 0.f, 0.f, 0.f}, pk[4] = {0.f, 0.f, 0.f, 0.f}, pa[4] = {0.f, 0.f, 0.f, 0.f},
            pb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < N; ++x) {
        pw[x & 3] += S[x] * dSc[x];
        pk[x & 3] += dSc[x] * vv[x];
        pa[x & 3] += S[x] * sdSb[p][x];
        pb[x & 3] += dSc[x] * vsa[x];
      }
      dw[o] = sum4(pw); dk[o] = sum4(pk); da[o] = sum4(pa); db[o] = sum4(pb);
      // dS_{t-1} = dS_t diag(w) + (dS_t b) a^T, in both layouts.
#pragma unroll
      for (int x = 0; x < N; ++x) {
        dSr[x] = dSr[x] * vw[x] + dSbj * va[x];
        dSc[x] = dSc[x] * wj + sdSb[p][x] * aj;
      }
    }
    __syncthreads();  // stage st is consumed before the next iteration's prefetch reuses it
  }
#pragma unroll
  for (int x = 0; x < N; ++x) ds0[size_t(bh) * N * N + x * N + j] = dSc[x];
}

}  // namespace

void wkv7_forward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                  const float* a, const float* b, const float* s0, float* y, float* sT, float* ckpt,
                  float* sa, cudaStream_t stream) {
  forward_kernel<<<B * H, N, 0, stream>>>(T, H, r, w, k, v, a, b, s0, y, sT, ckpt, sa);
}

void wkv7_backward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                   const float* a, const float* b, const float* sT, const float* ckpt, const float* sa,
                   const float* dy, const float* dsT, float* dr, float* dw, float* dk, float* dv, float* da,
                   float* db, float* ds0, cudaStream_t stream) {
  backward_kernel<<<B * H, N, 0, stream>>>(T, H, r, w, k, v, a, b, sT, ckpt, sa, dy, dsT, dr, dw, dk, dv, da,
                                           db, ds0);
}

}  // namespace rwkv::cuda
