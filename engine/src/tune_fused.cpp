// fused_ce_sum (tune_fused.h): the model's forward layer by layer from tune_ops, the head and
// cross-entropy with their gradient during the forward, and the backward as one autograd node.
#include "tune_fused.h"

#include <algorithm>
#include <cstdlib>

namespace rwkv {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using tune_ops::Impl;

// What every layer of one call shares. M = B*T rows.
struct Run {
  const Model::Impl* m = nullptr;
  Impl impl = Impl::Reference;
  int64_t B = 0, T = 0, M = 0, C = 0;
  torch::ScalarType dt = torch::kFloat32;
};

Tensor time_mixes(const AttWeights& p) { return torch::stack({p.x_r, p.x_w, p.x_k, p.x_v, p.x_a, p.x_g}); }  // [6,C]

Tensor batch_state(const Tensor& s0, int64_t B) { return s0.unsqueeze(0).expand({B, -1, -1, -1}).contiguous(); }

// Everything a layer's backward reads, from its forward.
struct LayerSaved {
  Tensor x, x1;                    // fp32 [M,C]: the layer's input, and after its time mix
  Tensor r, k, v, wl, al, vl, g;   // dt [M,C]: the projections (vl undefined in layer 0)
  Tensor hw, hg;                   // dt [M,Dw], [M,Dg]: tanh / sigmoid inside the w and g LoRAs
  Tensor y;                        // fp32 [M,C]: the recurrence's output
  Tensor u;                        // dt [M,F]: the channel mix's pre-activation
  tune_ops::WkvIn wi;              // the recurrence's inputs (w fp32, the others dt)
  tune_ops::WkvSaved wkv;

