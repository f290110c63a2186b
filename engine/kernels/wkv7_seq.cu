// wkv7 recurrence on the GPU, sequential over time (spec/rwkv7.md 6.2), fp32 state, N = 64.
//
// Split of a head: S_t[i,:] = S_{t-1}[i,:] G_t + v_t[i] k_tᵀ involves row i only, so the 64 state
// rows (value index i) are cut into kSplits = 4 slices of kRows = 16 rows, one block of 64 threads
// each: grid (B*H, kSplits). B=4, H=16 then gives 256 blocks (not 64) and every block does a
// quarter of a head's work per step.
//
// Row layout (forward, and the backward's row sums): thread tid owns row i0 + tid/4 and, with
// c = tid%4, the 16 keys j = 16q + 4c + e (q, e in 0..3), kept as x[4q+e]. The four threads of a
// row are adjacent lanes, so a row sum is 16 in-thread terms plus two xor shuffles; a float4 read
// of a key vector by those four threads is one contiguous 64-byte line, broadcast to the warp's
// eight rows.
//
// Column layout (backward only): thread j owns key j of the block's 16 rows, so the five key-indexed
// gradients (dr, dw, dk, da, db: sums over rows) are in-thread sums over the slice. The four blocks
// of a head form a thread-block cluster and, after each stage of P steps, add their slices'
// partial sums in fixed rank order through distributed shared memory: deterministic, no atomics,
// no workspace.
//
// Inputs arrive by cp.async into shared memory one stage of P steps ahead of use.
#include <cooperative_groups.h>
#include <cuda_pipeline.h>

#include "wkv7_kernels.h"

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#error "wkv7_seq.cu needs sm_90 or newer: the backward uses thread-block clusters"
#endif

namespace rwkv::cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int N = kHeadSize;
constexpr int kRows = 16;                 // state rows (values) per block
constexpr int kSplits = N / kRows;        // blocks per head = cluster size of the backward
constexpr int kLanes = 4;                 // threads per row in the row layout
constexpr int kCols = N / kLanes;         // keys per thread in the row layout
constexpr int kThreads = kRows * kLanes;  // 64: also one thread per key in the column layout
static_assert(kThreads == N, "the backward's column layout gives every key one thread");
constexpr int kKeysPerRank = N / kSplits;  // keys whose cluster-wide sums one backward block finishes

constexpr int P = 8;  // steps per prefetch stage

// x[b][t][h][n] in a contiguous [B,T,H,N] tensor.
__device__ __forceinline__ size_t at(int b, int t, int h, int n, int T, int H) {
  return ((size_t(b) * T + t) * H + h) * N + n;
}

// Sum of four partial accumulators: breaks the FMA dependency chains into four.
__device__ __forceinline__ float sum4(const float (&p)[4]) { return (p[0] + p[1]) + (p[2] + p[3]); }

// Sum over the four threads of a row (adjacent lanes). Float addition commutes exactly, so all
// four get the same bits.
__device__ __forceinline__ float row_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// Row layout: x[4q+e] = vec[16q + 4c + e], the thread's 16 entries of a key-indexed vector [N].
__device__ __forceinline__ void gather_keys(float (&x)[kCols], const float* vec, int c) {
#pragma unroll
  for (int q = 0; q < kCols / 4; ++q) {
    const float4 f = *reinterpret_cast<const float4*>(vec + 16 * q + 4 * c);
    x[4 * q] = f.x, x[4 * q + 1] = f.y, x[4 * q + 2] = f.z, x[4 * q + 3] = f.w;
  }
}

// Inverse of gather_keys.
__device__ __forceinline__ void scatter_keys(float* vec, const float (&x)[kCols], int c) {
#pragma unroll
  for (int q = 0; q < kCols / 4; ++q)
    *reinterpret_cast<float4*>(vec + 16 * q + 4 * c) = make_float4(x[4 * q], x[4 * q + 1], x[4 * q + 2], x[4 * q + 3]);
}

