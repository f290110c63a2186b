// The per-step backward of the wkv7 span algorithm (wkv7_kernels.h): every (batch*head, span)
// runs its <= 64 steps back from dS at its end, all spans at once, in the same launch as the
// chain that produces those dS: a span starts as soon as its own dS is published, so the
// chain's latency hides behind the other spans' work. One block of 256 threads holds the head's
// whole state (wkv7_common.cuh).
#include "wkv7_chain.cuh"

namespace rwkv::cuda::wkv {
namespace {

// x[n] = vec[n], n < 16: the 16 rows of a column-layout slice.
__device__ __forceinline__ void gather_rows(float (&x)[R], const float* vec) {
#pragma unroll
  for (int q = 0; q < R / 4; ++q) load4(vec + 4 * q, x + 4 * q);
}

enum { IR, IK, IA, IB, IV, NIn };  // the In-typed inputs as staged
enum { FW, FDY, FSA, NF };         // the fp32 inputs as staged

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

// Backward over span sp of head bh (spec 6.1), t = end-1 .. begin, from dS at the span's end.
// Per thread:
//   row layout    D[4q+e] ~ dS[row][4(c + 4q) + e]  -> dv_i, dSb_i = (dS b)_i
//   column layout Q[x] ~ S_t[16 sl + x][j], Dc[x] ~ dS[16 sl + x][j]  (key j = tid/4, slice sl = tid%4)
//                 -> the slice's parts of dr_j, dw_j, dk_j, da_j, db_j, summed over the 4 slices
//                    (adjacent lanes) by two shuffles
// D and Dc are the same numbers, held twice so that every sum is in-thread plus shuffles. dSb
// crosses from row to column layout through shared memory (one barrier per step). S_{t-1} is
// recovered by exact backstepping S_{t-1}[:,j] = (S_t[:,j] - k_j v - b_j sa) / w_j and reloaded
// from a checkpoint every 16 steps (w >= 0.545, so at most 1.6e4 growth of rounding).
//
// The decay is folded into per-key scales: within each 16-step checkpoint chunk, column j of dS
// is held as D = dS / σ_j and of S as Q = S σ_j, σ_j the product of w_j over the chunk's steps
// done so far (1 at the checkpoint). With σ' = σ w the next step's scale, a step is
//   row layout    D += dy r̃ᵀ, dv = D k̃, dSb = D b̃, D += dSb ãᵀ
//   column layout dr = Σ Q dy / σ, dk = σ Σ D v, db = σ Σ D sa, Q -= v k̃ + sa b̃ (the backstep),
//                 dw = Σ Q D / w, da = Σ Q dSb / σ'
// with r̃ = r / σ, k̃ = k σ, b̃ = b σ, ã = a / σ': the products of every element with w and 1/w
// become per-key coefficients that one pass a stage computes for the whole block. At each
// checkpoint D is multiplied back by the σ it had (`renorm`) and Q reloaded.
template <typename In>
struct BwdStages : Stages<In, NIn, NF> {  // bf16: `wide` holds r̃, k̃, ã, b̃ and v (fp32: `raw`)
  __align__(16) float4 scal[P][N];   // σ, 1/σ, 1/w, 1/σ' of each step and key
  __align__(16) float renorm[P][N];  // at a checkpoint step: the σ of the D coming in
  float carry[2][N];                 // σ and 1/σ after the last step prepared
  int T;

  __device__ __forceinline__ static bool checkpoint(int t, int T) { return t == T - 1 || (t + 1) % kChunk == 0; }
  // Input i of slot s where the step reads it (Stages::in), to be written: scaled for r, k, a, b.
  __device__ __forceinline__ float* slot(int st, int i, int s) {
    if constexpr (Stages<In, NIn, NF>::kWiden) return this->wide[i][s];
    else return this->raw[st][i][s];
  }