  static constexpr size_t kSize = 23;
  void append_to(std::vector<Tensor>& out) const {
    out.insert(out.end(), {x, x1, r, k, v, wl, al, vl, g, hw, hg, y, u, wi.w, wi.k, wi.v, wi.a, wi.b, wkv.sT,
                           wkv.ckpt, wkv.sa, wkv.G, wkv.QG});
  }
  static LayerSaved take(std::vector<Tensor>& from, size_t at) {  // moves them out of `from`
    LayerSaved s;
    Tensor* dst[kSize] = {&s.x,    &s.x1,   &s.r,    &s.k,    &s.v,      &s.wl,       &s.al,     &s.vl,
                          &s.g,    &s.hw,   &s.hg,   &s.y,    &s.u,      &s.wi.w,     &s.wi.k,   &s.wi.v,
                          &s.wi.a, &s.wi.b, &s.wkv.sT, &s.wkv.ckpt, &s.wkv.sa, &s.wkv.G, &s.wkv.QG};
    for (size_t i = 0; i < kSize; ++i) *dst[i] = std::move(from[at + i]);
    return s;
  }
};

struct LayerOut {
  Tensor x;   // the layer's input (x_prev + f_prev), fp32
  Tensor x1;  // after the time mix, fp32
  Tensor f;   // the channel mix's output, dt: the layer's output is x1 + f
};

// One layer (spec 1.3-1.4) whose input is x_prev + f_prev (f_prev undefined for the first layer).
LayerOut layer_forward(const Run& run, int l, const Tensor& x_prev, const Tensor& f_prev, const Tensor& s0b,
                       Tensor& vfirst, LayerSaved* save) {
  const auto& lw = run.m->layers[l];
  const auto& p = lw.att;
  auto nm = tune_ops::norm_mix(run.impl, x_prev, f_prev, run.T, lw.ln1_w, lw.ln1_b, time_mixes(p), run.dt);
  const auto& X = nm.mixes;  // x_r, x_w, x_k, x_v, x_a, x_g
  auto r = torch::linear(X[0], p.Wr), k = torch::linear(X[2], p.Wk), v = torch::linear(X[3], p.Wv);
  auto hw = torch::tanh(torch::mm(X[1], p.w1));
  auto wl = torch::mm(hw, p.w2);
  auto al = torch::mm(torch::mm(X[4], p.a1), p.a2);
  auto hg = torch::sigmoid(torch::mm(X[5], p.g1));
  auto g = torch::mm(hg, p.g2);
  Tensor vl;
  if (l == 0) vfirst = v;
  else vl = torch::mm(torch::mm(X[3], p.v1), p.v2);
  const auto wi = tune_ops::mid(run.impl, k, v, wl, al, vl, vfirst, p);
  auto y = tune_ops::wkv_forward(run.impl, wi, r, s0b, save ? &save->wkv : nullptr).view({run.M, run.C});
  const auto z = tune_ops::post(run.impl, y, r, wi.k, wi.v, g, p);
  auto nm2 = tune_ops::norm_mix(run.impl, nm.x, torch::linear(z, p.Wo), run.T, lw.ln2_w, lw.ln2_b,
                                lw.ffn.x_k.unsqueeze(0), run.dt);
  auto u = torch::linear(nm2.mixes[0], lw.ffn.Wkey);
  auto f = torch::linear(tune_ops::relu_sq(run.impl, u), lw.ffn.Wval);
  if (save) {
    save->x = nm.x, save->x1 = nm2.x;
    save->r = r, save->k = k, save->v = v, save->wl = wl, save->al = al, save->vl = vl, save->g = g;
    save->hw = hw, save->hg = hg, save->y = y, save->u = u, save->wi = wi;
  }
  return {nm.x, nm2.x, f};
}

// Backward of one layer. dx: in, the gradient of the layer's output (fp32 [M,C], dx_dt its dt
// copy); out, that of its input (not computed for layer 0, whose input comes from the frozen
// embedding). dvfirst collects the value residual's gradient (tune_ops::mid_backward).
// Returns dS0 [B,H,N,N]. Frees the saved tensors as soon as they are used.
Tensor layer_backward(const Run& run, int l, LayerSaved& s, const Tensor& s0b, const Tensor& vfirst, Tensor& dvfirst,
                      Tensor& dx, Tensor& dx_dt) {
  const auto& lw = run.m->layers[l];
  const auto& p = lw.att;
  // channel mix: out = x1 + relu(mix(x1) Wkeyᵀ)² Wvalᵀ
  auto du = tune_ops::relu_sq_backward(run.impl, s.u, torch::mm(dx_dt, lw.ffn.Wval));
  s.u = Tensor();
  auto dxk = torch::mm(du, lw.ffn.Wkey);
  du = Tensor();
  Tensor dx1_dt;
  const auto dx1 = tune_ops::norm_mix_backward(run.impl, {dxk}, s.x1, run.T, lw.ln2_w, lw.ffn.x_k.unsqueeze(0), dx,
                                               &dx1_dt);
  dxk = Tensor(), dx = Tensor(), dx_dt = Tensor(), s.x1 = Tensor();
  // time mix: x1 = x + z Woᵀ
  const auto dz = torch::mm(dx1_dt, p.Wo);
  auto pg = tune_ops::post_backward(run.impl, dz, s.y, s.r, s.wi.k, s.wi.v, s.g, p);
  s.y = Tensor();
  auto wg = tune_ops::wkv_backward(run.impl, s.wi, s.r, s0b, s.wkv, pg.dy, /*ds0_only=*/l == 0);
  s.wkv = {}, s.wi = {};
  if (l == 0) return wg.ds0;
  const auto flat = [&](const Tensor& t) { return t.view({run.M, run.C}); };
  const auto mg = tune_ops::mid_backward(run.impl, s.k, s.v, s.wl, s.al, s.vl, vfirst, p, flat(wg.dr), pg.dr,
                                         flat(wg.dw), flat(wg.dk), pg.dkm, flat(wg.dv), pg.dvm, flat(wg.da),
                                         flat(wg.db), dvfirst);
  const auto ds0 = wg.ds0;
  wg = {};
  std::vector<Tensor> dX(6);
  dX[0] = torch::mm(mg.dr, p.Wr);
  dX[1] = torch::mm(torch::mm(mg.dwl, p.w2.t()) * (1 - s.hw.square()), p.w1.t());
  dX[2] = torch::mm(mg.dk, p.Wk);
  dX[3] = torch::mm(mg.dv, p.Wv).addmm_(torch::mm(mg.dvl, p.v2.t()), p.v1.t());
  dX[4] = torch::mm(torch::mm(mg.dal, p.a2.t()), p.a1.t());
  dX[5] = torch::mm(torch::mm(pg.dg, p.g2.t()) * (s.hg * (1 - s.hg)), p.g1.t());
  dx = tune_ops::norm_mix_backward(run.impl, dX, s.x, run.T, lw.ln1_w, time_mixes(p), dx1, &dx_dt);
  return ds0;
}

// ln_out, head and the summed cross-entropy over mb's target rows; with grad, also the gradient
// of that sum with respect to the last layer's output x_prev + f_prev (fp32 and dt).
struct HeadOut {
  Tensor loss, dx, dx_dt;
};

HeadOut head_ce(const Run& run, const Tensor& x_prev, const Tensor& f_prev, const MicroBatch& mb, bool grad) {
  const auto& m = *run.m;
  const auto mu0 = torch::zeros({1, run.C}, x_prev.options());  // no shift: the mix is ln_out(x) itself
  auto nm = tune_ops::norm_mix(run.impl, x_prev, f_prev, run.T, m.ln_out_w, m.ln_out_b, mu0, run.dt);
  const auto rows = nm.mixes[0].index_select(0, mb.rows);  // [n,C]
  const auto labels = mb.labels.to(x_prev.device()).contiguous();
  const int64_t n = rows.size(0), V = m.head.size(0);
  const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 28) / V);  // <= 512 MB of bf16 logits at a time
  HeadOut out;
  out.loss = torch::zeros({}, x_prev.options());
  Tensor drows = grad ? torch::zeros_like(nm.mixes[0]) : Tensor();
  for (int64_t i0 = 0; i0 < n; i0 += chunk) {
    const int64_t nc = std::min(chunk, n - i0);
    auto logits = torch::linear(rows.narrow(0, i0, nc), m.head);  // [nc,V], becomes its gradient
    out.loss += tune_ops::cross_entropy_rows(run.impl, logits, labels.narrow(0, i0, nc)).sum();
    if (grad) drows.index_add_(0, mb.rows.narrow(0, i0, nc), torch::mm(logits, m.head));
  }
  if (grad) out.dx = tune_ops::norm_mix_backward(run.impl, {drows}, nm.x, run.T, m.ln_out_w, mu0, Tensor(), &out.dx_dt);
  return out;
}