// x[n] = vec[n] for the block's kRows entries of a value-indexed vector (vec starts at row i0).
__device__ __forceinline__ void gather_rows(float (&x)[kRows], const float* vec) {
#pragma unroll
  for (int q = 0; q < kRows / 4; ++q) {
    const float4 f = *reinterpret_cast<const float4*>(vec + 4 * q);
    x[4 * q] = f.x, x[4 * q + 1] = f.y, x[4 * q + 2] = f.z, x[4 * q + 3] = f.w;
  }
}

// Starts the asynchronous copy of steps [t0, t0+P) of NK key-indexed vectors (all N entries, into
// keys[vec][s][n]) and NR value-indexed vectors (only the block's rows i0.., into rows[vec][s][n]),
// each source [B,T,H,N]; steps outside [0, T) are skipped. One commit group per call.
template <int NK, int NR>
__device__ __forceinline__ void prefetch(float (*keys)[P][N], float (*rows)[P][kRows],
                                         const float* const (&key_src)[NK], const float* const (&row_src)[NR],
                                         int b, int h, int i0, int t0, int T, int H) {
  constexpr int kq = N / 4, rq = kRows / 4;  // float4s per step of one vector
#pragma unroll
  for (int vec = 0; vec < NK; ++vec)
    for (int idx = threadIdx.x; idx < P * kq; idx += kThreads) {
      const int s = idx / kq, q = idx % kq, t = t0 + s;
      if (t >= 0 && t < T) __pipeline_memcpy_async(&keys[vec][s][4 * q], key_src[vec] + at(b, t, h, 4 * q, T, H), 16);
    }
#pragma unroll
  for (int vec = 0; vec < NR; ++vec)
    for (int idx = threadIdx.x; idx < P * rq; idx += kThreads) {
      const int s = idx / rq, q = idx % rq, t = t0 + s;
      if (t >= 0 && t < T)
        __pipeline_memcpy_async(&rows[vec][s][4 * q], row_src[vec] + at(b, t, h, i0 + 4 * q, T, H), 16);
    }
  __pipeline_commit();
}

// Forward, row layout. Block (bh, split) runs rows i0 = 16 split .. i0+15 of head bh for all T steps.
__global__ void __launch_bounds__(kThreads) forward_kernel(int T, int H, const float* __restrict__ r,
                                                           const float* __restrict__ w, const float* __restrict__ k,
                                                           const float* __restrict__ v, const float* __restrict__ a,
                                                           const float* __restrict__ bb, const float* __restrict__ s0,
                                                           float* __restrict__ y, float* __restrict__ sT,
                                                           float* __restrict__ ckpt, float* __restrict__ sa_out) {
  const int bh = blockIdx.x, b = bh / H, h = bh % H, i0 = blockIdx.y * kRows;
  const int row = threadIdx.x / kLanes, c = threadIdx.x % kLanes, i = i0 + row;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  enum { R, W, K, A, Bv, NK };
  __shared__ __align__(16) float keys[2][NK][P][N];     // two stages of r, w, k, a, b
  __shared__ __align__(16) float vals[2][1][P][kRows];  // two stages of v, the block's rows only
  const float* const key_src[NK] = {r, w, k, a, bb};
  const float* const row_src[1] = {v};
  float S[kCols];  // S[4q+e] = S[i][16q + 4c + e]
  gather_keys(S, s0 + (size_t(bh) * N + i) * N, c);
  prefetch<NK, 1>(keys[0], vals[0], key_src, row_src, b, h, i0, 0, T, H);
  for (int t0 = 0; t0 < T; t0 += P) {
    const int st = (t0 / P) & 1;
    if (t0 + P < T) {
      prefetch<NK, 1>(keys[st ^ 1], vals[st ^ 1], key_src, row_src, b, h, i0, t0 + P, T, H);
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();  // stage st is complete for every thread
    const int steps = min(P, T - t0);
    for (int s = 0; s < steps; ++s) {
      const int t = t0 + s;
      if (ckpt && t % kChunk == 0) scatter_keys(ckpt + ((size_t(bh) * n_chunks + t / kChunk) * N + i) * N, S, c);
      float rt[kCols], wt[kCols], kt[kCols], at_[kCols], bt[kCols];
      gather_keys(rt, keys[st][R][s], c);
      gather_keys(wt, keys[st][W][s], c);
      gather_keys(kt, keys[st][K][s], c);
      gather_keys(at_, keys[st][A][s], c);
      gather_keys(bt, keys[st][Bv][s], c);
      const float vi = vals[st][0][s][row];
      float part[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < kCols; ++x) part[x & 3] += S[x] * at_[x];
      const float sa = row_sum(sum4(part));  // sa_i = (S_{t-1} a)_i
      float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < kCols; ++x) {
        // S_t = S_{t-1} (diag(w) + a bᵀ) + v kᵀ; sa last, so only one FMA waits for the shuffles
        S[x] = fmaf(sa, bt[x], S[x] * wt[x] + vi * kt[x]);
        acc[x & 3] += S[x] * rt[x];
      }
      const float yi = row_sum(sum4(acc));  // y_i = (S_t r)_i
      if (c == 0) {
        const size_t o = at(b, t, h, i, T, H);
        y[o] = yi;
        if (sa_out) sa_out[o] = sa;
      }
    }
    __syncthreads();  // stage st is consumed before the next iteration's prefetch reuses it
  }
  scatter_keys(sT + (size_t(bh) * N + i) * N, S, c);
}

