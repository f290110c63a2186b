// RWKV-7 forward pass, batched over time (spec/rwkv7.md 1.2-1.6). Shapes: B batch, T tokens,
// C channels, H heads of N, V vocab. The residual stream x is fp32; matmuls run in the weights'
// dtype (fp32 on the CPU, bf16 on the GPU).
#include "forward.h"

#include <cmath>

#include "kernel_state.h"
#include "layer_recompute.h"
#include "wkv7.h"

namespace rwkv {
namespace {

namespace F = torch::nn::functional;

torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::layer_norm(x, {x.size(-1)}, w, b, 1e-5);
}

// x [...,in] @ W^T for an nn.Linear weight W [out,in]; result fp32.
torch::Tensor dense(const torch::Tensor& x, const torch::Tensor& W) {
  return torch::linear(x.to(W.scalar_type()), W).to(torch::kFloat32);
}

// x [...,in] @ A for a LoRA matrix A [in,out]; result fp32.
torch::Tensor lora(const torch::Tensor& x, const torch::Tensor& A) {
  return torch::matmul(x.to(A.scalar_type()), A).to(torch::kFloat32);
}

// Token shift: the previous token's value for every position. xs [B,T,C], prev [B,C] -> [B,T,C].
torch::Tensor shifted(const torch::Tensor& xs, const torch::Tensor& prev) {
  const int64_t T = xs.size(1);
  if (T == 1) return prev.unsqueeze(1);
  return torch::cat({prev.unsqueeze(1), xs.narrow(1, 0, T - 1)}, 1);
}

const double kDecayScale = std::exp(-0.5);  // w = exp(-e^{-0.5} * sigmoid(wr))

// Time mix of one layer. xa = ln1(x) [B,T,C]; v_first [B,T,C] (undefined before layer 0).
// Kernel-upscaled part of one layer (null = plain model): parameters, incoming U (may be
// undefined), and where to put the outgoing U and z (either may be null).
struct KernelCall {
  const KernelLayer* p = nullptr;
  bool write = false, r_decor_only = false;
  torch::Tensor u_in;
  torch::Tensor* u_out = nullptr;
  torch::Tensor* z = nullptr;
};

torch::Tensor time_mix(const AttWeights& p, const torch::Tensor& xa, const torch::Tensor& shift_in,
                       const torch::Tensor& s0, int64_t H, int64_t N, torch::Tensor& v_first,
                       torch::Tensor& sT, std::vector<torch::Tensor>* trace, const KernelCall& kc) {
  const int64_t B = xa.size(0), T = xa.size(1), C = xa.size(2);
  const auto dx = shifted(xa, shift_in) - xa;
  const auto xr = xa + dx * p.x_r, xw = xa + dx * p.x_w, xk = xa + dx * p.x_k;
  const auto xv = xa + dx * p.x_v, xa_ = xa + dx * p.x_a, xg = xa + dx * p.x_g;

  auto r = dense(xr, p.Wr);                                                          // [B,T,C]
  auto k = dense(xk, p.Wk);
  auto v = dense(xv, p.Wv);
  const auto wr = p.w0 + lora(torch::tanh(lora(xw, p.w1)), p.w2);                     // raw decay
  const auto w = torch::exp(-kDecayScale * torch::sigmoid(wr));                       // (0.545, 1)
  const auto a = torch::sigmoid(p.a0 + lora(lora(xa_, p.a1), p.a2));                  // in-context lr
  const auto g = lora(torch::sigmoid(lora(xg, p.g1)), p.g2);                          // output gate
  if (!v_first.defined()) {
    v_first = v;
  } else {
    v = v + (v_first - v) * torch::sigmoid(p.v0 + lora(lora(xv, p.v1), p.v2));
  }
  auto kk = F::normalize((k * p.k_k).view({B, T, H, N}), F::NormalizeFuncOptions().p(2).dim(-1).eps(1e-12));
  k = k * (1 + (a - 1) * p.k_a);

  const auto h4 = [&](const torch::Tensor& t) { return t.view({B, T, H, N}); };
  const torch::Tensor r4 = h4(r), k4 = h4(k), v4 = h4(v), w4 = h4(w);
  const torch::Tensor aa = -kk, bb = kk * h4(a);
  if (trace) *trace = {r4, w4, k4, v4, aa, bb};
  auto out = wkv7(r4, w4, k4, v4, aa, bb, s0);                                         // y [B,T,H,N]
  sT = out[1];
  auto y = out[0].to(torch::kFloat32);
  if (kc.p) {  // y_t += Q U_t^T R phi(r_t/|r_t|)
    auto ko = kernel_head_output(*kc.p, kc.write, r4, w4, kk, v4, kc.u_in, kc.z != nullptr, kc.u_out != nullptr,
                                 kc.r_decor_only);
    y = y + ko.extra.to(torch::kFloat32);
    if (kc.z) *kc.z = ko.z;
    if (kc.u_out) *kc.u_out = ko.u_out;
  }
  // GroupNorm over each head's N values (eps 64e-5), then the per-channel affine.
  const auto mu = y.mean(-1, true);
  const auto var = (y - mu).pow(2).mean(-1, true);
  y = ((y - mu) / torch::sqrt(var + 64e-5)).reshape({B, T, C}) * p.ln_x_w + p.ln_x_b;
  // Bonus: per head (sum_j r k r_k) * v.
  y = y + ((r4 * k4 * p.r_k).sum(-1, true) * v4).reshape({B, T, C});
  return dense(y * g, p.Wo);
}

torch::Tensor channel_mix(const FfnWeights& p, const torch::Tensor& xf, const torch::Tensor& shift_in) {
  const auto xk = xf + (shifted(xf, shift_in) - xf) * p.x_k;
  return dense(torch::relu(dense(xk, p.Wkey)).square(), p.Wval);
}

torch::Tensor last_token(const torch::Tensor& x) { return x.select(1, x.size(1) - 1); }  // [B,T,C] -> [B,C]

}  // namespace

