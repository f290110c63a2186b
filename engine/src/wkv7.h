// The RWKV-7 wkv recurrence as a differentiable op (spec/rwkv7.md 1.3 and 6.1), per head:
//   S_t = S_{t-1} (diag(w_t) + a_t b_t^T) + v_t k_t^T,   y_t = S_t r_t
// with S [value i][key j], a = -kk, b = kk * a_lr. Gradients flow to every input and to S0.
// CPU: explicit loops (the reference). CUDA: engine/kernels when built with RWKV_HAVE_CUDA.
#pragma once
#include <torch/torch.h>

namespace rwkv {

// r, w, k, v, a, b: [B,T,H,N] (any float dtype; computed in fp32), w = decay in (0,1).
// s0: [B,H,N,N] fp32. Returns {y [B,T,H,N] fp32, sT [B,H,N,N] fp32}.
std::vector<torch::Tensor> wkv7(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                                const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                                const torch::Tensor& s0);

// Plain CPU implementations (no autograd), exposed for tests and benchmarks.
// Forward saves the state every `chunk` steps into ckpt [B,H,ceil(T/chunk),N,N] (state before each chunk).
void wkv7_cpu_forward(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                      const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                      const torch::Tensor& s0, torch::Tensor& y, torch::Tensor& sT, torch::Tensor* ckpt,
                      int64_t chunk);
// Given dy [B,T,H,N] and dsT [B,H,N,N], returns {dr, dw, dk, dv, da, db, ds0}.
std::vector<torch::Tensor> wkv7_cpu_backward(const torch::Tensor& r, const torch::Tensor& w,
                                             const torch::Tensor& k, const torch::Tensor& v,
                                             const torch::Tensor& a, const torch::Tensor& b,
                                             const torch::Tensor& ckpt, int64_t chunk,
                                             const torch::Tensor& dy, const torch::Tensor& dsT);

}  // namespace rwkv
