// norm_mix_forward / norm_mix_backward (tune_kernels.h): one warp per row, lane l owning the
// channel pairs 2l + 64i. Row statistics take two passes (mean, then squared deviations). The
// previous token's LayerNorm is recomputed by the warp that needs it rather than exchanged (in
// the register version for the model widths in use, a warp's rows follow each other and pass it
// on). The backward holds the row in registers for the model widths in use.
#include "tune_common.cuh"

namespace rwkv::cuda {
namespace tune {
namespace {

struct Stats {
  float mean, rstd;
};

// Channels c, c+1 of x = x_in + add (add may be null) at row offset o.
__device__ __forceinline__ float2 x_at(const float* x_in, const bf16* add, size_t o) {
  const float2 x = ld2(x_in + o);
  return add ? x + ld2(add + o) : x;
}

__device__ Stats row_stats(const float* x_in, const bf16* add, size_t row, int C) {
  float s = 0.f;
  for (int c = 2 * lane_id(); c < C; c += 64) {
    const float2 x = x_at(x_in, add, row + c);
    s += x.x + x.y;
  }
  const float mean = warp_sum(s) / C;
  float q = 0.f;
  for (int c = 2 * lane_id(); c < C; c += 64) {
    const float2 x = x_at(x_in, add, row + c);
    const float d0 = x.x - mean, d1 = x.y - mean;
    q += d0 * d0 + d1 * d1;
  }
  return {mean, rsqrtf(warp_sum(q) / C + 1e-5f)};
}

__global__ void __launch_bounds__(kBlock) norm_mix_fwd(int M, int T, int C, const float* __restrict__ x_in,
                                                       const bf16* __restrict__ add, const float* __restrict__ ln_w,
                                                       const float* __restrict__ ln_b, const float* __restrict__ mu,
                                                       int n_mix, float* __restrict__ x_out, MixOuts outs) {
  const int m = warp_id();
  if (m >= M) return;
  const bool has_prev = m % T != 0;
  const size_t o = size_t(m) * C, op = o - C;
  const Stats s = row_stats(x_in, add, o, C);
  const Stats sp = has_prev ? row_stats(x_in, add, op, C) : Stats{0.f, 0.f};
  for (int c = 2 * lane_id(); c < C; c += 64) {
    const float2 x = x_at(x_in, add, o + c), w = ld2(ln_w + c), b = ld2(ln_b + c);
    if (add && x_out) st2(x_out + o + c, x.x, x.y);
    const float a0 = (x.x - s.mean) * s.rstd * w.x + b.x, a1 = (x.y - s.mean) * s.rstd * w.y + b.y;
    float p0 = 0.f, p1 = 0.f;
    if (has_prev) {
      const float2 xp = x_at(x_in, add, op + c);
      p0 = (xp.x - sp.mean) * sp.rstd * w.x + b.x, p1 = (xp.y - sp.mean) * sp.rstd * w.y + b.y;
    }
#pragma unroll
    for (int l = 0; l < kMaxMix; ++l)
      if (l < n_mix) {
        const float2 u = ld2(mu + size_t(l) * C + c);
        st2(outs.p[l] + o + c, a0 + (p0 - a0) * u.x, a1 + (p1 - a1) * u.y);
      }
  }
}

// d xa at channels c, c+1 of row offset o: Σ_l dout_l (1 - mu_l) + dout_l of the next row mu_l.
__device__ __forceinline__ float2 mix_grad(const MixGrads& d, const float* __restrict__ mu, int n_mix, int C,
                                           size_t o, int c, bool has_next) {
  float d0 = 0.f, d1 = 0.f;
#pragma unroll
  for (int l = 0; l < kMaxMix; ++l)
    if (l < n_mix) {
      const float2 u = ld2(mu + size_t(l) * C + c), here = ld2(d.p[l] + o + c);
      d0 += here.x * (1.f - u.x), d1 += here.y * (1.f - u.y);
      if (has_next) {
        const float2 next = ld2(d.p[l] + o + C + c);
        d0 += next.x * u.x, d1 += next.y * u.y;
      }
    }
  return make_float2(d0, d1);
}

// LayerNorm's backward at channels c, c+1 from g = (d xa) ln_w, the normalised input xh and the
// row means of g and g xh, plus dres; written to dx and (if not null) dx_bf.
__device__ __forceinline__ void store_dx(float rstd, float2 g, float2 xh, float mg, float mgx,
                                         const float* __restrict__ dres, size_t at, float* __restrict__ dx,
                                         bf16* __restrict__ dx_bf) {
  float r0 = rstd * (g.x - mg - xh.x * mgx), r1 = rstd * (g.y - mg - xh.y * mgx);
  if (dres) {
    const float2 dr = ld2(dres + at);
    r0 += dr.x, r1 += dr.y;
  }
  st2(dx + at, r0, r1);
  if (dx_bf) st2(dx_bf + at, r0, r1);
}

__global__ void __launch_bounds__(kBlock) norm_mix_bwd(int M, int T, int C, const float* __restrict__ x,
                                                       const float* __restrict__ ln_w, const float* __restrict__ mu,
                                                       int n_mix, MixGrads d, const float* __restrict__ dres,
                                                       float* __restrict__ dx, bf16* __restrict__ dx_bf) {
  const int m = warp_id();
  if (m >= M) return;
  const bool has_next = m % T != T - 1;
  const size_t o = size_t(m) * C;
  const Stats s = row_stats(x, nullptr, o, C);
  // g = (d xa) ln_w and the normalised input xh at channels c, c+1.
  auto g_at = [&](int c, float2& g, float2& xh) {
    const float2 dxa = mix_grad(d, mu, n_mix, C, o, c, has_next), w = ld2(ln_w + c), xv = ld2(x + o + c);
    g = make_float2(dxa.x * w.x, dxa.y * w.y);
    xh = make_float2((xv.x - s.mean) * s.rstd, (xv.y - s.mean) * s.rstd);
  };
  float sg = 0.f, sgx = 0.f;
  for (int c = 2 * lane_id(); c < C; c += 64) {
    float2 g, xh;
    g_at(c, g, xh);
    sg += g.x + g.y, sgx += g.x * xh.x + g.y * xh.y;
  }
  const float mg = warp_sum(sg) / C, mgx = warp_sum(sgx) / C;
  for (int c = 2 * lane_id(); c < C; c += 64) {
    float2 g, xh;
    g_at(c, g, xh);
    store_dx(s.rstd, g, xh, mg, mgx, dres, o + c, dx, dx_bf);
  }
}

// norm_mix_bwd for rows of exactly 64 PAIRS channels, held in registers: every input is read
// once (the version above re-reads twelve rows per pass). Lane l owns the pairs 2l + 64i.
template <int PAIRS>
__device__ __forceinline__ Stats reg_stats(const float2 (&x)[PAIRS], int C) {
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) s += x[i].x + x[i].y;
  const float mean = warp_sum(s) / C;
  float q = 0.f;
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) {
    const float d0 = x[i].x - mean, d1 = x[i].y - mean;
    q += d0 * d0 + d1 * d1;
  }
  return {mean, rsqrtf(warp_sum(q) / C + 1e-5f)};
}

template <int PAIRS>
__global__ void __launch_bounds__(kBlock, 2) norm_mix_bwd_regs(int M, int T, const float* __restrict__ x,
                                                            const float* __restrict__ ln_w,
                                                            const float* __restrict__ mu, int n_mix, MixGrads d,
                                                            const float* __restrict__ dres, float* __restrict__ dx,
                                                            bf16* __restrict__ dx_bf) {
  constexpr int C = 64 * PAIRS;
  const int m = warp_id(), c0 = 2 * lane_id();
  if (m >= M) return;
  const bool has_next = m % T != T - 1;
  const size_t o = size_t(m) * C;
  float2 xh[PAIRS], g[PAIRS];
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) xh[i] = ld2(x + o + c0 + 64 * i);
  const Stats s = reg_stats(xh, C);
  float sg = 0.f, sgx = 0.f;
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) {
    const int c = c0 + 64 * i;
    const float2 dxa = mix_grad(d, mu, n_mix, C, o, c, has_next), w = ld2(ln_w + c);
    xh[i] = make_float2((xh[i].x - s.mean) * s.rstd, (xh[i].y - s.mean) * s.rstd);
    g[i] = make_float2(dxa.x * w.x, dxa.y * w.y);
    sg += g[i].x + g[i].y, sgx += g[i].x * xh[i].x + g[i].y * xh[i].y;
  }
  const float mg = warp_sum(sg) / C, mgx = warp_sum(sgx) / C;
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) store_dx(s.rstd, g[i], xh[i], mg, mgx, dres, o + c0 + 64 * i, dx, dx_bf);
}

