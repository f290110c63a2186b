// wkv7 recurrence on the GPU, sequential over time (spec/rwkv7.md 6.2), fp32 state, N = 64.
//
// Split of a head: S_t[i,:] = S_{t-1}[i,:] G_t + v_t[i] k_tᵀ involves row i only, so the 64 state
// rows (value index i) are cut into N/R slices of R rows (R = 16, or 8 when B*H is too small to
// give every SM a block), one block of 64 threads each: grid (B*H, N/R). B=4, H=16 then gives 256
// blocks (not 64) and every block does R/64 of a head's work per step.
//
// Row layout (forward, and the backward's row sums): 64/R threads per row. Thread tid owns row
// i0 + tid/L (L = 64/R lanes per row) and, with c = tid%L, the R keys j = 4(c + Lq) + e (q < R/4,
// e < 4), kept as x[4q+e]. The L threads of a row are adjacent lanes, so a row sum is R in-thread
// terms plus log2(L) xor shuffles; a float4 read of a key vector by those L threads is one
// contiguous line, broadcast to the warp's other rows.
//
// Column layout (backward only): thread j owns key j of the block's R rows, so the five
// key-indexed gradients (dr, dw, dk, da, db: sums over rows) are in-thread sums over the slice.
// The N/R blocks of a head form a thread-block cluster and, after each stage of P steps, add
// their slices' partial sums in fixed rank order through distributed shared memory:
// deterministic, no atomics, no workspace.
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
constexpr int kThreads = N;  // per block: one per key in the backward's column layout

// The split of a head for R state rows per block.
template <int R>
struct Split {
  static constexpr int kBlocks = N / R;             // blocks per head = cluster size of the backward
  static constexpr int kLanes = kThreads / R;       // threads per row in the row layout, each with R keys
  static constexpr int kKeysPerRank = N / kBlocks;  // keys whose cluster-wide sums one backward block ends
  static_assert(N % R == 0 && R % 4 == 0 && kLanes <= 32, "rows of a block split into float4s and warps");
};

constexpr int P = 8;  // steps per prefetch stage

// x[b][t][h][n] in a contiguous [B,T,H,N] tensor.
__device__ __forceinline__ size_t at(int b, int t, int h, int n, int T, int H) {
  return ((size_t(b) * T + t) * H + h) * N + n;
}

// Sum of four partial accumulators: breaks the FMA dependency chains into four.
__device__ __forceinline__ float sum4(const float (&p)[4]) { return (p[0] + p[1]) + (p[2] + p[3]); }

// Sum over the L threads of a row (adjacent lanes). Float addition commutes exactly, so all L
// get the same bits.
template <int L>
__device__ __forceinline__ float row_sum(float x) {
#pragma unroll
  for (int m = 1; m < L; m <<= 1) x += __shfl_xor_sync(0xffffffffu, x, m);
  return x;
}

// Row layout: x[4q+e] = vec[4(c + Lq) + e], the thread's R entries of a key-indexed vector [N].
template <int R>
__device__ __forceinline__ void gather_keys(float (&x)[R], const float* vec, int c) {
#pragma unroll
  for (int q = 0; q < R / 4; ++q) {
    const float4 f = *reinterpret_cast<const float4*>(vec + 4 * (c + Split<R>::kLanes * q));
    x[4 * q] = f.x, x[4 * q + 1] = f.y, x[4 * q + 2] = f.z, x[4 * q + 3] = f.w;
  }
}

// The key-indexed inputs of a step, as staged in shared memory: keys[vec][step][n].
enum KeyVec { Rv, Wv, Kv, Av, Bv, NK };

// Row layout: the thread's entries of step s's r, w, k, a, b (gather_keys of each).
template <int R>
__device__ __forceinline__ void gather_step(const float (*keys)[P][N], int s, int c, float (&r)[R], float (&w)[R],
                                            float (&k)[R], float (&a)[R], float (&b)[R]) {
  gather_keys(r, keys[Rv][s], c);
  gather_keys(w, keys[Wv][s], c);
  gather_keys(k, keys[Kv][s], c);
  gather_keys(a, keys[Av][s], c);
  gather_keys(b, keys[Bv][s], c);
}

// Inverse of gather_keys.
template <int R>
__device__ __forceinline__ void scatter_keys(float* vec, const float (&x)[R], int c) {
#pragma unroll
  for (int q = 0; q < R / 4; ++q)
    *reinterpret_cast<float4*>(vec + 4 * (c + Split<R>::kLanes * q)) =
        make_float4(x[4 * q], x[4 * q + 1], x[4 * q + 2], x[4 * q + 3]);
}

