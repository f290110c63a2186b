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

// Sum of four partial accumulators: breaks the 64-long FMA dependency chains into four.
__device__ __forceinline__ float sum4(const float (&p)[4]) { return (p[0] + p[1]) + (p[2] + p[3]); }

__global__ void __launch_bounds__(N) forward_kernel(int T, int H, const float* __restrict__ r,
                                                    const float* __restrict__ w, const float* __restrict__ k,
                                                    const float* __restrict__ v, const float* __restrict__ a,
                                                    const float* __restrict__ bb, const float* __restrict__ s0,
                                                    float* __restrict__ y, float* __restrict__ sT,
                                                    float* __restrict__ ckpt, float* __restrict__ sa_out) {
  const int bh = blockIdx.x, b = bh / H, h = bh % H, i = threadIdx.x;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  __shared__ float sr[2][N], sw[2][N], sk[2][N], sa_[2][N], sb[2][N];  // double-buffered by step parity
  float S[N];  // row i
#pragma unroll
  for (int j = 0; j < N; ++j) S[j] = s0[(size_t(bh) * N + i) * N + j];
  // Software pipeline: the loads of step t+1 are in flight while step t computes.
  size_t o = at(b, 0, h, i, T, H);
  float nr = r[o], nw = w[o], nk = k[o], na = a[o], nb = bb[o], nv = v[o];
  for (int t = 0; t < T; ++t) {
    const int p = t & 1;
    sr[p][i] = nr; sw[p][i] = nw; sk[p][i] = nk; sa_[p][i] = na; sb[p][i] = nb;
    const float vi = nv;
    const size_t oc = o;
    if (t + 1 < T) {
      o = at(b, t + 1, h, i, T, H);
      nr = r[o]; nw = w[o]; nk = k[o]; na = a[o]; nb = bb[o]; nv = v[o];
    }
    if (ckpt && t % kChunk == 0) {
      float* dst = ckpt + ((size_t(bh) * n_chunks + t / kChunk) * N + i) * N;
#pragma unroll
      for (int j = 0; j < N; ++j) dst[j] = S[j];
    }
    __syncthreads();  // one barrier a step: buffer p is read now, rewritten two steps later
    float part[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int j = 0; j < N; ++j) part[j & 3] += S[j] * sa_[p][j];
    const float sa = sum4(part);
    float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int j = 0; j < N; ++j) {
      S[j] = S[j] * sw[p][j] + sa * sb[p][j] + vi * sk[p][j];
      acc[j & 3] += S[j] * sr[p][j];
    }
    y[oc] = sum4(acc);
    if (sa_out) sa_out[oc] = sa;
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
  // Per-step vectors, double-buffered by step parity so each step needs two barriers.
  __shared__ float sr[2][N], sw[2][N], sk[2][N], sv[2][N], sa_[2][N], sb[2][N], sdy[2][N], ssa[2][N], sdSb[2][N];
  float S[N];    // column j of S_t: S[i] = S_t[i][j]
  float dSr[N];  // row j of dS:     dSr[x] = dS[j][x]
  float dSc[N];  // column j of dS:  dSc[i] = dS[i][j]
  const float* dsT_bh = dsT + size_t(bh) * N * N;
#pragma unroll
  for (int x = 0; x < N; ++x) {
    dSr[x] = dsT_bh[j * N + x];
    dSc[x] = dsT_bh[x * N + j];
  }
  size_t o = at(b, T - 1, h, j, T, H);
  float nr = r[o], nw = w[o], nk = k[o], nv = v[o], na = a[o], nb = bb[o], ndy = dy[o], nsa = sa_in[o];
  for (int t = T - 1; t >= 0; --t) {
    const int p = t & 1;
    if (t == T - 1 || (t + 1) % kChunk == 0) {  // exact state at the end of this chunk
      const float* src = (t == T - 1) ? sT + size_t(bh) * N * N
                                      : ckpt + (size_t(bh) * n_chunks + (t + 1) / kChunk) * N * N;
#pragma unroll
      for (int x = 0; x < N; ++x) S[x] = src[x * N + j];
    }
    sr[p][j] = nr; sw[p][j] = nw; sk[p][j] = nk; sv[p][j] = nv; sa_[p][j] = na; sb[p][j] = nb;
    sdy[p][j] = ndy; ssa[p][j] = nsa;
    const size_t oc = o;
    if (t > 0) {  // prefetch step t-1
      o = at(b, t - 1, h, j, T, H);
      nr = r[o]; nw = w[o]; nk = k[o]; nv = v[o]; na = a[o]; nb = bb[o]; ndy = dy[o]; nsa = sa_in[o];
    }
    __syncthreads();
    const float rj = sr[p][j], wj = sw[p][j], kj = sk[p][j], aj = sa_[p][j], bj = sb[p][j], dyj = sdy[p][j];
    // dr_j = sum_i S_t[i][j] dy_i ; then dS += dy r^T ; then S_t -> S_{t-1} (backstep).
    float pr[4] = {0.f, 0.f, 0.f, 0.f};
    const float inv_w = 1.f / wj;
#pragma unroll
    for (int x = 0; x < N; ++x) {
      pr[x & 3] += S[x] * sdy[p][x];
      dSc[x] += sdy[p][x] * rj;
      dSr[x] += dyj * sr[p][x];
      S[x] = (S[x] - sv[p][x] * kj - ssa[p][x] * bj) * inv_w;
    }
    dr[oc] = sum4(pr);
    // Row j: dv_j = sum_x dS[j][x] k_x ; dSb_j = sum_x dS[j][x] b_x.
    float pv[4] = {0.f, 0.f, 0.f, 0.f}, psb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int x = 0; x < N; ++x) {
      pv[x & 3] += dSr[x] * sk[p][x];
      psb[x & 3] += dSr[x] * sb[p][x];
    }
    dv[oc] = sum4(pv);
    const float dSbj = sum4(psb);
    sdSb[p][j] = dSbj;
    __syncthreads();
    // Column j: dw, dk, da, db.
    float pw[4] = {0.f, 0.f, 0.f, 0.f}, pk[4] = {0.f, 0.f, 0.f, 0.f}, pa[4] = {0.f, 0.f, 0.f, 0.f},
          pb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int x = 0; x < N; ++x) {
      pw[x & 3] += S[x] * dSc[x];
      pk[x & 3] += dSc[x] * sv[p][x];
      pa[x & 3] += S[x] * sdSb[p][x];
      pb[x & 3] += dSc[x] * ssa[p][x];
    }
    dw[oc] = sum4(pw); dk[oc] = sum4(pk); da[oc] = sum4(pa); db[oc] = sum4(pb);
    // dS_{t-1} = dS_t diag(w) + (dS_t b) a^T, in both layouts.
#pragma unroll
    for (int x = 0; x < N; ++x) {
      dSr[x] = dSr[x] * sw[p][x] + dSbj * sa_[p][x];
      dSc[x] = dSc[x] * wj + sdSb[p][x] * aj;
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
