// mid_forward / mid_backward and post_forward / post_backward (tune_kernels.h): one warp per
// (row, head), lane l owning the head's channels 2l and 2l+1, so every per-head sum (the norm
// of kk, GroupNorm's moments, the bonus dot product) is one warp reduction.
#include "tune_common.cuh"

namespace rwkv::cuda {
namespace tune {
namespace {

constexpr float kDecayScale = 0.6065306597126334f;  // e^-0.5

__device__ __forceinline__ float sig(float x) { return 1.f / (1.f + expf(-x)); }

// Where the calling warp works: row m, head h; o = the offset of its lane's first channel in a
// [M,C] tensor, c = that channel. False for warps past the end.
__device__ __forceinline__ bool place(int M, int C, size_t& o, int& c) {
  const int H = C / N, gw = warp_id();
  if (gw >= M * H) return false;
  c = (gw % H) * N + 2 * lane_id();
  o = size_t(gw / H) * C + c;
  return true;
}

// The forward quantities of mid_forward at two channels, from the projections.
struct Mid {
  float2 k, kk, a, km, sw, w, v, vf, gt, vm;
  float inv_norm;  // 1 / max(|k k_k|, 1e-12)
  bool clamped;    // |k k_k| < 1e-12
};

__device__ __forceinline__ Mid mid_values(size_t o, int c, const bf16* k, const bf16* v, const bf16* wl,
                                          const bf16* al, const bf16* vl, const bf16* vfirst, const MidParams& p) {
  Mid q;
  q.k = ld2(k + o);
  const float2 kkk = ld2(p.k_k + c), ka = ld2(p.k_a + c);
  const float kr0 = q.k.x * kkk.x, kr1 = q.k.y * kkk.y;
  const float norm = sqrtf(warp_sum(kr0 * kr0 + kr1 * kr1));
  q.clamped = norm < 1e-12f;
  q.inv_norm = 1.f / fmaxf(norm, 1e-12f);
  q.kk = make_float2(kr0 * q.inv_norm, kr1 * q.inv_norm);
  const float2 a0 = ld2(p.a0 + c), alv = ld2(al + o);
  q.a = make_float2(sig(a0.x + alv.x), sig(a0.y + alv.y));
  q.km = make_float2(q.k.x * (1.f + (q.a.x - 1.f) * ka.x), q.k.y * (1.f + (q.a.y - 1.f) * ka.y));
  const float2 w0 = ld2(p.w0 + c), wlv = ld2(wl + o);
  q.sw = make_float2(sig(w0.x + wlv.x), sig(w0.y + wlv.y));
  q.w = make_float2(expf(-kDecayScale * q.sw.x), expf(-kDecayScale * q.sw.y));
  q.v = ld2(v + o);
  if (vl) {
    const float2 v0 = ld2(p.v0 + c), vlv = ld2(vl + o);
    q.vf = ld2(vfirst + o);
    q.gt = make_float2(sig(v0.x + vlv.x), sig(v0.y + vlv.y));
    q.vm = make_float2(q.v.x + (q.vf.x - q.v.x) * q.gt.x, q.v.y + (q.vf.y - q.v.y) * q.gt.y);
  } else {
    q.vm = q.v;
  }
  return q;
}

__global__ void __launch_bounds__(kBlock) mid_fwd(int M, int C, const bf16* __restrict__ k, const bf16* __restrict__ v,
                                                  const bf16* __restrict__ wl, const bf16* __restrict__ al,
                                                  const bf16* __restrict__ vl, const bf16* __restrict__ vfirst,
                                                  MidParams p, float* __restrict__ w, bf16* __restrict__ km,
                                                  bf16* __restrict__ vm, bf16* __restrict__ aa, bf16* __restrict__ bb) {
  size_t o;
  int c;
  if (!place(M, C, o, c)) return;
  const Mid q = mid_values(o, c, k, v, wl, al, vl, vfirst, p);
  st2(w + o, q.w.x, q.w.y);
  st2(km + o, q.km.x, q.km.y);
  st2(vm + o, q.vm.x, q.vm.y);
  st2(aa + o, -q.kk.x, -q.kk.y);
  st2(bb + o, q.kk.x * q.a.x, q.kk.y * q.a.y);
}

__global__ void __launch_bounds__(kBlock) mid_bwd(int M, int C, const bf16* __restrict__ k, const bf16* __restrict__ v,
                                                  const bf16* __restrict__ wl, const bf16* __restrict__ al,
                                                  const bf16* __restrict__ vl, const bf16* __restrict__ vfirst,
                                                  MidParams p, MidGrads g, float* __restrict__ dvfirst,
                                                  bf16* __restrict__ dr, bf16* __restrict__ dk, bf16* __restrict__ dv,
                                                  bf16* __restrict__ dwl, bf16* __restrict__ dal,
                                                  bf16* __restrict__ dvl) {
  size_t o;
  int c;
  if (!place(M, C, o, c)) return;
  const Mid q = mid_values(o, c, k, v, wl, al, vl, vfirst, p);
  const float2 drv = ld2(g.dr_w + o) + ld2(g.dr_b + o);
  st2(dr + o, drv.x, drv.y);
  const float2 dkm = ld2(g.dkm_w + o) + ld2(g.dkm_b + o), dvm = ld2(g.dvm_w + o) + ld2(g.dvm_b + o);
  const float2 daa = ld2(g.daa + o), dbb = ld2(g.dbb + o), dw = ld2(g.dw + o);
  const float2 ka = ld2(p.k_a + c), kkk = ld2(p.k_k + c);
  // aa = -kk, bb = kk a
  const float dkk0 = -daa.x + dbb.x * q.a.x, dkk1 = -daa.y + dbb.y * q.a.y;
  // km = k (1 + (a-1) k_a)
  const float da0 = dbb.x * q.kk.x + dkm.x * q.k.x * ka.x, da1 = dbb.y * q.kk.y + dkm.y * q.k.y * ka.y;
  float dk0 = dkm.x * (1.f + (q.a.x - 1.f) * ka.x), dk1 = dkm.y * (1.f + (q.a.y - 1.f) * ka.y);
  // kk = kr / max(|kr|, eps), kr = k k_k
  const float proj = q.clamped ? 0.f : warp_sum(q.kk.x * dkk0 + q.kk.y * dkk1);
  dk0 += (dkk0 - q.kk.x * proj) * q.inv_norm * kkk.x, dk1 += (dkk1 - q.kk.y * proj) * q.inv_norm * kkk.y;
  st2(dk + o, dk0, dk1);
  st2(dal + o, da0 * q.a.x * (1.f - q.a.x), da1 * q.a.y * (1.f - q.a.y));
  // w = exp(-e^-0.5 sw), sw = σ(w0 + wl)
  st2(dwl + o, dw.x * q.w.x * -kDecayScale * q.sw.x * (1.f - q.sw.x),
      dw.y * q.w.y * -kDecayScale * q.sw.y * (1.f - q.sw.y));
  const float2 dvf = ld2(dvfirst + o);
  if (vl) {  // vm = v + (vfirst - v) gt
    st2(dv + o, dvm.x * (1.f - q.gt.x), dvm.y * (1.f - q.gt.y));
    st2(dvfirst + o, dvf.x + dvm.x * q.gt.x, dvf.y + dvm.y * q.gt.y);
    st2(dvl + o, dvm.x * (q.vf.x - q.v.x) * q.gt.x * (1.f - q.gt.x),
        dvm.y * (q.vf.y - q.v.y) * q.gt.y * (1.f - q.gt.y));
  } else {  // layer 0: vm = v = vfirst
    st2(dv + o, dvm.x + dvf.x, dvm.y + dvf.y);
  }
}

// GroupNorm of the head and the bonus scalar s = Σ_j r_j km_j r_k[h][j], at two channels.
struct Post {
  float2 yn, t;  // normalised y; t = yo + s vm
  float rstd, s;
};

__device__ __forceinline__ Post post_values(size_t o, int c, const float* y, const bf16* r, const bf16* km,
                                            const bf16* vm, const PostParams& p) {
  Post q;
  const float2 yv = ld2(y + o);
  const float mean = warp_sum(yv.x + yv.y) / N;
  const float d0 = yv.x - mean, d1 = yv.y - mean;
  q.rstd = rsqrtf(warp_sum(d0 * d0 + d1 * d1) / N + 64e-5f);
  q.yn = make_float2(d0 * q.rstd, d1 * q.rstd);
  const float2 rv = ld2(r + o), kv = ld2(km + o), rk = ld2(p.r_k + c), vv = ld2(vm + o);
  q.s = warp_sum(rv.x * kv.x * rk.x + rv.y * kv.y * rk.y);
  const float2 lw = ld2(p.lnx_w + c), lb = ld2(p.lnx_b + c);
  q.t = make_float2(q.yn.x * lw.x + lb.x + q.s * vv.x, q.yn.y * lw.y + lb.y + q.s * vv.y);
  return q;
}

__global__ void __launch_bounds__(kBlock) post_fwd(int M, int C, const float* __restrict__ y,
                                                   const bf16* __restrict__ r, const bf16* __restrict__ km,
                                                   const bf16* __restrict__ vm, const bf16* __restrict__ g,
                                                   PostParams p, bf16* __restrict__ z) {
  size_t o;
  int c;
  if (!place(M, C, o, c)) return;
  const Post q = post_values(o, c, y, r, km, vm, p);
  const float2 gv = ld2(g + o);
  st2(z + o, q.t.x * gv.x, q.t.y * gv.y);
}

__global__ void __launch_bounds__(kBlock) post_bwd(int M, int C, const bf16* __restrict__ dz,
                                                   const float* __restrict__ y, const bf16* __restrict__ r,
                                                   const bf16* __restrict__ km, const bf16* __restrict__ vm,
                                                   const bf16* __restrict__ g, PostParams p, float* __restrict__ dy,
                                                   bf16* __restrict__ dg, float* __restrict__ dr_b,
                                                   float* __restrict__ dkm_b, float* __restrict__ dvm_b) {
  size_t o;
  int c;
  if (!place(M, C, o, c)) return;
  const Post q = post_values(o, c, y, r, km, vm, p);
  const float2 dzv = ld2(dz + o), gv = ld2(g + o), vv = ld2(vm + o), rv = ld2(r + o), kv = ld2(km + o);
  const float2 rk = ld2(p.r_k + c), lw = ld2(p.lnx_w + c);
  st2(dg + o, dzv.x * q.t.x, dzv.y * q.t.y);  // z = t g
  const float dt0 = dzv.x * gv.x, dt1 = dzv.y * gv.y;
  st2(dvm_b + o, dt0 * q.s, dt1 * q.s);  // t = yo + s vm
  const float ds = warp_sum(dt0 * vv.x + dt1 * vv.y);
  st2(dr_b + o, ds * kv.x * rk.x, ds * kv.y * rk.y);
  st2(dkm_b + o, ds * rv.x * rk.x, ds * rv.y * rk.y);
  const float dn0 = dt0 * lw.x, dn1 = dt1 * lw.y;  // yo = yn lnx_w + lnx_b
  const float mdn = warp_sum(dn0 + dn1) / N, mdny = warp_sum(dn0 * q.yn.x + dn1 * q.yn.y) / N;
  st2(dy + o, q.rstd * (dn0 - mdn - q.yn.x * mdny), q.rstd * (dn1 - mdn - q.yn.y * mdny));
}

}  // namespace
}  // namespace tune

using tune::blocks_for_warps;
using tune::kBlock;

void mid_forward(int M, int C, const bf16* k, const bf16* v, const bf16* wl, const bf16* al, const bf16* vl,
                 const bf16* vfirst, MidParams p, float* w, bf16* km, bf16* vm, bf16* aa, bf16* bb,
                 cudaStream_t stream) {
  tune::mid_fwd<<<blocks_for_warps(size_t(M) * (C / tune::N)), kBlock, 0, stream>>>(M, C, k, v, wl, al, vl, vfirst,
                                                                                    p, w, km, vm, aa, bb);
}

void mid_backward(int M, int C, const bf16* k, const bf16* v, const bf16* wl, const bf16* al, const bf16* vl,
                  const bf16* vfirst, MidParams p, MidGrads g, float* dvfirst, bf16* dr, bf16* dk, bf16* dv,
                  bf16* dwl, bf16* dal, bf16* dvl, cudaStream_t stream) {
  tune::mid_bwd<<<blocks_for_warps(size_t(M) * (C / tune::N)), kBlock, 0, stream>>>(
      M, C, k, v, wl, al, vl, vfirst, p, g, dvfirst, dr, dk, dv, dwl, dal, dvl);
}

void post_forward(int M, int C, const float* y, const bf16* r, const bf16* km, const bf16* vm, const bf16* g,
                  PostParams p, bf16* z, cudaStream_t stream) {
  tune::post_fwd<<<blocks_for_warps(size_t(M) * (C / tune::N)), kBlock, 0, stream>>>(M, C, y, r, km, vm, g, p, z);
}

void post_backward(int M, int C, const bf16* dz, const float* y, const bf16* r, const bf16* km, const bf16* vm,
                   const bf16* g, PostParams p, float* dy, bf16* dg, float* dr_b, float* dkm_b, float* dvm_b,
                   cudaStream_t stream) {
  tune::post_bwd<<<blocks_for_warps(size_t(M) * (C / tune::N)), kBlock, 0, stream>>>(M, C, dz, y, r, km, vm, g, p,
                                                                                     dy, dg, dr_b, dkm_b, dvm_b);
}

}  // namespace rwkv::cuda
