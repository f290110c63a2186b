// wkv7 recurrence on the GPU, sequential over time (spec/rwkv7.md 6.2): one block per
// (batch, head), 64 threads. Forward: thread i keeps row i of S (value i) in registers.
// Backward: thread j keeps column j of S (key j) and both row j and column j of dS, so every
// gradient is a per-thread sum; S_{t-1} is recovered inside a chunk by exact backstepping
// S_{t-1}[:,j] = (S_t[:,j] - v k_j - sa b_j) / w_j and reloaded from a checkpoint every 16 steps.
#include "wkv7_kernels.h"

namespace rwkv::cuda {
namespace {

constexpr int N = kHeadSize;

// x[b][t][h][n] in a contiguous [B,T,H,N] tensor.
__device__ __forceinline__ size_t at(int b, int t, int h, int n, int T, int H) {
  return ((size_t(b) * T + t) * H + h) * N + n;
}

__global__ void __launch_bounds__(N) forward_kernel(int T, int H, const float* __restrict__ r,
                                                    const float* __restrict__ w, const float* __restrict__ k,
                                                    const float* __restrict__ v, const float* __restrict__ a,
                                                    const float* __restrict__ bb, const float* __restrict__ s0,
                                                    float* __restrict__ y, float* __restrict__ sT,
                                                    float* __restrict__ ckpt, float* __restrict__ sa_out) {
  const int bh = blockIdx.x, b = bh / H, h = bh % H, i = threadIdx.x;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  __shared__ float sr[N], sw[N], sk[N], sa_[N], sb[N];
  float S[N];  // row i
#pragma unroll
  for (int j = 0; j < N; ++j) S[j] = s0[(size_t(bh) * N + i) * N + j];
  for (int t = 0; t < T; ++t) {
    if (ckpt && t % kChunk == 0) {
      float* dst = ckpt + ((size_t(bh) * n_chunks + t / kChunk) * N + i) * N;
#pragma unroll
      for (int j = 0; j < N; ++j) dst[j] = S[j];
    }
    const size_t o = at(b, t, h, i, T, H);
    __syncthreads();
    sr[i] = r[o]; sw[i] = w[o]; sk[i] = k[o]; sa_[i] = a[o]; sb[i] = bb[o];
    const float vi = v[o];
    __syncthreads();
    float sa = 0.f;
#pragma unroll
    for (int j = 0; j < N; ++j) sa += S[j] * sa_[j];
    float acc = 0.f;
#pragma unroll
    for (int j = 0; j < N; ++j) {
      S[j] = S[j] * sw[j] + sa * sb[j] + vi * sk[j];
      acc += S[j] * sr[j];
    }
    y[o] = acc;
    if (sa_out) sa_out[o] = sa;
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
  __shared__ float sr[N], sw[N], sk[N], sv[N], sa_[N], sb[N], sdy[N], ssa[N], sdSb[N];
  float S[N];    // column j of S_t: S[i] = S_t[i][j]
  float dSr[N];  // row j of dS:     dSr[x] = dS[j][x]
  float dSc[N];  // column j of dS:  dSc[i] = dS[i][j]
  const float* dsT_bh = dsT + size_t(bh) * N * N;
#pragma unroll
  for (int x = 0; x < N; ++x) {
    dSr[x] = dsT_bh[j * N + x];
    dSc[x] = dsT_bh[x * N + j];
  }
  for (int t = T - 1; t >= 0; --t) {
    if (t == T - 1 || (t + 1) % kChunk == 0) {  // exact state at the end of this chunk
      const float* src = (t == T - 1) ? sT + size_t(bh) * N * N
                                      : ckpt + (size_t(bh) * n_chunks + (t + 1) / kChunk) * N * N;
#pragma unroll
      for (int x = 0; x < N; ++x) S[x] = src[x * N + j];
    }
    const size_t o = at(b, t, h, j, T, H);
    __syncthreads();
    sr[j] = r[o]; sw[j] = w[o]; sk[j] = k[o]; sv[j] = v[o]; sa_[j] = a[o]; sb[j] = bb[o];
    sdy[j] = dy[o]; ssa[j] = sa_in[o];
    __syncthreads();
    const float rj = sr[j], wj = sw[j], kj = sk[j], aj = sa_[j], bj = sb[j], dyj = sdy[j];
    // dr_j = sum_i S_t[i][j] dy_i ; then dS += dy r^T ; then S_t -> S_{t-1}.
    float acc_r = 0.f;
    const float inv_w = 1.f / wj;
#pragma unroll
    for (int x = 0; x < N; ++x) {
      acc_r += S[x] * sdy[x];
      dSc[x] += sdy[x] * rj;
      dSr[x] += dyj * sr[x];
      S[x] = (S[x] - sv[x] * kj - ssa[x] * bj) * inv_w;
    }
    dr[o] = acc_r;
    // Row j: dv_j = sum_x dS[j][x] k_x ; dSb_j = sum_x dS[j][x] b_x.
    float acc_v = 0.f, acc_sb = 0.f;
#pragma unroll
    for (int x = 0; x < N; ++x) {
      acc_v += dSr[x] * sk[x];
      acc_sb += dSr[x] * sb[x];
    }
    dv[o] = acc_v;
    sdSb[j] = acc_sb;
    __syncthreads();
    // Column j: dw, dk, da, db.
    float acc_w = 0.f, acc_k = 0.f, acc_a = 0.f, acc_b = 0.f;
#pragma unroll
    for (int x = 0; x < N; ++x) {
      acc_w += S[x] * dSc[x];
      acc_k += dSc[x] * sv[x];
      acc_a += S[x] * sdSb[x];
      acc_b += dSc[x] * ssa[x];
    }
    dw[o] = acc_w; dk[o] = acc_k; da[o] = acc_a; db[o] = acc_b;
    // dS_{t-1} = dS_t diag(w) + (dS_t b) a^T, in both layouts.
#pragma unroll
    for (int x = 0; x < N; ++x) {
      dSr[x] = dSr[x] * sw[x] + acc_sb * sa_[x];
      dSc[x] = dSc[x] * wj + sdSb[x] * aj;
    }
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