// Backward (spec 6.1), t = T-1 .. 0. Block (bh, split) owns rows i0 .. i0+15 of head bh; the
// cluster of its kSplits blocks completes the key-indexed gradients. Per thread:
//   row layout    dSr[4q+e] = dS[i0 + tid/4][16q + 4c + e]   -> dv_i, dSb_i = (dS b)_i
//   column layout S[x] = S_t[i0+x][j], dSc[x] = dS[i0+x][j]   -> this slice's dr_j, dw_j, dk_j, da_j, db_j
// dSr and dSc are the same numbers (same fmaf updates, same dSb), held twice so that every sum is
// an in-thread sum except the row sums' two shuffles. dSb crosses from row to column layout
// through shared memory (one __syncthreads per step). S_{t-1} is recovered by exact backstepping
// S_{t-1}[:,j] = (S_t[:,j] - k_j v - b_j sa) / w_j and reloaded from a checkpoint every 16 steps.
__global__ void __cluster_dims__(1, kSplits, 1) __launch_bounds__(kThreads) backward_kernel(
    int T, int H, const float* __restrict__ r, const float* __restrict__ w, const float* __restrict__ k,
    const float* __restrict__ v, const float* __restrict__ a, const float* __restrict__ bb,
    const float* __restrict__ sT, const float* __restrict__ ckpt, const float* __restrict__ sa_in,
    const float* __restrict__ dy, const float* __restrict__ dsT, float* __restrict__ dr, float* __restrict__ dw,
    float* __restrict__ dk, float* __restrict__ dv, float* __restrict__ da, float* __restrict__ db,
    float* __restrict__ ds0) {
  const cg::cluster_group cluster = cg::this_cluster();
  const int bh = blockIdx.x, b = bh / H, h = bh % H, i0 = blockIdx.y * kRows;
  const int j = threadIdx.x, row = threadIdx.x / kLanes, c = threadIdx.x % kLanes;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  enum { R, W, K, A, Bv, NK };
  enum { V, DY, SA, NR };
  enum { GR, GW, GK, GA, GB, NG };  // key-indexed gradients: dr, dw, dk, da, db
  __shared__ __align__(16) float keys[2][NK][P][N];     // stages of r, w, k, a, b, walked backwards
  __shared__ __align__(16) float vals[2][NR][P][kRows];  // stages of v, dy, sa: the block's rows
  __shared__ __align__(16) float part[2][P][NG][N];      // this slice's key-gradient sums, per stage
  __shared__ __align__(16) float sdSb[2][kRows];         // (dS_t b)_i, by step parity
  const float* const key_src[NK] = {r, w, k, a, bb};
  const float* const row_src[NR] = {v, dy, sa_in};
  float* const grads[NG] = {dr, dw, dk, da, db};
  float dSr[kCols];
  float S[kRows], dSc[kRows];
  const float* dsT_bh = dsT + size_t(bh) * N * N;
  gather_keys(dSr, dsT_bh + (i0 + row) * N, c);
#pragma unroll
  for (int x = 0; x < kRows; ++x) dSc[x] = dsT_bh[(i0 + x) * N + j];
  // Stage c holds steps [T - (c+1)P, T - cP) (those >= 0) in slots 0..P-1; stage index = c & 1.
  const int n_stages = (T + P - 1) / P;
  prefetch<NK, NR>(keys[0], vals[0], key_src, row_src, b, h, i0, T - P, T, H);
  for (int sc = 0; sc < n_stages; ++sc) {
    const int st = sc & 1, t_hi = T - 1 - sc * P, t_lo = max(0, t_hi - P + 1);
    const int base = t_hi - P + 1;  // step held in slot 0 of this stage (may be < 0)
    if (sc + 1 < n_stages) {
      prefetch<NK, NR>(keys[st ^ 1], vals[st ^ 1], key_src, row_src, b, h, i0, base - P, T, H);
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
        for (int x = 0; x < kRows; ++x) S[x] = sp[(i0 + x) * N + j];
      }
      // Row layout: dS += dy rᵀ on row i, its sums dv_i = (dS k)_i and dSb_i = (dS b)_i, then
      // dS_{t-1} = dS_t diag(w) + (dS_t b) aᵀ.
      {
        float rt[kCols], wt[kCols], kt[kCols], at_[kCols], bt[kCols];
        gather_keys(rt, keys[st][R][s], c);
        gather_keys(wt, keys[st][W][s], c);
        gather_keys(kt, keys[st][K][s], c);
        gather_keys(at_, keys[st][A][s], c);
        gather_keys(bt, keys[st][Bv][s], c);
        const float dyi = vals[st][DY][s][row];
        float pv[4] = {0.f, 0.f, 0.f, 0.f}, psb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int x = 0; x < kCols; ++x) {
          dSr[x] = fmaf(dyi, rt[x], dSr[x]);
          pv[x & 3] += dSr[x] * kt[x];
          psb[x & 3] += dSr[x] * bt[x];
        }
        const float dvi = row_sum(sum4(pv)), dSbi = row_sum(sum4(psb));
        if (c == 0) {
          dv[at(b, t, h, i0 + row, T, H)] = dvi;
          sdSb[p][row] = dSbi;
        }
#pragma unroll
        for (int x = 0; x < kCols; ++x) dSr[x] = fmaf(dSbi, at_[x], dSr[x] * wt[x]);
      }
      // Column layout: key j's sums over the slice's rows.
      const float rj = keys[st][R][s][j], wj = keys[st][W][s][j], kj = keys[st][K][s][j];
      const float aj = keys[st][A][s][j], bj = keys[st][Bv][s][j], inv_wj = 1.f / wj;
      float dyv[kRows], vv[kRows], sav[kRows];
      gather_rows(dyv, vals[st][DY][s]);
      gather_rows(vv, vals[st][V][s]);
      gather_rows(sav, vals[st][SA][s]);
      float pr[4] = {0.f, 0.f, 0.f, 0.f}, pk[4] = {0.f, 0.f, 0.f, 0.f}, pb[4] = {0.f, 0.f, 0.f, 0.f},
            pw[4] = {0.f, 0.f, 0.f, 0.f}, pa[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < kRows; ++x) {
        pr[x & 3] += S[x] * dyv[x];                         // dr_j = Σ_i S_t[i][j] dy_i
        dSc[x] = fmaf(dyv[x], rj, dSc[x]);                  // dS_t += dy rᵀ
        pk[x & 3] += dSc[x] * vv[x];                        // dk_j = Σ_i dS_t[i][j] v_i
        pb[x & 3] += dSc[x] * sav[x];                       // db_j = Σ_i dS_t[i][j] sa_i
        S[x] = (S[x] - vv[x] * kj - sav[x] * bj) * inv_wj;  // backstep to S_{t-1}
        pw[x & 3] += S[x] * dSc[x];                         // dw_j = Σ_i S_{t-1}[i][j] dS_t[i][j]
      }
      __syncthreads();  // sdSb[p] holds every row's dSb
#pragma unroll
      for (int x = 0; x < kRows; ++x) {
        const float dSb = sdSb[p][x];
        pa[x & 3] += S[x] * dSb;                 // da_j = Σ_i S_{t-1}[i][j] dSb_i
        dSc[x] = fmaf(dSb, aj, dSc[x] * wj);  // dS_{t-1}, as in the row layout
      }
      float(&out)[NG][N] = part[st][s];
      out[GR][j] = sum4(pr), out[GW][j] = sum4(pw), out[GK][j] = sum4(pk), out[GA][j] = sum4(pa),
      out[GB][j] = sum4(pb);
    }
    // Every block of the cluster has written part[st] for this stage (and finished reading the
    // stage before, which shared its buffer with the next one).
    cluster.sync();
    // Block `rank` completes keys [16 rank, 16 rank + 16): the sum of the kSplits slices, always
    // added in rank order 0, 1, 2, 3.
    const int rank = int(cluster.block_rank()), kq = kKeysPerRank / 4, steps = t_hi - t_lo + 1;
