// The span-level halves of the wkv7 span algorithm (wkv7_kernels.h) and the two launchers:
//   transition: per span, G = Π_t (diag(w_t) + a_t b_tᵀ) and D = the span's state from S = 0,
//               by running the recurrence on the 64 rows of I and of 0 at once;
//   adjoint:    per span, E = dS at its start from dS = 0 at its end (only the span's dy);
//   chain:      per head, S_{c+1} = S_c G_c + D_c forwards, dS_c = dS_{c+1} G_cᵀ + E_c backwards.
#include "wkv7_common.cuh"

namespace rwkv::cuda {
namespace wkv {
namespace {

__device__ __forceinline__ float sum4(const float (&p)[4]) { return (p[0] + p[1]) + (p[2] + p[3]); }

constexpr size_t kMat = size_t(N) * N;

// Key index of the thread's x-th entry in the row layout.
__device__ __forceinline__ int key_of(int x, int c) { return 4 * (c + kLanes * (x / 4)) + x % 4; }

// Row layout over span blockIdx.y of head blockIdx.x: g = row `row` of G (starts as e_row),
// d = row `row` of D (starts as 0). Both see the same gates: g G_t, d G_t + v_t[row] k_tᵀ.
template <typename In>
__global__ void __launch_bounds__(kThreads, 2) transition(int T, int H, const float* __restrict__ w,
                                                       const In* __restrict__ k, const In* __restrict__ v,
                                                       const In* __restrict__ a, const In* __restrict__ bb,
                                                       float* __restrict__ G, float* __restrict__ D) {
  enum { IK, IA, IB, IV, NIn };
  const int bh = blockIdx.x, sp = blockIdx.y, ns = gridDim.y, b = bh / H, h = bh % H;
  const int row = threadIdx.x / kLanes, c = threadIdx.x % kLanes;
  const int t_begin = sp * kSpan, t_end = min(T, t_begin + kSpan);
  __shared__ Stages<In, NIn, 1> stg;
  const In* const ins[NIn] = {k, a, bb, v};
  auto prefetch = [&](int buf, int t0) {
#pragma unroll
    for (int i = 0; i < NIn; ++i) stage_copy(stg.raw[buf][i], ins[i], b, h, t0, t_begin, T, H);
    stage_copy(stg.f[buf][0], w, b, h, t0, t_begin, T, H);
    __pipeline_commit();
  };
  float g[R], d[R];
#pragma unroll
  for (int x = 0; x < R; ++x) g[x] = key_of(x, c) == row ? 1.f : 0.f, d[x] = 0.f;
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
    stg.widen(st);
    const int steps = min(P, t_end - t0);
    for (int s = 0; s < steps; ++s) {
      float wt[R], kt[R], at_[R], bt[R];
      gather_keys(wt, stg.f[st][0][s], c);
      gather_keys(kt, stg.in(st, IK, s), c);
      gather_keys(at_, stg.in(st, IA, s), c);
      gather_keys(bt, stg.in(st, IB, s), c);
      const float vi = stg.in(st, IV, s)[row];
      float pg[4] = {0.f, 0.f, 0.f, 0.f}, pd[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < R; ++x) pg[x & 3] += g[x] * at_[x], pd[x & 3] += d[x] * at_[x];
      const float sg = row_sum(sum4(pg)), sd = row_sum(sum4(pd));
#pragma unroll
      for (int x = 0; x < R; ++x) {
        g[x] = fmaf(sg, bt[x], g[x] * wt[x]);
        d[x] = fmaf(sd, bt[x], d[x] * wt[x] + vi * kt[x]);
      }
    }
    __syncthreads();
  }
  const size_t o = (size_t(bh) * ns + sp) * kMat + size_t(row) * N;
  scatter_keys(G + o, g, c);
  scatter_keys(D + o, d, c);
}

// Row layout over span sp_lo + blockIdx.y of head blockIdx.x, t = end-1 .. begin: e = row `row`
// of dS, from 0: e += dy_t[row] r_t, then e = e diag(w_t) + (e b_t) a_tᵀ. Writes E.
template <typename In>
__global__ void __launch_bounds__(kThreads, 2) adjoint(int T, int H, int ns, int sp_lo, const In* __restrict__ r,
                                                    const float* __restrict__ w, const In* __restrict__ a,
                                                    const In* __restrict__ bb, const float* __restrict__ dy,
                                                    float* __restrict__ E) {
  enum { IR, IA, IB, NIn };
  enum { FW, FDY, NF };
  const int bh = blockIdx.x, sp = sp_lo + blockIdx.y, b = bh / H, h = bh % H;
  const int row = threadIdx.x / kLanes, c = threadIdx.x % kLanes;
  const int t_begin = sp * kSpan, t_end = min(T, t_begin + kSpan);
  __shared__ Stages<In, NIn, NF> stg;
  const In* const ins[NIn] = {r, a, bb};
  const float* const fins[NF] = {w, dy};
  auto prefetch = [&](int buf, int t0) {
#pragma unroll
    for (int i = 0; i < NIn; ++i) stage_copy(stg.raw[buf][i], ins[i], b, h, t0, t_begin, T, H);
#pragma unroll
    for (int i = 0; i < NF; ++i) stage_copy(stg.f[buf][i], fins[i], b, h, t0, t_begin, T, H);
    __pipeline_commit();
  };
  float e[R];
#pragma unroll
  for (int x = 0; x < R; ++x) e[x] = 0.f;
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
    __syncthreads();
    stg.widen(st);
    for (int t = t_hi; t >= t_lo; --t) {
      const int s = t - base;
      float rt[R], wt[R], at_[R], bt[R];
      gather_keys(rt, stg.in(st, IR, s), c);
      gather_keys(wt, stg.f[st][FW][s], c);
      gather_keys(at_, stg.in(st, IA, s), c);
      gather_keys(bt, stg.in(st, IB, s), c);
      const float dyi = stg.f[st][FDY][s][row];
      float pb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < R; ++x) {
        e[x] = fmaf(dyi, rt[x], e[x]);
        pb[x & 3] += e[x] * bt[x];
      }
      const float eb = row_sum(sum4(pb));
#pragma unroll
      for (int x = 0; x < R; ++x) e[x] = fmaf(eb, at_[x], e[x] * wt[x]);
    }
    __syncthreads();
  }
  scatter_keys(E + (size_t(bh) * ns + sp) * kMat + size_t(row) * N, e, c);
}

