// The kernel-upscaled state (method note section 2) as torch tensors: the per-layer parameters,
// the head-output term that the forward pass adds to the wkv output, and the pieces the tuner
// builds them from (support vectors from the frozen model's normalised keys, gamma by the
// median heuristic, the seeded projection Q).
//
// Per head, with G_t = prod_{u<=t} g_u (g_u the geometric mean of the head's decays w_u):
//   U_t = g_t U_{t-1} [+ beta a_t b_t^T],  a_t = Q^T v_t,  b_t = R phi(kk_t)       (write option)
//   extra_t = Q U_t^T z_t,  z_t = R phi(r_t / |r_t|)
// so extra_t = Q (G_t U_in^T z_t + beta sum_{s<=t} (G_t/G_s) b_s (a_s . z_t)). The sum is done
// as a causal T x T product (a linear-attention form), not as a loop over M x M states, so
// autograd keeps only [B,T,H,M]-sized intermediates and the [B,H,T,T] score matrix.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "rwkv/state.h"

namespace rwkv {

struct KernelLayer {
  torch::Tensor C;      // [H,M,N] support vectors (unit length)
  torch::Tensor Q;      // [H,N,M] fixed projection
  torch::Tensor R;      // [H,M,M] decorrelation (identity at start)
  torch::Tensor gamma;  // [H]
  torch::Tensor beta;   // [H] write gain; undefined without `write`
};

struct KernelExt {
  int64_t m = 0;
  bool write = false;
  // DBP loss mode: R learns from the decorrelation loss only; the head output sees R detached
  // (so the task loss does not train R into another task parameter). z keeps its gradient.
  bool r_decor_only = false;
  std::vector<KernelLayer> layers;
};

// phi(u)_m = exp(-gamma |u - c_m|^2). u [...,H,N], C [H,M,N], gamma [H] -> [...,H,M].
torch::Tensor gaussian_features(const torch::Tensor& u, const torch::Tensor& C, const torch::Tensor& gamma);

struct KernelHeadOut {
  torch::Tensor extra;  // [B,T,H,N] added to the wkv output y_t = S_t r_t
  torch::Tensor z;      // [B,T,H,M] z_t = R phi(r_t/|r_t|) (DBP statistics), when want_z
  torch::Tensor u_out;  // [B,H,M,M] U after the last token, when want_state
};

// r, w, kk, v: [B,T,H,N] (w the decays in (0,1), kk the normalised keys); u_in [B,H,M,M] or
// undefined (= zeros). Computes in the dtype of r (fp64 for the gradient checks).
KernelHeadOut kernel_head_output(const KernelLayer& p, bool write, const torch::Tensor& r, const torch::Tensor& w,
                                 const torch::Tensor& kk, const torch::Tensor& v, const torch::Tensor& u_in,
                                 bool want_z, bool want_state, bool r_decor_only = false);

// The same recurrence as an explicit loop over tokens with M x M states (test oracle).
KernelHeadOut kernel_head_output_loop(const KernelLayer& p, bool write, const torch::Tensor& r,
                                      const torch::Tensor& w, const torch::Tensor& kk, const torch::Tensor& v,
                                      const torch::Tensor& u_in);

// Support vectors: M rows chosen from keys [n,N] (unit rows). "kmeans": k-means++ seeding and
// `iters` spherical Lloyd iterations; "random": M distinct keys. Seeded and portable (SplitMix64).
// Throws Error(Argument) when n < M.
torch::Tensor choose_supports(const torch::Tensor& keys, int64_t M, const std::string& how, uint64_t seed,
                              int iters = 8);
// 1 / median squared distance between keys [n,N] and supports [M,N] (1 when the median is 0).
double median_gamma(const torch::Tensor& keys, const torch::Tensor& supports);
// Q [H,N,M], Gaussian / sqrt(M) from a seeded generator.
torch::Tensor make_projection(int64_t H, int64_t N, int64_t M, uint64_t seed);

// Conversions between the plain-float KernelState and per-layer tensors on `device`
// (u0: L x [H,M,M]). Throws Error(Shape) on inconsistent sizes.
std::shared_ptr<KernelExt> kernel_ext_from_state(const KernelState& k, torch::Device device,
                                                 std::vector<torch::Tensor>* u0);
std::shared_ptr<KernelState> kernel_state_from_tensors(const KernelExt& ext, const std::vector<torch::Tensor>& u0,
                                                       int head_size);
// Checks the sizes of every array against (L, H, N, M). Throws Error(Shape) naming the array.
void check_kernel_state(const KernelState& k);

}  // namespace rwkv
