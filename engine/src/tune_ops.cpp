// tune_ops.h: each op as plain torch (the reference) and as a launch of its CUDA kernel.
#include "tune_ops.h"

#include <cmath>

#include "rwkv/error.h"
#include "wkv7.h"

#ifdef RWKV_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>

#include "tune_kernels.h"
#include "wkv7_kernels.h"
#endif

namespace rwkv::tune_ops {
namespace {

constexpr int64_t kN = 64;
constexpr int64_t kChunk = 16;  // the reference recurrence's checkpoint interval
const double kDecayScale = std::exp(-0.5);

Tensor f32(const Tensor& t) { return t.to(torch::kFloat32); }

// [M,C] -> [B,T,C] and back, B = M / T.
Tensor seq(const Tensor& t, int64_t T) { return t.view({t.size(0) / T, T, t.size(1)}); }

// Row t gets row t-1 of its sequence (0 at t = 0), and the reverse.
Tensor shift_down(const Tensor& x, int64_t T) {
  auto s = seq(x, T);
  return torch::cat({torch::zeros_like(s.narrow(1, 0, 1)), s.narrow(1, 0, T - 1)}, 1).view(x.sizes());
}
Tensor shift_up(const Tensor& x, int64_t T) {
  auto s = seq(x, T);
  return torch::cat({s.narrow(1, 1, T - 1), torch::zeros_like(s.narrow(1, 0, 1))}, 1).view(x.sizes());
}

// [M,C] -> [M,H,N] for per-head reductions.
Tensor heads(const Tensor& t) { return t.view({t.size(0), t.size(1) / kN, kN}); }

struct MidValues {  // the reference's forward quantities of mid(), fp32 [M,C]
  Tensor k, kk, a, km, sw, w, v, vf, gt, vm, norm;
};

MidValues mid_values(const Tensor& k, const Tensor& v, const Tensor& wl, const Tensor& al, const Tensor& vl,
                     const Tensor& vfirst, const AttWeights& p) {
  MidValues q;
  q.k = f32(k);
  const auto kr = heads(q.k * p.k_k);
  q.norm = kr.norm(2, -1, true).clamp_min(1e-12);  // [M,H,1]
  q.kk = (kr / q.norm).view(q.k.sizes());
  q.a = torch::sigmoid(p.a0 + f32(al));
  q.km = q.k * (1 + (q.a - 1) * p.k_a);
  q.sw = torch::sigmoid(p.w0 + f32(wl));
  q.w = torch::exp(-kDecayScale * q.sw);
  q.v = f32(v);
  if (vl.defined()) {
    q.vf = f32(vfirst);
    q.gt = torch::sigmoid(p.v0 + f32(vl));
    q.vm = q.v + (q.vf - q.v) * q.gt;
  } else {
    q.vm = q.v;
  }
  return q;
}

struct PostValues {
  Tensor yn, rstd, s, t;  // [M,C], [M,H,1], [M,H,1], [M,C]
};

PostValues post_values(const Tensor& y, const Tensor& r, const Tensor& km, const Tensor& vm, const AttWeights& p) {
  PostValues q;
  const auto y3 = heads(y);
  const auto mu = y3.mean(-1, true);
  q.rstd = torch::rsqrt((y3 - mu).pow(2).mean(-1, true) + 64e-5);
  q.yn = ((y3 - mu) * q.rstd).view(y.sizes());
  q.s = heads(f32(r) * f32(km) * p.r_k.reshape({-1})).sum(-1, true);
  q.t = q.yn * p.ln_x_w + p.ln_x_b + (q.s * heads(f32(vm))).view(y.sizes());
  return q;
}

#ifdef RWKV_HAVE_CUDA
using cuda::bf16;
bf16* bp(const Tensor& t) { return t.defined() ? reinterpret_cast<bf16*>(t.data_ptr()) : nullptr; }
float* fp(const Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }
cudaStream_t stream() { return at::cuda::getCurrentCUDAStream(); }
Tensor empty_like_f32(const Tensor& t) { return torch::empty(t.sizes(), t.options().dtype(torch::kFloat32)); }
cuda::MidParams mid_params(const AttWeights& p) {
  return {fp(p.w0), fp(p.a0), p.v0.defined() ? fp(p.v0) : nullptr, fp(p.k_k), fp(p.k_a)};
}
cuda::PostParams post_params(const AttWeights& p) { return {fp(p.ln_x_w), fp(p.ln_x_b), fp(p.r_k)}; }
#endif

[[noreturn, maybe_unused]] void no_kernels() {
  throw Error(ErrorKind::Argument, "tune_ops: this build has no CUDA kernels");
}

}  // namespace

bool kernels_apply(const Model::Impl& m) {
#ifdef RWKV_HAVE_CUDA
  return m.device.is_cuda() && m.dtype == torch::kBFloat16 && m.info.dims.head_size == kN &&
         m.info.dims.n_embd % kN == 0;
#else
  (void)m;
  return false;
#endif
}

NormMix norm_mix(Impl impl, const Tensor& x_in, const Tensor& add, int64_t T, const Tensor& ln_w, const Tensor& ln_b,
                 const Tensor& mu, torch::ScalarType dt) {
  NormMix out;
  const int64_t n = mu.size(0);
  if (impl == Impl::Reference) {
    out.x = add.defined() ? x_in + f32(add) : x_in;
    const auto xa = torch::layer_norm(out.x, {out.x.size(1)}, ln_w, ln_b, 1e-5);
    const auto prev = shift_down(xa, T);
    for (int64_t l = 0; l < n; ++l) out.mixes.push_back((xa + (prev - xa) * mu[l]).to(dt));
    return out;
  }
#ifdef RWKV_HAVE_CUDA
  TORCH_CHECK(n <= cuda::kMaxMix && dt == torch::kBFloat16, "norm_mix: at most 6 bf16 mixes");
  const int M = x_in.size(0), C = x_in.size(1);
  out.x = add.defined() ? torch::empty_like(x_in) : x_in;
  cuda::MixOuts o{};
  for (int64_t l = 0; l < n; ++l) {
    out.mixes.push_back(torch::empty({M, C}, x_in.options().dtype(dt)));
    o.p[l] = bp(out.mixes.back());
  }
  cuda::norm_mix_forward(M, int(T), C, fp(x_in), bp(add), fp(ln_w), fp(ln_b), fp(mu), int(n),
                         add.defined() ? fp(out.x) : nullptr, o, stream());
  return out;
#else
  no_kernels();
#endif
}

Tensor norm_mix_backward(Impl impl, const std::vector<Tensor>& dmix, const Tensor& x, int64_t T, const Tensor& ln_w,
                         const Tensor& mu, const Tensor& dres, Tensor* dx_dt) {
  const auto dt = dmix[0].scalar_type();
  if (impl == Impl::Reference) {
    Tensor here = torch::zeros_like(x), next = torch::zeros_like(x);
    for (size_t l = 0; l < dmix.size(); ++l) {
      here = here + f32(dmix[l]) * (1 - mu[l]);
      next = next + f32(dmix[l]) * mu[l];
    }
    const auto dxa = here + shift_up(next, T);
    const auto mean = x.mean(-1, true);
    const auto rstd = torch::rsqrt((x - mean).pow(2).mean(-1, true) + 1e-5);
    const auto xh = (x - mean) * rstd, g = dxa * ln_w;
    auto dx = rstd * (g - g.mean(-1, true) - xh * (g * xh).mean(-1, true));
    if (dres.defined()) dx = dx + dres;
    if (dx_dt) *dx_dt = dx.to(dt);
    return dx;
  }
#ifdef RWKV_HAVE_CUDA
  const int M = x.size(0), C = x.size(1);
  cuda::MixGrads d{};
  for (size_t l = 0; l < dmix.size(); ++l) d.p[l] = bp(dmix[l]);
  auto dx = torch::empty_like(x);
  if (dx_dt) *dx_dt = torch::empty({M, C}, x.options().dtype(dt));
  cuda::norm_mix_backward(M, int(T), C, fp(x), fp(ln_w), fp(mu), int(dmix.size()), d, fp(dres), fp(dx),
                          dx_dt ? bp(*dx_dt) : nullptr, stream());
  return dx;
#else
  no_kernels();
#endif
}

WkvIn mid(Impl impl, const Tensor& k, const Tensor& v, const Tensor& wl, const Tensor& al, const Tensor& vl,
          const Tensor& vfirst, const AttWeights& p) {
  const auto dt = k.scalar_type();
  if (impl == Impl::Reference) {
    const auto q = mid_values(k, v, wl, al, vl, vfirst, p);
    return {q.w, q.km.to(dt), q.vm.to(dt), (-q.kk).to(dt), (q.kk * q.a).to(dt)};
  }
#ifdef RWKV_HAVE_CUDA
  WkvIn o{empty_like_f32(k), torch::empty_like(k), torch::empty_like(k), torch::empty_like(k), torch::empty_like(k)};
  cuda::mid_forward(k.size(0), k.size(1), bp(k), bp(v), bp(wl), bp(al), bp(vl), bp(vfirst), mid_params(p), fp(o.w),
                    bp(o.k), bp(o.v), bp(o.a), bp(o.b), stream());
  return o;
#else
  no_kernels();
#endif
}

MidGrads mid_backward(Impl impl, const Tensor& k, const Tensor& v, const Tensor& wl, const Tensor& al,
                      const Tensor& vl, const Tensor& vfirst, const AttWeights& p, const Tensor& dr_w,
                      const Tensor& dr_b, const Tensor& dw, const Tensor& dkm_w, const Tensor& dkm_b,
                      const Tensor& dvm_w, const Tensor& dvm_b, const Tensor& daa, const Tensor& dbb,
                      Tensor& dvfirst) {
  const auto dt = k.scalar_type();
  if (impl == Impl::Reference) {
    const auto q = mid_values(k, v, wl, al, vl, vfirst, p);
    const auto dkm = dkm_w + dkm_b, dvm = dvm_w + dvm_b;
    const auto dkk = -daa + dbb * q.a;                    // a = -kk, b = kk a
    const auto da = dbb * q.kk + dkm * q.k * p.k_a;       // km = k (1 + (a-1) k_a)
    auto dk = dkm * (1 + (q.a - 1) * p.k_a);
    const auto kk3 = heads(q.kk), dkk3 = heads(dkk);      // kk = kr / max(|kr|, eps)
    const auto clamped = (q.norm <= 1e-12).to(torch::kFloat32);
    const auto proj = (kk3 * dkk3).sum(-1, true) * (1 - clamped);
    dk = dk + ((dkk3 - kk3 * proj) / q.norm).view(dk.sizes()) * p.k_k;
    MidGrads g;
    g.dr = (dr_w + dr_b).to(dt);
    g.dk = dk.to(dt);
    g.dal = (da * q.a * (1 - q.a)).to(dt);
    g.dwl = (dw * q.w * -kDecayScale * q.sw * (1 - q.sw)).to(dt);
    if (vl.defined()) {  // vm = v + (vfirst - v) gt
      g.dv = (dvm * (1 - q.gt)).to(dt);
      dvfirst.add_(dvm * q.gt);
      g.dvl = (dvm * (q.vf - q.v) * q.gt * (1 - q.gt)).to(dt);
    } else {
      g.dv = (dvm + dvfirst).to(dt);
    }
    return g;
  }
#ifdef RWKV_HAVE_CUDA
  MidGrads g{torch::empty_like(k), torch::empty_like(k), torch::empty_like(k),
             torch::empty_like(k), torch::empty_like(k), vl.defined() ? torch::empty_like(k) : Tensor()};
  const cuda::MidGrads in{fp(dr_w), fp(dr_b), fp(dw), fp(dkm_w), fp(dkm_b), fp(dvm_w), fp(dvm_b), fp(daa), fp(dbb)};
  cuda::mid_backward(k.size(0), k.size(1), bp(k), bp(v), bp(wl), bp(al), bp(vl), bp(vfirst), mid_params(p), in,
                     fp(dvfirst), bp(g.dr), bp(g.dk), bp(g.dv), bp(g.dwl), bp(g.dal), bp(g.dvl), stream());
  return g;
#else
  no_kernels();
#endif
}

Tensor post(Impl impl, const Tensor& y, const Tensor& r, const Tensor& km, const Tensor& vm, const Tensor& g,
            const AttWeights& p) {
  if (impl == Impl::Reference) return (post_values(y, r, km, vm, p).t * f32(g)).to(r.scalar_type());
#ifdef RWKV_HAVE_CUDA
  auto z = torch::empty_like(r);
  cuda::post_forward(r.size(0), r.size(1), fp(y), bp(r), bp(km), bp(vm), bp(g), post_params(p), bp(z), stream());
  return z;
#else
  no_kernels();
#endif
}

PostGrads post_backward(Impl impl, const Tensor& dz, const Tensor& y, const Tensor& r, const Tensor& km,
                        const Tensor& vm, const Tensor& g, const AttWeights& p) {
  if (impl == Impl::Reference) {
    const auto q = post_values(y, r, km, vm, p);
    const auto dzf = f32(dz), dt_ = dzf * f32(g);  // z = t g
    PostGrads o;
    o.dg = (dzf * q.t).to(r.scalar_type());
    o.dvm = (heads(dt_) * q.s).view(y.sizes());  // t = yo + s vm
    const auto ds = (heads(dt_) * heads(f32(vm))).sum(-1, true);
    const auto rk = p.r_k.reshape({-1});
    o.dr = (ds * heads(f32(km) * rk)).view(y.sizes());
    o.dkm = (ds * heads(f32(r) * rk)).view(y.sizes());
    const auto dn = heads(dt_ * p.ln_x_w), yn = heads(q.yn);  // yo = yn ln_x_w + ln_x_b
    o.dy = (q.rstd * (dn - dn.mean(-1, true) - yn * (dn * yn).mean(-1, true))).view(y.sizes());
    return o;
  }
#ifdef RWKV_HAVE_CUDA
  PostGrads o{torch::empty_like(y), torch::empty_like(r), torch::empty_like(y), torch::empty_like(y),
              torch::empty_like(y)};
  cuda::post_backward(r.size(0), r.size(1), bp(dz), fp(y), bp(r), bp(km), bp(vm), bp(g), post_params(p), fp(o.dy),
                      bp(o.dg), fp(o.dr), fp(o.dkm), fp(o.dvm), stream());
  return o;
#else
  no_kernels();
#endif
}

Tensor wkv_forward(Impl impl, const WkvIn& in, const Tensor& r, const Tensor& s0, WkvSaved* save) {
  const int64_t B = s0.size(0), H = s0.size(1), T = r.size(0) / B;
  auto v4 = [&](const Tensor& t) { return t.view({B, T, H, kN}); };
  if (impl == Impl::Reference) {
    TORCH_CHECK(s0.is_cpu(), "tune_ops::wkv_forward: the reference recurrence runs on the CPU");
    Tensor y, sT, ckpt;
    wkv7_cpu_forward(f32(v4(r)), v4(in.w), f32(v4(in.k)), f32(v4(in.v)), f32(v4(in.a)), f32(v4(in.b)), s0, y, sT,
                     &ckpt, kChunk);
    if (save) save->sT = sT, save->ckpt = ckpt;
    return y;
  }
#ifdef RWKV_HAVE_CUDA
  const auto opt = s0.options();
  auto y = torch::empty({B, T, H, kN}, opt), sT = torch::empty_like(s0);
  auto work = torch::empty({int64_t(cuda::wkv7_workspace_floats(B, T, H))}, opt);
  if (save) {
    save->sT = sT;
    save->ckpt = torch::empty({B, H, cuda::n_chunks(T), kN, kN}, opt);
    save->sa = torch::empty({B, T, H, kN}, opt);
    save->G = torch::empty({B, H, cuda::n_spans(T), kN, kN}, opt);
    save->QG = torch::empty({B, T, H, kN}, opt);
  }
  cuda::wkv7_forward<bf16>(B, T, H, bp(r), fp(in.w), bp(in.k), bp(in.v), bp(in.a), bp(in.b), fp(s0), fp(y), fp(sT),
                           save ? fp(save->ckpt) : nullptr, save ? fp(save->sa) : nullptr,
                           save ? fp(save->G) : nullptr, save ? fp(save->QG) : nullptr, fp(work), stream());
  return y;
#else
  no_kernels();
#endif
}

WkvGrads wkv_backward(Impl impl, const WkvIn& in, const Tensor& r, const Tensor& s0, const WkvSaved& saved,
                      const Tensor& dy, bool ds0_only) {
  const int64_t B = s0.size(0), H = s0.size(1), T = r.size(0) / B;
  auto v4 = [&](const Tensor& t) { return t.view({B, T, H, kN}); };
  WkvGrads g;
  if (impl == Impl::Reference) {
    auto o = wkv7_cpu_backward(f32(v4(r)), v4(in.w), f32(v4(in.k)), f32(v4(in.v)), f32(v4(in.a)), f32(v4(in.b)),
                               saved.ckpt, kChunk, v4(dy), torch::zeros_like(s0));
    g.ds0 = o[6];
    if (!ds0_only) g.dr = o[0], g.dw = o[1], g.dk = o[2], g.dv = o[3], g.da = o[4], g.db = o[5];
    return g;
  }
#ifdef RWKV_HAVE_CUDA
  const auto opt = s0.options();
  g.ds0 = torch::empty_like(s0);
  if (!ds0_only)
    for (Tensor* t : {&g.dr, &g.dw, &g.dk, &g.dv, &g.da, &g.db}) *t = torch::empty({B, T, H, kN}, opt);
  auto work = torch::empty({int64_t(cuda::wkv7_workspace_floats(B, T, H))}, opt);
  cuda::wkv7_backward<bf16>(B, T, H, bp(r), fp(in.w), bp(in.k), bp(in.v), bp(in.a), bp(in.b), fp(saved.sT),
                            fp(saved.ckpt), fp(saved.sa), fp(saved.G), fp(saved.QG), fp(dy), nullptr, fp(g.dr),
                            fp(g.dw), fp(g.dk), fp(g.dv), fp(g.da), fp(g.db), fp(g.ds0), ds0_only, fp(work), stream());
  return g;
#else
  no_kernels();
#endif
}

Tensor relu_sq(Impl impl, const Tensor& u) {
  if (impl == Impl::Reference) return torch::relu(f32(u)).square().to(u.scalar_type());
#ifdef RWKV_HAVE_CUDA
  auto h = torch::empty_like(u);
  cuda::relu_sq_forward(u.numel(), bp(u), bp(h), stream());
  return h;
#else
  no_kernels();
#endif
}

Tensor relu_sq_backward(Impl impl, const Tensor& u, Tensor dh) {
  if (impl == Impl::Reference) return (f32(dh) * 2 * torch::relu(f32(u))).to(u.scalar_type());
#ifdef RWKV_HAVE_CUDA
  cuda::relu_sq_backward(u.numel(), bp(u), bp(dh), stream());
  return dh;
#else
  no_kernels();
#endif
}

Tensor cross_entropy_rows(Impl impl, Tensor& logits, const Tensor& labels) {
  if (impl == Impl::Reference) {
    const auto lf = f32(logits);
    const auto lse = torch::logsumexp(lf, 1);
    const auto loss = lse - lf.gather(1, labels.unsqueeze(1)).squeeze(1);
    auto grad = torch::softmax(lf, 1);
    grad.scatter_add_(1, labels.unsqueeze(1), -torch::ones({labels.size(0), 1}, grad.options()));
    logits.copy_(grad);
    return loss;
  }
#ifdef RWKV_HAVE_CUDA
  auto loss = torch::empty({logits.size(0)}, logits.options().dtype(torch::kFloat32));
  cuda::cross_entropy_rows(logits.size(0), logits.size(1), bp(logits), labels.data_ptr<int64_t>(), fp(loss), stream());
  return loss;
#else
  no_kernels();
#endif
}

}  // namespace rwkv::tune_ops