// norm_mix_fwd for rows of exactly 64 PAIRS channels in registers, K consecutive rows a warp:
// each row is read once, and its LayerNorm output is the next row's previous-token input.
template <int PAIRS>
__device__ __forceinline__ void layer_norm_regs(float2 (&x)[PAIRS], const float* __restrict__ ln_w,
                                                const float* __restrict__ ln_b, int c0) {
  const Stats s = reg_stats(x, 64 * PAIRS);
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) {
    const float2 w = ld2(ln_w + c0 + 64 * i), b = ld2(ln_b + c0 + 64 * i);
    x[i] = make_float2((x[i].x - s.mean) * s.rstd * w.x + b.x, (x[i].y - s.mean) * s.rstd * w.y + b.y);
  }
}

template <int PAIRS, int K>
__global__ void __launch_bounds__(kBlock, 2) norm_mix_fwd_regs(int M, int T, const float* __restrict__ x_in,
                                                            const bf16* __restrict__ add,
                                                            const float* __restrict__ ln_w,
                                                            const float* __restrict__ ln_b,
                                                            const float* __restrict__ mu, int n_mix,
                                                            float* __restrict__ x_out, MixOuts outs) {
  constexpr int C = 64 * PAIRS;
  const int m0 = warp_id() * K, c0 = 2 * lane_id();
  if (m0 >= M) return;
  float2 prev[PAIRS];  // xa of the row before (0 before a sequence's first token)
#pragma unroll
  for (int i = 0; i < PAIRS; ++i) prev[i] = make_float2(0.f, 0.f);
  if (m0 % T != 0) {
#pragma unroll
    for (int i = 0; i < PAIRS; ++i) prev[i] = x_at(x_in, add, size_t(m0 - 1) * C + c0 + 64 * i);
    layer_norm_regs(prev, ln_w, ln_b, c0);
  }
  for (int q = 0; q < K && m0 + q < M; ++q) {
    const int m = m0 + q;
    const size_t o = size_t(m) * C + c0;
    if (q > 0 && m % T == 0)
#pragma unroll
      for (int i = 0; i < PAIRS; ++i) prev[i] = make_float2(0.f, 0.f);
    float2 x[PAIRS];
#pragma unroll
    for (int i = 0; i < PAIRS; ++i) x[i] = x_at(x_in, add, o + 64 * i);
    if (add && x_out)
#pragma unroll
      for (int i = 0; i < PAIRS; ++i) st2(x_out + o + 64 * i, x[i].x, x[i].y);
    layer_norm_regs(x, ln_w, ln_b, c0);
#pragma unroll
    for (int i = 0; i < PAIRS; ++i) {
#pragma unroll
      for (int l = 0; l < kMaxMix; ++l)
        if (l < n_mix) {
          const float2 u = ld2(mu + size_t(l) * C + c0 + 64 * i);
          st2(outs.p[l] + o + 64 * i, x[i].x + (prev[i].x - x[i].x) * u.x, x[i].y + (prev[i].y - x[i].y) * u.y);
        }
      prev[i] = x[i];
    }
  }
}