#pragma unroll
    for (int g = 0; g < NG; ++g)
      for (int idx = threadIdx.x; idx < steps * kq; idx += kThreads) {
        const int s = t_lo - base + idx / kq, n = kKeysPerRank * rank + 4 * (idx % kq);
        float* const mine = &part[st][s][g][n];
        float4 sum = *reinterpret_cast<const float4*>(cluster.map_shared_rank(mine, 0));
#pragma unroll
        for (int src = 1; src < kSplits; ++src) {
          const float4 x = *reinterpret_cast<const float4*>(cluster.map_shared_rank(mine, src));
          sum.x += x.x, sum.y += x.y, sum.z += x.z, sum.w += x.w;
        }
        *reinterpret_cast<float4*>(grads[g] + at(b, base + s, h, n, T, H)) = sum;
      }
  }
#pragma unroll
  for (int x = 0; x < kRows; ++x) ds0[size_t(bh) * N * N + (i0 + x) * N + j] = dSc[x];
  cluster.sync();  // no block leaves while another still reads its part[]
}

}  // namespace

void wkv7_forward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                  const float* a, const float* b, const float* s0, float* y, float* sT, float* ckpt,
                  float* sa, cudaStream_t stream) {
  forward_kernel<<<dim3(B * H, kSplits), kThreads, 0, stream>>>(T, H, r, w, k, v, a, b, s0, y, sT, ckpt, sa);
}

void wkv7_backward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                   const float* a, const float* b, const float* sT, const float* ckpt, const float* sa,
                   const float* dy, const float* dsT, float* dr, float* dw, float* dk, float* dv, float* da,
                   float* db, float* ds0, cudaStream_t stream) {
  backward_kernel<<<dim3(B * H, kSplits), kThreads, 0, stream>>>(T, H, r, w, k, v, a, b, sT, ckpt, sa, dy, dsT, dr,
                                                                 dw, dk, dv, da, db, ds0);
}

}  // namespace rwkv::cuda