RecurrentState RecurrentState::zeros(const Model::Impl& m, int64_t batch) {
  const auto& d = m.info.dims;
  const auto opt = torch::TensorOptions().dtype(torch::kFloat32).device(m.device);
  RecurrentState s;
  for (int l = 0; l < d.n_layer; ++l) {
    s.att_shift.push_back(torch::zeros({batch, d.n_embd}, opt));
    s.ffn_shift.push_back(torch::zeros({batch, d.n_embd}, opt));
    s.wkv.push_back(torch::zeros({batch, d.n_head, d.head_size, d.head_size}, opt));
  }
  return s;
}

void RecurrentState::copy_from(const RecurrentState& src) {
  for (size_t l = 0; l < wkv.size(); ++l) {
    att_shift[l].copy_(src.att_shift[l]);
    ffn_shift[l].copy_(src.ffn_shift[l]);
    wkv[l].copy_(src.wkv[l]);
  }
}

LayerIn LayerIn::of(const RecurrentState& s, int l) {
  LayerIn li;
  li.att_shift = s.att_shift[l];
  li.ffn_shift = s.ffn_shift[l];
  li.wkv = s.wkv[l];
  if (s.kernel) {
    li.kernel = &s.kernel->layers[l];
    li.write = s.kernel->write;
    li.r_decor_only = s.kernel->r_decor_only;
    if (l < static_cast<int>(s.ups.size())) li.ups = s.ups[l];
  }
  return li;
}

torch::Tensor forward_layer(const LayerWeights& lw, int64_t H, int64_t N, const torch::Tensor& x, const LayerIn& in,
                            torch::Tensor& v_first, std::vector<torch::Tensor>* trace, LayerOut* out) {
  const auto xa = layer_norm(x, lw.ln1_w, lw.ln1_b);
  torch::Tensor sT;
  KernelCall kc;
  if (in.kernel) {
    kc.p = in.kernel;
    kc.write = in.write;
    kc.r_decor_only = in.r_decor_only;
    kc.u_in = in.ups;
    if (out->want_state) kc.u_out = &out->ups;
    if (out->want_z) kc.z = &out->z;
  }
  auto y = x + time_mix(lw.att, xa, in.att_shift, in.wkv, H, N, v_first, sT, trace, kc);
  const auto xf = layer_norm(y, lw.ln2_w, lw.ln2_b);
  y = y + channel_mix(lw.ffn, xf, in.ffn_shift);
  if (out->want_state) {
    out->att_shift = last_token(xa);
    out->ffn_shift = last_token(xf);
    out->wkv = sT;
  }
  return y;
}

torch::Tensor forward_hidden(const Model::Impl& m, const torch::Tensor& tokens, const RecurrentState& in,
                             RecurrentState* out, WkvTrace* trace, bool recompute) {
  TORCH_CHECK(!(recompute && out), "forward_hidden: recompute gives no outgoing state");
  const auto& d = m.info.dims;
  auto x = layer_norm(torch::embedding(m.emb, tokens.to(m.device)).to(torch::kFloat32), m.ln0_w, m.ln0_b);
  torch::Tensor v_first;
  if (trace) trace->inputs.assign(d.n_layer, {});
  if (out) *out = RecurrentState{};
  if (out) out->kernel = in.kernel;
  if (trace) trace->kernel_z.clear();
  const bool want_z = trace && trace->want_kernel_z;
  for (int l = 0; l < d.n_layer; ++l) {
    const LayerIn li = LayerIn::of(in, l);
    LayerOut lo;
    lo.want_state = out != nullptr;
    lo.want_z = want_z;
    if (recompute)
      x = recomputed_layer(m.layers[l], d.n_head, d.head_size, x, li, v_first, want_z ? &lo.z : nullptr);
    else
      x = forward_layer(m.layers[l], d.n_head, d.head_size, x, li, v_first, trace ? &trace->inputs[l] : nullptr, &lo);
    if (want_z) trace->kernel_z.push_back(lo.z);
    if (out) {
      out->att_shift.push_back(lo.att_shift);
      out->ffn_shift.push_back(lo.ffn_shift);
      out->wkv.push_back(lo.wkv);
      if (in.kernel) out->ups.push_back(lo.ups);
    }
  }
  return x;
}

torch::Tensor head_logits(const Model::Impl& m, const torch::Tensor& hidden) {
  return dense(layer_norm(hidden, m.ln_out_w, m.ln_out_b), m.head);
}

ForwardResult forward(const Model::Impl& m, const torch::Tensor& tokens, const RecurrentState& in,
                      bool last_only, WkvTrace* trace) {
  ForwardResult res;
  auto x = forward_hidden(m, tokens, in, &res.state, trace);
  if (last_only) x = x.narrow(1, x.size(1) - 1, 1);
  res.logits = head_logits(m, x);
  return res;
}

}  // namespace rwkv