  // Steps t_hi .. t_lo (slots t - base) of buffer st, in the order the backward takes them.
  __device__ __forceinline__ void widen(int st, int t_lo, int t_hi, int base) {
    auto& raw = this->raw[st];
    auto& f = this->f[st];
    for (int idx = threadIdx.x; idx < P * N; idx += kThreads) {  // 1/w, and v as float
      const int sl = idx / N, j = idx % N;
      scal[sl][j].z = 1.f / f[FW][sl][j];
      if constexpr (Stages<In, NIn, NF>::kWiden) slot(st, IV, sl)[j] = to_float(raw[IV][sl][j]);
    }
    __syncthreads();
    if (threadIdx.x < N) {  // the scales of key j, one step after the other
      const int j = threadIdx.x;
      float sig = carry[0][j], isig = carry[1][j];
      for (int t = t_hi; t >= t_lo; --t) {
        const int sl = t - base;
        if (checkpoint(t, T)) {
          renorm[sl][j] = sig;
          sig = 1.f, isig = 1.f;
        }
        const float iwj = scal[sl][j].z, sig1 = sig * f[FW][sl][j], isig1 = isig * iwj;
        slot(st, IR, sl)[j] = to_float(raw[IR][sl][j]) * isig;
        slot(st, IK, sl)[j] = to_float(raw[IK][sl][j]) * sig;
        slot(st, IB, sl)[j] = to_float(raw[IB][sl][j]) * sig;
        slot(st, IA, sl)[j] = to_float(raw[IA][sl][j]) * isig1;
        scal[sl][j] = make_float4(sig, isig, iwj, isig1);
        sig = sig1, isig = isig1;
      }
      carry[0][j] = sig, carry[1][j] = isig;
    }
    __syncthreads();
  }
};

template <typename In>
struct BwdShared {
  BwdStages<In> stg;
  __align__(16) float dSb[2][N];
};

template <typename In>
__device__ __forceinline__ void backward_span(
    BwdShared<In>& sh, int bh, int sp, int ns, int T, int H, const In* __restrict__ r, const float* __restrict__ w,
    const In* __restrict__ k, const In* __restrict__ v, const In* __restrict__ a, const In* __restrict__ bb,
    const float* __restrict__ sT, const float* __restrict__ ckpt, const float* __restrict__ sa_in,
    const float* __restrict__ dy, const float* __restrict__ dsend, float* __restrict__ dr, float* __restrict__ dw,
    float* __restrict__ dk, float* __restrict__ dv, float* __restrict__ da, float* __restrict__ db,
    float* __restrict__ ds0) {
  const int b = bh / H, h = bh % H;
  const int row = threadIdx.x / kLanes, c = threadIdx.x % kLanes;  // row layout
  const int j = threadIdx.x / kLanes, sl = threadIdx.x % kLanes;   // column layout
  const int t_begin = sp * kSpan, t_end = min(T, t_begin + kSpan), nck = (T + kChunk - 1) / kChunk;
  auto& stg = sh.stg;
  auto& sdSb = sh.dSb;
  const In* const ins[NIn] = {r, k, a, bb, v};
  const float* const fins[NF] = {w, dy, sa_in};
  auto prefetch = [&](int buf, int t0) {
#pragma unroll
    for (int i = 0; i < NIn; ++i) stage_copy(stg.raw[buf][i], ins[i], b, h, t0, t_begin, T, H);
#pragma unroll
    for (int i = 0; i < NF; ++i) stage_copy(stg.f[buf][i], fins[i], b, h, t0, t_begin, T, H);
    __pipeline_commit();
  };
  if (threadIdx.x < N) stg.carry[0][threadIdx.x] = 1.f, stg.carry[1][threadIdx.x] = 1.f;
  if (threadIdx.x == 0) stg.T = T;  // read after walk_stages' first barrier
  const float* dse = dsend + (size_t(bh) * ns + sp) * N * N;
  float D[R], Q[R], Dc[R];
  gather_keys_cg(D, dse + row * N, c);
#pragma unroll
  for (int x = 0; x < R; ++x) Dc[x] = __ldcg(dse + (R * sl + x) * N + j);
  walk_stages<true>(stg, t_begin, t_end, prefetch, [&](int st, int s, int t) {
    const int p = t & 1;
    const bool reload = BwdStages<In>::checkpoint(t, T);
    if (reload) {  // exact state at the end of this chunk; σ restarts at 1
      const float* sp_ = (t == T - 1) ? sT + size_t(bh) * N * N
                                      : ckpt + (size_t(bh) * nck + (t + 1) / kChunk) * N * N;
#pragma unroll
      for (int x = 0; x < R; ++x) Q[x] = sp_[(R * sl + x) * N + j];
    }
    {  // row layout
      if (reload) {
        float ren[R];
        gather_keys(ren, stg.renorm[s], c);
#pragma unroll
        for (int x = 0; x < R; ++x) D[x] *= ren[x];
      }
      float rt[R], kt[R], at_[R], bt[R];
      gather_keys(rt, stg.in(st, IR, s), c);
      gather_keys(kt, stg.in(st, IK, s), c);
      gather_keys(at_, stg.in(st, IA, s), c);
      gather_keys(bt, stg.in(st, IB, s), c);
      const float dyi = stg.f[st][FDY][s][row];
      float pv[4] = {0.f, 0.f, 0.f, 0.f}, psb[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int x = 0; x < R; ++x) {
        D[x] = fmaf(dyi, rt[x], D[x]);
        pv[x & 3] += D[x] * kt[x];
        psb[x & 3] += D[x] * bt[x];
      }
      const float dvi = row_sum(sum4(pv)), dSbi = row_sum(sum4(psb));
      if (c == 0) {
        dv[at(b, t, h, row, T, H)] = dvi;
        sdSb[p][row] = dSbi;
      }
#pragma unroll
      for (int x = 0; x < R; ++x) D[x] = fmaf(dSbi, at_[x], D[x]);
    }
    // column layout
    const float rj = stg.in(st, IR, s)[j], kj = stg.in(st, IK, s)[j], aj = stg.in(st, IA, s)[j];
    const float bj = stg.in(st, IB, s)[j];
    const float4 q = stg.scal[s][j];  // σ, 1/σ, 1/w, 1/σ'
    if (reload) {
      const float ren = stg.renorm[s][j];
#pragma unroll
      for (int x = 0; x < R; ++x) Dc[x] *= ren;
    }
    float dyv[R], vv[R], sav[R];
    gather_rows(dyv, stg.f[st][FDY][s] + R * sl);
    gather_rows(vv, stg.in(st, IV, s) + R * sl);
    gather_rows(sav, stg.f[st][FSA][s] + R * sl);
    float pr = 0.f, pk = 0.f, pb = 0.f, pw = 0.f, pa = 0.f;
#pragma unroll
    for (int x = 0; x < R; ++x) {
      pr += Q[x] * dyv[x];
      Dc[x] = fmaf(dyv[x], rj, Dc[x]);
      pk += Dc[x] * vv[x];
      pb += Dc[x] * sav[x];
      Q[x] = fmaf(-sav[x], bj, fmaf(-vv[x], kj, Q[x]));  // backstep: Q of S_{t-1}
      pw += Q[x] * Dc[x];
    }
    __syncthreads();  // sdSb[p] holds every row's dSb
#pragma unroll
    for (int x = 0; x < R; ++x) {
      const float dSb = sdSb[p][R * sl + x];
      pa += Q[x] * dSb;
      Dc[x] = fmaf(dSb, aj, Dc[x]);
    }
    pr = row_sum(pr) * q.y, pk = row_sum(pk) * q.x, pb = row_sum(pb) * q.x, pw = row_sum(pw) * q.z,
    pa = row_sum(pa) * q.w;
    const size_t o = at(b, t, h, j, T, H);
    if (sl == 0) {
      dr[o] = pr;
      dw[o] = pw;
    } else if (sl == 1) {
      dk[o] = pk;
    } else if (sl == 2) {
      da[o] = pa;
    } else {
      db[o] = pb;
    }
  });
  if (sp == 0) {
    const float sig = stg.carry[0][j];  // the scale of D after the span's first step
#pragma unroll
    for (int x = 0; x < R; ++x) ds0[size_t(bh) * N * N + (R * sl + x) * N + j] = Dc[x] * sig;
  }
}

// Tickets 0 .. BH-1 run the backward chains (dS at each span's end, from dsT); the others run
// span ns-1 - ticket / BH of head ticket % BH, the last span first.
template <typename In>
union BwdUnion {
  ChainShared chain;
  BwdShared<In> span;
};

template <typename In>
__global__ void __launch_bounds__(kThreads, 2) backward_fused(BwdArgs<In> p, int* sync) {
  __shared__ BwdUnion<In> sh;
  const int ticket = take_ticket(sync), ns = p.ns, BH = p.BH;
  int* flags = sync + 1;
  if (ticket < BH) {
    const int bh = ticket;
    run_chain(sh.chain, bh, ns, true, 1, p.dsT, p.G, p.E, p.dsend, ns, 1, nullptr,
              [&](int c) { release(flags + bh * ns + c); });
    return;
  }
  const int t = ticket - BH, sp = ns - 1 - t / BH, bh = t % BH;
  acquire(flags + bh * ns + sp);
  backward_span<In>(sh.span, bh, sp, ns, p.T, p.H, p.r, p.w, p.k, p.v, p.a, p.b, p.sT, p.ckpt, p.sa, p.dy, p.dsend,
                    p.dr, p.dw, p.dk, p.dv, p.da, p.db, p.ds0);
}

}  // namespace

template <typename In>
void launch_backward_fused(const BwdArgs<In>& p, int* sync, cudaStream_t stream) {
  cudaMemsetAsync(sync, 0, sizeof(int) * (1 + size_t(p.BH) * p.ns), stream);
  backward_fused<In><<<p.BH + p.BH * p.ns, kThreads, 0, stream>>>(p, sync);
}

template void launch_backward_fused<float>(const BwdArgs<float>&, int*, cudaStream_t);
template void launch_backward_fused<__nv_bfloat16>(const BwdArgs<__nv_bfloat16>&, int*, cudaStream_t);

}  // namespace rwkv::cuda::wkv
