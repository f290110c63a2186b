// The forward's last step of the wkv7 span algorithm (wkv7_kernels.h): once a span's start state
// S_c is known, every output of the span is a small matrix product with what the transition kept
// (wkv7_spans.cu):
//   y_t  = S_c QG_t + QD_t,  sa_t = S_c AG_t + AD_t   (t in the span: a 64 x 64 x 64 product each)
//   the checkpoint after 16, 32, 48 steps = S_c GS_q + DS_q,   and for the last span sT = S_c G + D.
// One launch holds the chain of every head (S_{c+1} = S_c G_c + D_c) and one block per span that
// starts as soon as its S_c is published (wkv7_chain.cuh).
#include "wkv7_chain.cuh"

namespace rwkv::cuda {
namespace wkv {
namespace {

// S_c M + A for N x N row-major M (X[m][j] = M[m][j]) and A, written to out (row-major).
__device__ __forceinline__ void state_product(ChainShared& sh, const float* M, const float* A, float* out) {
  const int i0 = tile_i0(), j0 = tile_j0();
  float x[16], acc[4][4];
  load_tile(M, x);
  store_tile(sh.X, x, false);
#pragma unroll
  for (int i = 0; i < 4; ++i) load4(A + (i0 + i) * N + j0, acc[i]);
  product(sh, acc);
#pragma unroll
  for (int i = 0; i < 4; ++i)
    *reinterpret_cast<float4*>(out + (i0 + i) * N + j0) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
}

// out_t = S_c Q_t + A_t for the span's steps t = t_begin + j (j < n_t), Q and A [B,T,H,N]:
// X[m][j] = Q_{t_begin+j}[m] (0 past the span's end), out[t][i] at tile (i, j).
__device__ __forceinline__ void step_product(ChainShared& sh, const float* Q, const float* A, float* out, int b,
                                             int h, int t_begin, int n_t, int T, int H) {
  const int i0 = tile_i0(), j0 = tile_j0();
  {
    const int j = threadIdx.x / 4, m0 = 16 * (threadIdx.x % 4);  // load layout: step j, 16 of its entries
    float x[16];
    if (j < n_t) {
      const float* q = Q + at(b, t_begin + j, h, m0, T, H);
#pragma unroll
      for (int e = 0; e < 4; ++e) load4(q + 4 * e, x + 4 * e);
    } else {
#pragma unroll
      for (int e = 0; e < 16; ++e) x[e] = 0.f;
    }
#pragma unroll
    for (int e = 0; e < 16; ++e) sh.X[m0 + e][j] = x[e];
  }
  float acc[4][4];  // acc[i][jj]: row i0+i, step j0+jj
#pragma unroll
  for (int jj = 0; jj < 4; ++jj) {
    float a4[4] = {0.f, 0.f, 0.f, 0.f};
    if (j0 + jj < n_t) load4(A + at(b, t_begin + j0 + jj, h, i0, T, H), a4);
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[i][jj] = a4[i];
  }
  product(sh, acc);
#pragma unroll
  for (int jj = 0; jj < 4; ++jj)
    if (j0 + jj < n_t)
      *reinterpret_cast<float4*>(out + at(b, t_begin + j0 + jj, h, i0, T, H)) =
          make_float4(acc[0][jj], acc[1][jj], acc[2][jj], acc[3][jj]);
}

__global__ void __launch_bounds__(kThreads, 3) forward_apply(ApplyArgs p, int* sync) {
  __shared__ ChainShared sh;
  const int ticket = take_ticket(sync), ns = p.ns, BH = p.BH;
  int* flags = sync + 1;
  if (ticket < p.n_chain) {
    const int bh = ticket;
    run_chain(sh, bh, ns, false, 0, p.s0, p.G, p.D, p.starts, p.starts_per_bh, p.start_step, nullptr,
              [&](int c) { release(flags + bh * ns + c); });
    return;
  }
  const int t = ticket - p.n_chain, sp = t / BH, bh = t % BH, b = bh / p.H, h = bh % p.H;
  const int t_begin = sp * kSpan, n_t = min(kSpan, p.T - t_begin);
  if (sp > 0) acquire(flags + bh * ns + sp);
  const float* start = sp == 0 ? p.s0 + size_t(bh) * kMat
                               : p.starts + (size_t(bh) * p.starts_per_bh + size_t(sp) * p.start_step) * kMat;
  {  // St = S_c transposed, read past L1 (the chain of this launch wrote it)
    const float* q = start + (threadIdx.x / 4) * N + 16 * (threadIdx.x % 4);
    float x[16];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float4 f = __ldcg(reinterpret_cast<const float4*>(q + 4 * e));
      x[4 * e] = f.x, x[4 * e + 1] = f.y, x[4 * e + 2] = f.z, x[4 * e + 3] = f.w;
    }
    store_tile(sh.St, x, true);
    if (sp == 0 && p.ckpt) {  // ckpt[0] = s0
      float* o = p.ckpt + size_t(bh) * p.starts_per_bh * kMat + (threadIdx.x / 4) * N + 16 * (threadIdx.x % 4);
#pragma unroll
      for (int e = 0; e < 4; ++e)
        *reinterpret_cast<float4*>(o + 4 * e) = make_float4(x[4 * e], x[4 * e + 1], x[4 * e + 2], x[4 * e + 3]);
    }
  }
  step_product(sh, p.QG, p.QD, p.y, b, h, t_begin, n_t, p.T, p.H);
  if (p.sa) step_product(sh, p.AG, p.AD, p.sa, b, h, t_begin, n_t, p.T, p.H);
  if (p.ckpt)
    for (int q = 0; q < 3 && kChunk * (q + 1) < n_t; ++q) {
      const size_t o = ((size_t(bh) * ns + sp) * 3 + q) * kMat;
      state_product(sh, p.GS + o, p.DS + o,
                    p.ckpt + (size_t(bh) * p.starts_per_bh + t_begin / kChunk + q + 1) * kMat);
    }
  if (t_begin + n_t == p.T) {
    const size_t o = (size_t(bh) * ns + sp) * kMat;
    state_product(sh, p.G + o, p.D + o, p.sT + size_t(bh) * kMat);
  }
}

}  // namespace

void launch_forward_apply(const ApplyArgs& p, int* sync, cudaStream_t stream) {
  cudaMemsetAsync(sync, 0, sizeof(int) * (1 + size_t(p.BH) * p.ns), stream);
  forward_apply<<<p.n_chain + p.BH * p.ns, kThreads, 0, stream>>>(p, sync);
}

}  // namespace wkv
}  // namespace rwkv::cuda