// Four rows a warp once there are enough rows to fill the GPU that way; one row a warp below.
template <int PAIRS>
void launch_fwd_regs(int M, int T, const float* x_in, const bf16* add, const float* ln_w, const float* ln_b,
                     const float* mu, int n_mix, float* x_out, MixOuts outs, cudaStream_t stream) {
  if (M >= 8192)
    norm_mix_fwd_regs<PAIRS, 4><<<blocks_for_warps((M + 3) / 4), kBlock, 0, stream>>>(M, T, x_in, add, ln_w, ln_b,
                                                                                       mu, n_mix, x_out, outs);
  else
    norm_mix_fwd_regs<PAIRS, 1><<<blocks_for_warps(M), kBlock, 0, stream>>>(M, T, x_in, add, ln_w, ln_b, mu, n_mix,
                                                                            x_out, outs);
}

template <int PAIRS>
void launch_bwd_regs(unsigned blocks, int M, int T, const float* x, const float* ln_w, const float* mu, int n_mix,
                     MixGrads d, const float* dres, float* dx, bf16* dx_bf, cudaStream_t stream) {
  norm_mix_bwd_regs<PAIRS><<<blocks, kBlock, 0, stream>>>(M, T, x, ln_w, mu, n_mix, d, dres, dx, dx_bf);
}

}  // namespace
}  // namespace tune

void norm_mix_forward(int M, int T, int C, const float* x_in, const bf16* add, const float* ln_w, const float* ln_b,
                      const float* mu, int n_mix, float* x_out, MixOuts outs, cudaStream_t stream) {
  switch (C) {  // register rows for the widths of the benchmark's shapes (the backward's also 192, 384)
    case 768: return tune::launch_fwd_regs<12>(M, T, x_in, add, ln_w, ln_b, mu, n_mix, x_out, outs, stream);
    case 1024: return tune::launch_fwd_regs<16>(M, T, x_in, add, ln_w, ln_b, mu, n_mix, x_out, outs, stream);
    default:
      tune::norm_mix_fwd<<<tune::blocks_for_warps(M), tune::kBlock, 0, stream>>>(M, T, C, x_in, add, ln_w, ln_b, mu,
                                                                                n_mix, x_out, outs);
  }
}

void norm_mix_backward(int M, int T, int C, const float* x, const float* ln_w, const float* mu, int n_mix,
                       MixGrads douts, const float* dres, float* dx, bf16* dx_bf, cudaStream_t stream) {
  const unsigned blocks = tune::blocks_for_warps(M);
  // register rows up to 1024 channels: wider ones would need more than the 128 registers that
  // keep two blocks an SM
  switch (C) {
    case 192: return tune::launch_bwd_regs<3>(blocks, M, T, x, ln_w, mu, n_mix, douts, dres, dx, dx_bf, stream);
    case 384: return tune::launch_bwd_regs<6>(blocks, M, T, x, ln_w, mu, n_mix, douts, dres, dx, dx_bf, stream);
    case 768: return tune::launch_bwd_regs<12>(blocks, M, T, x, ln_w, mu, n_mix, douts, dres, dx, dx_bf, stream);
    case 1024: return tune::launch_bwd_regs<16>(blocks, M, T, x, ln_w, mu, n_mix, douts, dres, dx, dx_bf, stream);
    default:
      tune::norm_mix_bwd<<<blocks, tune::kBlock, 0, stream>>>(M, T, C, x, ln_w, mu, n_mix, douts, dres, dx, dx_bf);
  }
}

}  // namespace rwkv::cuda