Run make_run(const Model::Impl& m, int64_t B, int64_t T, Impl impl) {
  Run run;
  run.m = &m;
  run.impl = impl;
  run.B = B;
  run.T = T;
  run.M = B * T;
  run.C = m.info.dims.n_embd;
  run.dt = m.dtype;
  return run;
}

// x0 = ln0(emb[tokens]) [M,C] fp32.
Tensor embed(const Run& run, const Tensor& tokens) {
  const auto& m = *run.m;
  const auto e = torch::embedding(m.emb, tokens.to(m.device).reshape({-1})).to(torch::kFloat32);
  return torch::layer_norm(e, {run.C}, m.ln0_w, m.ln0_b, 1e-5);
}

// Every layer's forward from the embedding. acts (may be null) collects per layer its
// LayerSaved, or with recompute only its input. Returns the last layer's {x1, f}; vfirst gets
// layer 0's v.
std::pair<Tensor, Tensor> run_layers(const Run& run, const Tensor& tokens, at::TensorList s0, Tensor& vfirst,
                                     std::vector<Tensor>* acts, bool recompute) {
  Tensor x = embed(run, tokens), f;
  for (int l = 0; l < run.m->info.dims.n_layer; ++l) {
    LayerSaved s;
    const bool save = acts && !recompute;
    const auto o = layer_forward(run, l, x, f, batch_state(s0[l], run.B), vfirst, save ? &s : nullptr);
    if (save) s.append_to(*acts);
    else if (acts) acts->push_back(o.x);
    x = o.x1, f = o.f;
  }
  return {x, f};
}