constexpr int kPad = N + 4;           // shared rows padded by one float4
constexpr int kChainThreads = 256;    // 16 x 16 threads, a 4 x 4 tile of the product each

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

// One block per head. Forward (backward = false): S = init (s0), then for c = 0 .. ns-2:
// S = S G_c + D_c, written to out slot c+1. Backward: S = init (dsT, or 0 when null), written to
// out slot ns-1, then for c = ns-1 .. c_lo: S = S G_cᵀ + D_c (D = E), written to slot c-1, or to
// ds0 for c = 0. Slot(c) = out + (bh * out_per_bh + c * out_step) * N*N.
// Thread tile: rows i0 .. i0+3, columns j0 .. j0+3 of the product; S is kept transposed in St so
// that both operands of the inner product are float4 reads.
__global__ void __launch_bounds__(kChainThreads) chain(int ns, bool backward, int c_lo, const float* __restrict__ init,
                                                  const float* __restrict__ G, const float* __restrict__ D,
                                                  float* __restrict__ out, int out_per_bh, int out_step,
                                                  float* __restrict__ ds0) {
  const int bh = blockIdx.x, i0 = 4 * (threadIdx.x / 16), j0 = 4 * (threadIdx.x % 16);
  __shared__ __align__(16) float St[N][kPad];  // St[m][i] = S[i][m]
  __shared__ __align__(16) float X[N][kPad];   // the step's G_c (or G_cᵀ) as X[m][j]
  auto slot = [&](int c) { return out + (size_t(bh) * out_per_bh + size_t(c) * out_step) * kMat; };
  float x[16];
  if (init) {
    load_tile(init + size_t(bh) * kMat, x);
  } else {
#pragma unroll
    for (int e = 0; e < 16; ++e) x[e] = 0.f;
  }
  store_tile(St, x, true);
  if (backward) {
    float* o = slot(ns - 1) + (threadIdx.x / 4) * N + 16 * (threadIdx.x % 4);
#pragma unroll
    for (int q = 0; q < 4; ++q) *reinterpret_cast<float4*>(o + 4 * q) = make_float4(x[4 * q], x[4 * q + 1], x[4 * q + 2], x[4 * q + 3]);
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
    __syncthreads();  // X is free, St is complete
    store_tile(X, x, backward);
    __syncthreads();
    if (n + 1 < n_steps) load_step(n + 1);  // in flight during the product
#pragma unroll 8
    for (int m = 0; m < N; ++m) {
      const float4 s4 = *reinterpret_cast<const float4*>(&St[m][i0]);
      const float4 g4 = *reinterpret_cast<const float4*>(&X[m][j0]);
      const float sv[4] = {s4.x, s4.y, s4.z, s4.w}, gv[4] = {g4.x, g4.y, g4.z, g4.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int jj = 0; jj < 4; ++jj) acc[i][jj] = fmaf(sv[i], gv[jj], acc[i][jj]);
    }
    __syncthreads();  // every read of St is done
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) St[j0 + jj][i0 + i] = acc[i][jj];
    float* o = !backward ? slot(cs + 1) : cs >= 1 ? slot(cs - 1) : ds0 + size_t(bh) * kMat;
#pragma unroll
    for (int i = 0; i < 4; ++i)
      *reinterpret_cast<float4*>(o + (i0 + i) * N + j0) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
  }
}

}  // namespace
}  // namespace wkv

