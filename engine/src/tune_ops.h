// The pieces of the hand-written state-tuning step (tune_fused.h), each with its backward, in
// two implementations: the CUDA kernels of engine/kernels/tune_kernels.h and wkv7_kernels.h, and
// a reference in plain torch ops (any device, fp32 arithmetic, results in the requested dtype)
// that spells out the math and that the kernels are tested against.
//
// Rows: M = B*T tokens, row m = b*T + t (sequences of T rows); C channels, heads of N = 64.
// The residual stream x and the gradients that feed sums are fp32; activations are `dt` (the
// weights' dtype: bf16 on the GPU).
#pragma once
#include <torch/torch.h>

#include <vector>

#include "weights.h"

namespace rwkv::tune_ops {

using torch::Tensor;

enum class Impl { Kernels, Reference };

// Whether the kernels can run this model: CUDA build, CUDA bf16 weights, head size 64.
bool kernels_apply(const Model::Impl& m);

// x = x_in + add (add undefined: x = x_in), xa = LayerNorm(x), mixes[l] = xa + (xa_prev - xa) mu[l]
// with xa_prev the previous row's xa in the same sequence (0 at t = 0). x_in [M,C] fp32,
// add [M,C] dt or undefined, mu [n,C] fp32.
struct NormMix {
  Tensor x;                    // [M,C] fp32
  std::vector<Tensor> mixes;   // n x [M,C] dt
};
NormMix norm_mix(Impl impl, const Tensor& x_in, const Tensor& add, int64_t T, const Tensor& ln_w, const Tensor& ln_b,
                 const Tensor& mu, torch::ScalarType dt);
// dx = dres + (d/dx of Σ_l <dmix[l], mixes[l]>); dres may be undefined. *dx_dt gets dx in dt.
Tensor norm_mix_backward(Impl impl, const std::vector<Tensor>& dmix, const Tensor& x, int64_t T, const Tensor& ln_w,
                         const Tensor& mu, const Tensor& dres, Tensor* dx_dt);

// The recurrence's inputs from the projections (spec 1.3): w (fp32) and km, vm, a = -kk,
// b = kk*a_lr (dt), all [M,C]. vl undefined in layer 0 (vm = v).
struct WkvIn {
  Tensor w, k, v, a, b;
};
WkvIn mid(Impl impl, const Tensor& k, const Tensor& v, const Tensor& wl, const Tensor& al, const Tensor& vl,
          const Tensor& vfirst, const AttWeights& p);
// Gradients of mid's inputs, from the recurrence's (*_w) and the bonus term's (*_b) gradients.
// dvfirst [M,C] fp32: layers > 0 add their value-residual share to it, layer 0 adds it to dv.
struct MidGrads {
  Tensor dr, dk, dv, dwl, dal, dvl;  // dt [M,C] (dvl undefined in layer 0)
};
MidGrads mid_backward(Impl impl, const Tensor& k, const Tensor& v, const Tensor& wl, const Tensor& al,
                      const Tensor& vl, const Tensor& vfirst, const AttWeights& p, const Tensor& dr_w,
                      const Tensor& dr_b, const Tensor& dw, const Tensor& dkm_w, const Tensor& dkm_b,
                      const Tensor& dvm_w, const Tensor& dvm_b, const Tensor& daa, const Tensor& dbb,
                      Tensor& dvfirst);

// z = (GroupNorm(y) ln_x + (Σ_j r_j km_j r_k[h][j]) vm) g, per head; y [M,C] fp32, z dt.
Tensor post(Impl impl, const Tensor& y, const Tensor& r, const Tensor& km, const Tensor& vm, const Tensor& g,
            const AttWeights& p);
struct PostGrads {
  Tensor dy;             // fp32
  Tensor dg;             // dt
  Tensor dr, dkm, dvm;   // fp32: the bonus term's part of these gradients
};
PostGrads post_backward(Impl impl, const Tensor& dz, const Tensor& y, const Tensor& r, const Tensor& km,
                        const Tensor& vm, const Tensor& g, const AttWeights& p);

// The recurrence over [B,T,H,N] views; s0 [B,H,N,N] fp32. With `save`, keeps what the backward
// needs. Returns y [B,T,H,N] fp32.
struct WkvSaved {
  Tensor sT, ckpt, sa, G;  // the final state, states every 16 steps, (S_{t-1} a_t) per step, span transitions
  Tensor QG;               // per step G_{<=t} r_t within its span (CUDA): makes each span's adjoint a product
};
Tensor wkv_forward(Impl impl, const WkvIn& in, const Tensor& r, const Tensor& s0, WkvSaved* save);
struct WkvGrads {
  Tensor dr, dw, dk, dv, da, db;  // fp32 [B,T,H,N] (undefined with ds0_only)
  Tensor ds0;                     // fp32 [B,H,N,N]
};
WkvGrads wkv_backward(Impl impl, const WkvIn& in, const Tensor& r, const Tensor& s0, const WkvSaved& saved,
                      const Tensor& dy, bool ds0_only);

// h = relu(u)^2; its backward dh -> du (may reuse dh's storage).
Tensor relu_sq(Impl impl, const Tensor& u);
Tensor relu_sq_backward(Impl impl, const Tensor& u, Tensor dh);

// Per row: loss = logsumexp(logits) - logits[label]; logits [n,V] dt is overwritten with its
// gradient softmax - onehot. Returns the losses [n] fp32.
Tensor cross_entropy_rows(Impl impl, Tensor& logits, const Tensor& labels);

}  // namespace rwkv::tune_ops
