// The span-level halves of the wkv7 span algorithm (wkv7_kernels.h) and the two launchers:
//   transition: per span, G = Π_t (diag(w_t) + a_t b_tᵀ) and D = the span's state from S = 0,
//               by running the recurrence on the 64 rows of I and of 0 at once, and the rows'
//               dot products that make every forward output linear in the span's start state;
//   adjoint:    per span, E = dS at its start from dS = 0 at its end (only the span's dy), as the
//               product of its dy with the transition's QG;
//   chain:      per head, S_{c+1} = S_c G_c + D_c forwards, dS_c = dS_{c+1} G_cᵀ + E_c backwards.
#include "wkv7_chain.cuh"

namespace rwkv::cuda {
namespace wkv {
namespace {


// Key index of the thread's x-th entry in the row layout.
__device__ __forceinline__ int key_of(int x, int c) { return 4 * (c + kLanes * (x / 4)) + x % 4; }

// Row layout over span blockIdx.y of head blockIdx.x: g = row `row` of G (starts as e_row),
// d = row `row` of D (starts as 0). Both see the same gates: g G_t, d G_t + v_t[row] k_tᵀ.
// With S_t = S_c G_{<=t} + D_{<=t} inside the span (S_c its start), everything the forward
// outputs is linear in S_c, so the rows' own dot products are kept per step ([B,T,H,N], index
// n = the row) and wkv7_apply.cu finishes each span with small matrix products once S_c is known:
//   QG = g_t . r_t, QD = d_t . r_t         -> y_t  = S_c QG_t + QD_t
//   AG = g_{t-1} . a_t, AD = d_{t-1} . a_t -> sa_t = S_c AG_t + AD_t     (AG, AD may be null)
// and at the span's 16th, 32nd and 48th step G_{<=t}, D_{<=t} into GS, DS [B,H,ns,3,N,N] (may be
// null) -> the checkpoints S_c GS + DS.
template <typename In>
__global__ void __launch_bounds__(kThreads, 2) transition(int T, int H, const In* __restrict__ r,
                                                       const float* __restrict__ w, const In* __restrict__ k,
                                                       const In* __restrict__ v, const In* __restrict__ a,
                                                       const In* __restrict__ bb, float* __restrict__ G,
                                                       float* __restrict__ D, float* __restrict__ QG,
                                                       float* __restrict__ QD, float* __restrict__ AG,
                                                       float* __restrict__ AD, float* __restrict__ GS,
                                                       float* __restrict__ DS) {
  enum { IR, IK, IA, IB, IV, NIn };
  const int bh = blockIdx.x, sp = blockIdx.y, ns = gridDim.y, b = bh / H, h = bh % H;
  const int row = threadIdx.x / kLanes, c = threadIdx.x % kLanes;
  const int t_begin = sp * kSpan, t_end = min(T, t_begin + kSpan);
  __shared__ Stages<In, NIn, 1> stg;
  const In* const ins[NIn] = {r, k, a, bb, v};
  auto prefetch = [&](int buf, int t0) {
#pragma unroll
    for (int i = 0; i < NIn; ++i) stage_copy(stg.raw[buf][i], ins[i], b, h, t0, t_begin, T, H);
    stage_copy(stg.f[buf][0], w, b, h, t0, t_begin, T, H);
    __pipeline_commit();
  };
  float g[R], d[R];
#pragma unroll
  for (int x = 0; x < R; ++x) g[x] = key_of(x, c) == row ? 1.f : 0.f, d[x] = 0.f;
  walk_stages<false>(stg, t_begin, t_end, prefetch, [&](int st, int s, int t) {
    float sg, sd;
    {
      float wt[R], kt[R], at_[R], bt[R];
      gather_keys(wt, stg.f[st][0][s], c);
      gather_keys(kt, stg.in(st, IK, s), c);
      gather_keys(at_, stg.in(st, IA, s), c);
      gather_keys(bt, stg.in(st, IB, s), c);
      const float vi = stg.in(st, IV, s)[row];
      float pg[4] = {0.f, 0.f, 0.f, 0.f}, pd[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < R; ++x) pg[x & 3] += g[x] * at_[x], pd[x & 3] += d[x] * at_[x];
      sg = row_sum(sum4(pg)), sd = row_sum(sum4(pd));
#pragma unroll
      for (int x = 0; x < R; ++x) {
        g[x] = fmaf(sg, bt[x], g[x] * wt[x]);
        d[x] = fmaf(sd, bt[x], d[x] * wt[x] + vi * kt[x]);
      }
    }
    float rt[R];
    gather_keys(rt, stg.in(st, IR, s), c);
    float qg[4] = {0.f, 0.f, 0.f, 0.f}, qd[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
    for (int x = 0; x < R; ++x) qg[x & 3] += g[x] * rt[x], qd[x & 3] += d[x] * rt[x];
    const float yg = row_sum(sum4(qg)), yd = row_sum(sum4(qd));
    if (c == 0) {
      const size_t o = at(b, t, h, row, T, H);
      QG[o] = yg, QD[o] = yd;
      if (AG) AG[o] = sg, AD[o] = sd;
    }
    const int done = t + 1 - t_begin;
    if (GS && done % kChunk == 0 && t + 1 < t_end) {
      const size_t o = ((size_t(bh) * ns + sp) * 3 + (done / kChunk - 1)) * kMat + size_t(row) * N;
      scatter_keys(GS + o, g, c);
      scatter_keys(DS + o, d, c);
    }
  });
  const size_t o = (size_t(bh) * ns + sp) * kMat + size_t(row) * N;
  scatter_keys(G + o, g, c);
  scatter_keys(D + o, d, c);
}

// E of span sp_lo + blockIdx.y of head blockIdx.x: dS at the span's start when nothing flows in
// from its end. The span's outputs are y_t = S_c QG_t + QD_t with S_c its start state, so
// E = Σ_t dy_t QG_tᵀ over its steps: a 64 x 64 product over <= 64 steps, both operands staged
// whole in shared memory, a 4 x 4 tile of E per thread (rows 4 ti.., keys 4 tn..).
__global__ void __launch_bounds__(kThreads) adjoint(int T, int H, int ns, int sp_lo, const float* __restrict__ dy,
                                                    const float* __restrict__ QG, float* __restrict__ E) {
  const int bh = blockIdx.x, sp = sp_lo + blockIdx.y, b = bh / H, h = bh % H;
  const int t_begin = sp * kSpan, steps = min(T, t_begin + kSpan) - t_begin;
  __shared__ __align__(16) float sdy[kSpan][N], sq[kSpan][N];  // [step][value], [step][key]
  constexpr int kPieces = N / 4;                                // float4 of one step's vector
  for (int idx = threadIdx.x; idx < kSpan * kPieces; idx += kThreads) {
    const int s = idx / kPieces, q = 4 * (idx % kPieces);
    if (s < steps) {
      const size_t o = at(b, t_begin + s, h, q, T, H);
      __pipeline_memcpy_async(&sdy[s][q], dy + o, 16);
      __pipeline_memcpy_async(&sq[s][q], QG + o, 16);
    }
  }
  __pipeline_commit();
  __pipeline_wait_prior(0);
  __syncthreads();
  const int ti = threadIdx.x / kPieces, tn = threadIdx.x % kPieces;
  float acc[4][4] = {};
#pragma unroll 4
  for (int s = 0; s < steps; ++s) {
    const float4 d = *reinterpret_cast<const float4*>(&sdy[s][4 * ti]);
    const float4 q = *reinterpret_cast<const float4*>(&sq[s][4 * tn]);
    const float dv[4] = {d.x, d.y, d.z, d.w}, qv[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int e = 0; e < 4; ++e)
#pragma unroll
      for (int f = 0; f < 4; ++f) acc[e][f] = fmaf(dv[e], qv[f], acc[e][f]);
  }
  float* out = E + (size_t(bh) * ns + sp) * kMat + size_t(4 * ti) * N + 4 * tn;
#pragma unroll
  for (int e = 0; e < 4; ++e)
    *reinterpret_cast<float4*>(out + e * N) = make_float4(acc[e][0], acc[e][1], acc[e][2], acc[e][3]);
}

// The chain alone, for the backward that needs ds0 only (the fused kernels of wkv7_steps.cu run
// it beside the per-step work).
__global__ void __launch_bounds__(kThreads) chain(int ns, int c_lo, const float* __restrict__ init,
                                                  const float* __restrict__ G, const float* __restrict__ E,
                                                  float* __restrict__ dsend, float* __restrict__ ds0) {
  __shared__ ChainShared sh;
  run_chain(sh, blockIdx.x, ns, true, c_lo, init, G, E, dsend, ns, 1, ds0, [](int) {});
}

}  // namespace
}  // namespace wkv

// Workspace, in floats: G (when not kept), D or E, span starts or dS at span ends, QG, QD, AG,
// AD, GS, DS, then the sync ints.
size_t wkv7_workspace_floats(int B, int T, int H) {
  const size_t spans = size_t(B) * H * n_spans(T), steps = size_t(B) * T * H * wkv::N;
  return 9 * spans * wkv::kMat + 4 * steps + 1 + spans;
}

template <typename In>
void wkv7_forward(int B, int T, int H, const In* r, const float* w, const In* k, const In* v, const In* a,
                  const In* b, const float* s0, float* y, float* sT, float* ckpt, float* sa, float* G, float* QGkeep,
                  float* work, cudaStream_t stream) {
  const int ns = n_spans(T), BH = B * H;
  const size_t blk = size_t(BH) * ns * wkv::kMat, steps = size_t(B) * T * H * wkv::N;
  float* const Gw = G ? G : work;
  float* const D = work + blk;
  float* const QG = QGkeep ? QGkeep : work + 3 * blk;
  float* const QD = work + 3 * blk + steps;
  float* const AG = sa ? QD + steps : nullptr;
  float* const AD = sa ? AG + steps : nullptr;
  float* const GS = ckpt ? QD + 3 * steps : nullptr;  // 3 blocks each for GS and DS
  float* const DS = ckpt ? GS + 3 * blk : nullptr;
  wkv::transition<In><<<dim3(BH, ns), wkv::kThreads, 0, stream>>>(T, H, r, w, k, v, a, b, Gw, D, QG, QD, AG, AD, GS,
                                                                  DS);
  wkv::ApplyArgs p{};
  p.T = T, p.H = H, p.BH = BH, p.ns = ns, p.n_chain = ns > 1 ? BH : 0;
  p.s0 = s0, p.G = Gw, p.D = D, p.QG = QG, p.QD = QD, p.AG = AG, p.AD = AD, p.GS = GS, p.DS = DS;
  p.y = y, p.sT = sT, p.ckpt = ckpt, p.sa = sa;
  // span starts go where the backward looks for them: the checkpoints at every 4th chunk
  p.starts = ckpt ? ckpt : work + 2 * blk;
  p.starts_per_bh = ckpt ? n_chunks(T) : ns;
  p.start_step = ckpt ? kSpan / kChunk : 1;
  wkv::launch_forward_apply(p, reinterpret_cast<int*>(work + 9 * blk + 4 * steps), stream);
}

template <typename In>
void wkv7_backward(int B, int T, int H, const In* r, const float* w, const In* k, const In* v, const In* a,
                   const In* b, const float* sT, const float* ckpt, const float* sa, const float* G, const float* QG,
                   const float* dy, const float* dsT, float* dr, float* dw, float* dk, float* dv, float* da, float* db,
                   float* ds0, bool ds0_only, float* work, cudaStream_t stream) {
  const int ns = n_spans(T), BH = B * H, lo = ds0_only ? 0 : 1;
  const size_t blk = size_t(BH) * ns * wkv::kMat;
  float* E = work;
  float* dsend = work + blk;  // dS at the end of each span
  if (ns > lo)
    wkv::adjoint<<<dim3(BH, ns - lo), wkv::kThreads, 0, stream>>>(T, H, ns, lo, dy, QG, E);
  if (ds0_only) {
    wkv::chain<<<BH, wkv::kThreads, 0, stream>>>(ns, 0, dsT, G, E, dsend, ds0);
    return;
  }
  wkv::BwdArgs<In> p{};
  p.T = T, p.H = H, p.BH = BH, p.ns = ns;
  p.r = r, p.k = k, p.v = v, p.a = a, p.b = b, p.w = w, p.sT = sT, p.ckpt = ckpt, p.sa = sa, p.dy = dy;
  p.dsT = dsT, p.G = G, p.E = E, p.dsend = dsend;
  p.dr = dr, p.dw = dw, p.dk = dk, p.dv = dv, p.da = da, p.db = db, p.ds0 = ds0;
  wkv::launch_backward_fused<In>(p, reinterpret_cast<int*>(work + 9 * blk + 4 * size_t(B) * T * H * wkv::N), stream);
}

#define RWKV_WKV(In)                                                                                              \
  template void wkv7_forward<In>(int, int, int, const In*, const float*, const In*, const In*, const In*,        \
                                 const In*, const float*, float*, float*, float*, float*, float*, float*,        \
                                 float*, cudaStream_t);                                                           \
  template void wkv7_backward<In>(int, int, int, const In*, const float*, const In*, const In*, const In*,       \
                                  const In*, const float*, const float*, const float*, const float*,             \
                                  const float*, const float*, const float*, float*, float*, float*, float*,      \
                                  float*, float*, float*, bool, float*, cudaStream_t);
RWKV_WKV(float)
RWKV_WKV(__nv_bfloat16)
#undef RWKV_WKV

}  // namespace rwkv::cuda