struct Spec {
  const Model::Impl* m = nullptr;
  const MicroBatch* mb = nullptr;
  bool recompute = false;
  Impl impl = Impl::Reference;
};

struct FusedTune : torch::autograd::Function<FusedTune> {
  static variable_list forward(AutogradContext* ctx, const Spec& spec, at::TensorList s0) {
    const auto& tokens = spec.mb->tokens;
    const Run run = make_run(*spec.m, tokens.size(0), tokens.size(1), spec.impl);
    std::vector<Tensor> acts;
    Tensor vfirst;
    const auto [x, f] = run_layers(run, tokens, s0, vfirst, &acts, spec.recompute);
    auto head = head_ce(run, x, f, *spec.mb, /*grad=*/true);
    ctx->saved_data["acts"] = acts;
    ctx->saved_data["rest"] = std::vector<Tensor>{vfirst, head.dx, head.dx_dt};
    ctx->saved_data["s0"] = s0.vec();
    ctx->saved_data["model"] = reinterpret_cast<int64_t>(spec.m);
    ctx->saved_data["shape"] = std::vector<int64_t>{run.B, run.T, int64_t(spec.recompute), int64_t(spec.impl)};
    return {head.loss};
  }

  // grads[0]: d(result)/d(loss). Returns {nothing for the Spec, dS0 per layer}.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const Run run = make_run(*reinterpret_cast<const Model::Impl*>(ctx->saved_data["model"].toInt()), shape[0],
                             shape[1], static_cast<Impl>(shape[3]));
    const bool recompute = shape[2] != 0;
    auto acts = ctx->saved_data["acts"].toTensorVector();
    auto rest = ctx->saved_data["rest"].toTensorVector();
    const auto s0 = ctx->saved_data["s0"].toTensorVector();
    ctx->saved_data.clear();  // the copies above are now the only references: freed as they are used
    Tensor vfirst = rest[0], dx = rest[1], dx_dt = rest[2];
    rest.clear();
    Tensor dvfirst = torch::zeros_like(dx);
    const int L = run.m->info.dims.n_layer;
    variable_list result(1 + L);
    for (int l = L - 1; l >= 0; --l) {
      const auto s0b = batch_state(s0[l], run.B);
      LayerSaved s;
      if (recompute) {
        Tensor vf = vfirst;
        layer_forward(run, l, acts[l], Tensor(), s0b, vf, &s);
        acts[l] = Tensor();
      } else {
        s = LayerSaved::take(acts, size_t(l) * LayerSaved::kSize);
      }
      result[1 + l] = layer_backward(run, l, s, s0b, vfirst, dvfirst, dx, dx_dt).sum(0) * grads[0];
    }
    return result;
  }
};

}  // namespace

torch::Tensor fused_ce_sum(const Model::Impl& m, const MicroBatch& mb, const std::vector<torch::Tensor>& s0,
                           bool recompute, tune_ops::Impl impl) {
  TORCH_CHECK(int(s0.size()) == m.info.dims.n_layer, "fused_ce_sum: one S0 per layer");
  bool grad = torch::GradMode::is_enabled();
  bool any = false;
  for (const auto& t : s0) any = any || t.requires_grad();
  Spec spec{&m, &mb, recompute, impl};
  if (grad && any) return FusedTune::apply(spec, at::TensorList(s0))[0];
  torch::NoGradGuard ng;
  const Run run = make_run(m, mb.tokens.size(0), mb.tokens.size(1), impl);
  Tensor vfirst;
  const auto [x, f] = run_layers(run, mb.tokens, s0, vfirst, nullptr, false);
  return head_ce(run, x, f, mb, /*grad=*/false).loss;
}

bool fused_tuning_applies(const Model::Impl& m) {
  return tune_ops::kernels_apply(m) && !std::getenv("RWKV_NO_FUSED_TUNE");
}

}  // namespace rwkv