size_t wkv7_workspace_floats(int B, int T, int H) {
  return 3 * size_t(B) * H * n_spans(T) * wkv::kMat;
}

template <typename In>
void wkv7_forward(int B, int T, int H, const In* r, const float* w, const In* k, const In* v, const In* a,
                  const In* b, const float* s0, float* y, float* sT, float* ckpt, float* sa, float* G, float* work,
                  cudaStream_t stream) {
  const int ns = n_spans(T), BH = B * H;
  const size_t blk = size_t(BH) * ns * wkv::kMat;
  float* Gw = G ? G : work;
  float* D = work + blk;
  const float* starts = nullptr;
  int per_bh = 0, step = 0;
  if (ns > 1 || G) wkv::transition<In><<<dim3(BH, ns), wkv::kThreads, 0, stream>>>(T, H, w, k, v, a, b, Gw, D);
  if (ns > 1) {
    float* out = ckpt ? ckpt : work + 2 * blk;  // span starts go where the backward will look for them
    per_bh = ckpt ? n_chunks(T) : ns;
    step = ckpt ? kSpan / kChunk : 1;
    wkv::chain<<<BH, wkv::kChainThreads, 0, stream>>>(ns, false, 0, s0, Gw, D, out, per_bh, step, nullptr);
    starts = out;
  }
  wkv::launch_forward_steps<In>(B, T, H, r, w, k, v, a, b, s0, starts, per_bh, step, y, sT, ckpt, sa, stream);
}

template <typename In>
void wkv7_backward(int B, int T, int H, const In* r, const float* w, const In* k, const In* v, const In* a,
                   const In* b, const float* sT, const float* ckpt, const float* sa, const float* G, const float* dy,
                   const float* dsT, float* dr, float* dw, float* dk, float* dv, float* da, float* db, float* ds0,
                   bool ds0_only, float* work, cudaStream_t stream) {
  const int ns = n_spans(T), BH = B * H, lo = ds0_only ? 0 : 1;
  const size_t blk = size_t(BH) * ns * wkv::kMat;
  float* E = work;
  float* dsend = work + blk;  // dS at the end of each span
  if (ns > lo)
    wkv::adjoint<In><<<dim3(BH, ns - lo), wkv::kThreads, 0, stream>>>(T, H, ns, lo, r, w, a, b, dy, E);
  wkv::chain<<<BH, wkv::kChainThreads, 0, stream>>>(ns, true, lo, dsT, G, E, dsend, ns, 1, ds0);
  if (!ds0_only)
    wkv::launch_backward_steps<In>(B, T, H, r, w, k, v, a, b, sT, ckpt, sa, dy, dsend, dr, dw, dk, dv, da, db, ds0,
                                   stream);
}

#define RWKV_WKV(In)                                                                                              \
  template void wkv7_forward<In>(int, int, int, const In*, const float*, const In*, const In*, const In*,        \
                                 const In*, const float*, float*, float*, float*, float*, float*, float*,        \
                                 cudaStream_t);                                                                   \
  template void wkv7_backward<In>(int, int, int, const In*, const float*, const In*, const In*, const In*,       \
                                  const In*, const float*, const float*, const float*, const float*,             \
                                  const float*, const float*, float*, float*, float*, float*, float*, float*,    \
                                  float*, bool, float*, cudaStream_t);
RWKV_WKV(float)
RWKV_WKV(__nv_bfloat16)
#undef RWKV_WKV

}  // namespace rwkv::cuda