// x[n] = vec[n] for the block's R entries of a value-indexed vector (vec starts at row i0).
template <int R>
__device__ __forceinline__ void gather_rows(float (&x)[R], const float* vec) {
#pragma unroll
  for (int q = 0; q < R / 4; ++q) {
    const float4 f = *reinterpret_cast<const float4*>(vec + 4 * q);
    x[4 * q] = f.x, x[4 * q + 1] = f.y, x[4 * q + 2] = f.z, x[4 * q + 3] = f.w;
  }
}

// Starts the asynchronous copy of steps [t0, t0+P) of NK key-indexed vectors (all N entries, into
// keys[vec][s][n]) and NR value-indexed vectors (only the block's rows i0.., into rows[vec][s][n]),
// each source [B,T,H,N]; steps outside [0, T) are skipped. One commit group per call.
template <int R, int NK, int NR>
__device__ __forceinline__ void prefetch(float (*keys)[P][N], float (*rows)[P][R],
                                         const float* const (&key_src)[NK], const float* const (&row_src)[NR],
                                         int b, int h, int i0, int t0, int T, int H) {
  constexpr int kq = N / 4, rq = R / 4;  // float4s per step of one vector
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

// Forward, row layout. Block (bh, split) runs rows i0 = R split .. i0+R-1 of head bh for all T steps.
template <int R>
__global__ void __launch_bounds__(kThreads) forward_kernel(int T, int H, const float* __restrict__ r,
                                                           const float* __restrict__ w, const float* __restrict__ k,
                                                           const float* __restrict__ v, const float* __restrict__ a,
                                                           const float* __restrict__ bb, const float* __restrict__ s0,
                                                           float* __restrict__ y, float* __restrict__ sT,
                                                           float* __restrict__ ckpt, float* __restrict__ sa_out) {
  constexpr int L = Split<R>::kLanes;
  const int bh = blockIdx.x, b = bh / H, h = bh % H, i0 = blockIdx.y * R;
  const int row = threadIdx.x / L, c = threadIdx.x % L, i = i0 + row;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  __shared__ __align__(16) float keys[2][NK][P][N];  // two stages of r, w, k, a, b
  __shared__ __align__(16) float vals[2][1][P][R];  // two stages of v, the block's rows only
  const float* const key_src[NK] = {r, w, k, a, bb};
  const float* const row_src[1] = {v};
  float S[R];  // S[4q+e] = S[i][4(c + Lq) + e]
  gather_keys(S, s0 + (size_t(bh) * N + i) * N, c);
  prefetch<R, NK, 1>(keys[0], vals[0], key_src, row_src, b, h, i0, 0, T, H);
  for (int t0 = 0; t0 < T; t0 += P) {
    const int st = (t0 / P) & 1;
    if (t0 + P < T) {
      prefetch<R, NK, 1>(keys[st ^ 1], vals[st ^ 1], key_src, row_src, b, h, i0, t0 + P, T, H);
      __pipeline_wait_prior(1);
    } else {
      __pipeline_wait_prior(0);
    }
    __syncthreads();  // stage st is complete for every thread
    const int steps = min(P, T - t0);
    for (int s = 0; s < steps; ++s) {
      const int t = t0 + s;
      if (ckpt && t % kChunk == 0) scatter_keys(ckpt + ((size_t(bh) * n_chunks + t / kChunk) * N + i) * N, S, c);
      float rt[R], wt[R], kt[R], at_[R], bt[R];
      gather_step(keys[st], s, c, rt, wt, kt, at_, bt);
      const float vi = vals[st][0][s][row];
      float part[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < R; ++x) part[x & 3] += S[x] * at_[x];
      const float sa = row_sum<L>(sum4(part));  // sa_i = (S_{t-1} a)_i
      float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < R; ++x) {
        // S_t = S_{t-1} (diag(w) + a bᵀ) + v kᵀ; sa last, so only one FMA waits for the shuffles
        S[x] = fmaf(sa, bt[x], S[x] * wt[x] + vi * kt[x]);
        acc[x & 3] += S[x] * rt[x];
      }
      const float yi = row_sum<L>(sum4(acc));  // y_i = (S_t r)_i
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

// Backward (spec 6.1), t = T-1 .. 0. Block (bh, split) owns rows i0 .. i0+R-1 of head bh; the
// cluster of its N/R blocks completes the key-indexed gradients. Per thread:
//   row layout    dSr[4q+e] = dS[i0 + tid/L][4(c + Lq) + e]  -> dv_i, dSb_i = (dS b)_i
//   column layout S[x] = S_t[i0+x][j], dSc[x] = dS[i0+x][j]   -> this slice's dr_j, dw_j, dk_j, da_j, db_j
// dSr and dSc are the same numbers (same fmaf updates, same dSb), held twice so that every sum is
// an in-thread sum except the row sums' shuffles. dSb crosses from row to column layout
// through shared memory (one __syncthreads per step). S_{t-1} is recovered by exact backstepping
// S_{t-1}[:,j] = (S_t[:,j] - k_j v - b_j sa) / w_j and reloaded from a checkpoint every 16 steps.
template <int R>
__global__ void __cluster_dims__(1, Split<R>::kBlocks, 1) __launch_bounds__(kThreads) backward_kernel(
    int T, int H, const float* __restrict__ r, const float* __restrict__ w, const float* __restrict__ k,
    const float* __restrict__ v, const float* __restrict__ a, const float* __restrict__ bb,
    const float* __restrict__ sT, const float* __restrict__ ckpt, const float* __restrict__ sa_in,
    const float* __restrict__ dy, const float* __restrict__ dsT, float* __restrict__ dr, float* __restrict__ dw,
    float* __restrict__ dk, float* __restrict__ dv, float* __restrict__ da, float* __restrict__ db,
    float* __restrict__ ds0) {
  const cg::cluster_group cluster = cg::this_cluster();
  constexpr int L = Split<R>::kLanes;
  const int bh = blockIdx.x, b = bh / H, h = bh % H, i0 = blockIdx.y * R;
  const int j = threadIdx.x, row = threadIdx.x / L, c = threadIdx.x % L;
  const int n_chunks = (T + kChunk - 1) / kChunk;
  enum { V, DY, SA, NR };
  enum { GR, GW, GK, GA, GB, NG };  // key-indexed gradients: dr, dw, dk, da, db
  __shared__ __align__(16) float keys[2][NK][P][N];  // stages of r, w, k, a, b, walked backwards
  __shared__ __align__(16) float vals[2][NR][P][R];  // stages of v, dy, sa: the block's rows
  __shared__ __align__(16) float part[2][P][NG][N];  // this slice's key-gradient sums, per stage
  __shared__ __align__(16) float sdSb[2][R];         // (dS_t b)_i, by step parity
  const float* const key_src[NK] = {r, w, k, a, bb};
  const float* const row_src[NR] = {v, dy, sa_in};
  float* const grads[NG] = {dr, dw, dk, da, db};
  float dSr[R];
  float S[R], dSc[R];
  const float* dsT_bh = dsT + size_t(bh) * N * N;
  gather_keys(dSr, dsT_bh + (i0 + row) * N, c);
#pragma unroll
  for (int x = 0; x < R; ++x) dSc[x] = dsT_bh[(i0 + x) * N + j];
  // Stage sc holds steps [T - (sc+1)P, T - sc P) (those >= 0) in slots 0..P-1, in buffer sc & 1.
  const int n_stages = (T + P - 1) / P;
  prefetch<R, NK, NR>(keys[0], vals[0], key_src, row_src, b, h, i0, T - P, T, H);
  for (int sc = 0; sc < n_stages; ++sc) {
    const int st = sc & 1, t_hi = T - 1 - sc * P, t_lo = max(0, t_hi - P + 1);
    const int base = t_hi - P + 1;  // step held in slot 0 of this stage (may be < 0)
    if (sc + 1 < n_stages) {
      prefetch<R, NK, NR>(keys[st ^ 1], vals[st ^ 1], key_src, row_src, b, h, i0, base - P, T, H);
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
        for (int x = 0; x < R; ++x) S[x] = sp[(i0 + x) * N + j];
      }
      // Row layout: dS += dy rᵀ on row i, its sums dv_i = (dS k)_i and dSb_i = (dS b)_i, then
      // dS_{t-1} = dS_t diag(w) + (dS_t b) aᵀ.
      {
        float rt[R], wt[R], kt[R], at_[R], bt[R];
        gather_step(keys[st], s, c, rt, wt, kt, at_, bt);
        const float dyi = vals[st][DY][s][row];
        float pv[4] = {0.f, 0.f, 0.f, 0.f}, psb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int x = 0; x < R; ++x) {
          dSr[x] = fmaf(dyi, rt[x], dSr[x]);
          pv[x & 3] += dSr[x] * kt[x];
          psb[x & 3] += dSr[x] * bt[x];
        }
        const float dvi = row_sum<L>(sum4(pv)), dSbi = row_sum<L>(sum4(psb));
        if (c == 0) {
          dv[at(b, t, h, i0 + row, T, H)] = dvi;
          sdSb[p][row] = dSbi;
        }
#pragma unroll
        for (int x = 0; x < R; ++x) dSr[x] = fmaf(dSbi, at_[x], dSr[x] * wt[x]);
      }
      // Column layout: key j's sums over the slice's rows.
      const float rj = keys[st][Rv][s][j], wj = keys[st][Wv][s][j], kj = keys[st][Kv][s][j];
      const float aj = keys[st][Av][s][j], bj = keys[st][Bv][s][j], inv_wj = 1.f / wj;
      float dyv[R], vv[R], sav[R];
      gather_rows(dyv, vals[st][DY][s]);
      gather_rows(vv, vals[st][V][s]);
      gather_rows(sav, vals[st][SA][s]);
      float pr[4] = {0.f, 0.f, 0.f, 0.f}, pk[4] = {0.f, 0.f, 0.f, 0.f}, pb[4] = {0.f, 0.f, 0.f, 0.f},
            pw[4] = {0.f, 0.f, 0.f, 0.f}, pa[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < R; ++x) {
        pr[x & 3] += S[x] * dyv[x];                         // dr_j = Σ_i S_t[i][j] dy_i
        dSc[x] = fmaf(dyv[x], rj, dSc[x]);                  // dS_t += dy rᵀ
        pk[x & 3] += dSc[x] * vv[x];                        // dk_j = Σ_i dS_t[i][j] v_i
        pb[x & 3] += dSc[x] * sav[x];                       // db_j = Σ_i dS_t[i][j] sa_i
        S[x] = (S[x] - vv[x] * kj - sav[x] * bj) * inv_wj;  // backstep to S_{t-1}
        pw[x & 3] += S[x] * dSc[x];                         // dw_j = Σ_i S_{t-1}[i][j] dS_t[i][j]
      }
      __syncthreads();  // sdSb[p] holds every row's dSb
#pragma unroll
      for (int x = 0; x < R; ++x) {
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
    // Block `rank` completes keys [K rank, K rank + K), K = 64 R / N: the sum of the N/R slices,
    // always added in rank order.
    constexpr int K = Split<R>::kKeysPerRank, kq = K / 4;
    const int rank = int(cluster.block_rank()), steps = t_hi - t_lo + 1;
#pragma unroll
    for (int g = 0; g < NG; ++g)
      for (int idx = threadIdx.x; idx < steps * kq; idx += kThreads) {
        const int s = t_lo - base + idx / kq, n = K * rank + 4 * (idx % kq);
        float* const mine = &part[st][s][g][n];
        float4 sum = *reinterpret_cast<const float4*>(cluster.map_shared_rank(mine, 0));
#pragma unroll
        for (int src = 1; src < Split<R>::kBlocks; ++src) {
          const float4 x = *reinterpret_cast<const float4*>(cluster.map_shared_rank(mine, src));
          sum.x += x.x, sum.y += x.y, sum.z += x.z, sum.w += x.w;
        }
        *reinterpret_cast<float4*>(grads[g] + at(b, base + s, h, n, T, H)) = sum;
      }
  }
#pragma unroll
  for (int x = 0; x < R; ++x) ds0[size_t(bh) * N * N + (i0 + x) * N + j] = dSc[x];
  cluster.sync();  // no block leaves while another still reads its part[]
}

// Rows per block: 16, or 8 when 4 blocks per head would leave SMs without a block (shorter
// steps on twice the SMs; with every SM busy, 16 loads the key vectors half as often).
int rows_per_block(int B, int H) {
  int dev = 0, sms = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  return B * H * Split<16>::kBlocks < sms ? 8 : 16;
}

}  // namespace

void wkv7_forward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                  const float* a, const float* b, const float* s0, float* y, float* sT, float* ckpt,
                  float* sa, cudaStream_t stream) {
  if (rows_per_block(B, H) == 8)
    forward_kernel<8><<<dim3(B * H, Split<8>::kBlocks), kThreads, 0, stream>>>(T, H, r, w, k, v, a, b, s0, y, sT,
                                                                                ckpt, sa);
  else
    forward_kernel<16><<<dim3(B * H, Split<16>::kBlocks), kThreads, 0, stream>>>(T, H, r, w, k, v, a, b, s0, y, sT,
                                                                                  ckpt, sa);
}

void wkv7_backward(int B, int T, int H, const float* r, const float* w, const float* k, const float* v,
                   const float* a, const float* b, const float* sT, const float* ckpt, const float* sa,
                   const float* dy, const float* dsT, float* dr, float* dw, float* dk, float* dv, float* da,
                   float* db, float* ds0, cudaStream_t stream) {
  if (rows_per_block(B, H) == 8)
    backward_kernel<8><<<dim3(B * H, Split<8>::kBlocks), kThreads, 0, stream>>>(
        T, H, r, w, k, v, a, b, sT, ckpt, sa, dy, dsT, dr, dw, dk, dv, da, db, ds0);
  else
    backward_kernel<16><<<dim3(B * H, Split<16>::kBlocks), kThreads, 0, stream>>>(
        T, H, r, w, k, v, a, b, sT, ckpt, sa, dy, dsT, dr, dw, dk, dv, da, db, ds0);
}

}  // namespace rwkv::cuda
