// The CUDA wkv7 kernels as a torch autograd function. Inputs are cast to contiguous fp32;
// gradients are returned in each input's dtype.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

#include "rwkv/error.h"
#include "wkv7_cuda.h"
#include "wkv7_kernels.h"

namespace rwkv {
namespace {

class Wkv7Cuda : public torch::autograd::Function<Wkv7Cuda> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, torch::Tensor r,
                                                torch::Tensor w, torch::Tensor k, torch::Tensor v,
                                                torch::Tensor a, torch::Tensor b, torch::Tensor s0) {
    const c10::cuda::CUDAGuard guard(r.device());
    const int B = r.size(0), T = r.size(1), H = r.size(2), N = r.size(3);
    if (N != cuda::kHeadSize)
      throw Error(ErrorKind::Argument, "CUDA wkv7 needs head size 64, got " + std::to_string(N));
    auto f = [](const torch::Tensor& x) { return x.to(torch::kFloat32).contiguous(); };
    auto r_ = f(r), w_ = f(w), k_ = f(k), v_ = f(v), a_ = f(a), b_ = f(b), s0_ = f(s0);
    auto y = torch::empty_like(r_), sa = torch::empty_like(r_), sT = torch::empty_like(s0_);
    auto ckpt = torch::empty({B, H, (T + cuda::kChunk - 1) / cuda::kChunk, N, N}, s0_.options());
    cuda::wkv7_forward(B, T, H, r_.data_ptr<float>(), w_.data_ptr<float>(), k_.data_ptr<float>(),
                       v_.data_ptr<float>(), a_.data_ptr<float>(), b_.data_ptr<float>(), s0_.data_ptr<float>(),
                       y.data_ptr<float>(), sT.data_ptr<float>(), ckpt.data_ptr<float>(), sa.data_ptr<float>(),
                       at::cuda::getCurrentCUDAStream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    ctx->save_for_backward({r_, w_, k_, v_, a_, b_, sT, ckpt, sa});
    ctx->saved_data["dtypes"] = std::vector<int64_t>{
        int64_t(r.scalar_type()), int64_t(w.scalar_type()), int64_t(k.scalar_type()),
        int64_t(v.scalar_type()), int64_t(a.scalar_type()), int64_t(b.scalar_type()), int64_t(s0.scalar_type())};
    return {y, sT};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto s = ctx->get_saved_variables();
    const c10::cuda::CUDAGuard guard(s[0].device());
    const int B = s[0].size(0), T = s[0].size(1), H = s[0].size(2);
    auto dy = grad[0].defined() ? grad[0].to(torch::kFloat32).contiguous() : torch::zeros_like(s[0]);
    auto dsT = grad[1].defined() ? grad[1].to(torch::kFloat32).contiguous() : torch::zeros_like(s[6]);
    std::vector<torch::Tensor> g;
    for (int i = 0; i < 6; ++i) g.push_back(torch::empty_like(s[0]));
    g.push_back(torch::empty_like(s[6]));
    cuda::wkv7_backward(B, T, H, s[0].data_ptr<float>(), s[1].data_ptr<float>(), s[2].data_ptr<float>(),
                        s[3].data_ptr<float>(), s[4].data_ptr<float>(), s[5].data_ptr<float>(),
                        s[6].data_ptr<float>(), s[7].data_ptr<float>(), s[8].data_ptr<float>(), dy.data_ptr<float>(),
                        dsT.data_ptr<float>(), g[0].data_ptr<float>(), g[1].data_ptr<float>(), g[2].data_ptr<float>(),
                        g[3].data_ptr<float>(), g[4].data_ptr<float>(), g[5].data_ptr<float>(), g[6].data_ptr<float>(),
                        at::cuda::getCurrentCUDAStream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    auto dtypes = ctx->saved_data["dtypes"].toIntVector();
    for (int i = 0; i < 7; ++i) g[i] = g[i].to(static_cast<torch::ScalarType>(dtypes[i]));
    return g;
  }
};

}  // namespace

std::vector<torch::Tensor> wkv7_cuda(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                                     const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                                     const torch::Tensor& s0) {
  const bool needs_grad = torch::GradMode::is_enabled() &&
                          (r.requires_grad() || w.requires_grad() || k.requires_grad() || v.requires_grad() ||
                           a.requires_grad() || b.requires_grad() || s0.requires_grad());
  if (needs_grad) return Wkv7Cuda::apply(r, w, k, v, a, b, s0);
  // Inference: no checkpoints, no saved sa, no autograd node.
  const c10::cuda::CUDAGuard guard(r.device());
  const int B = r.size(0), T = r.size(1), H = r.size(2), N = r.size(3);
  if (N != cuda::kHeadSize) throw Error(ErrorKind::Argument, "CUDA wkv7 needs head size 64, got " + std::to_string(N));
  auto f = [](const torch::Tensor& x) { return x.to(torch::kFloat32).contiguous(); };
  auto r_ = f(r), w_ = f(w), k_ = f(k), v_ = f(v), a_ = f(a), b_ = f(b), s0_ = f(s0);
  auto y = torch::empty_like(r_), sT = torch::empty_like(s0_);
  cuda::wkv7_forward(B, T, H, r_.data_ptr<float>(), w_.data_ptr<float>(), k_.data_ptr<float>(), v_.data_ptr<float>(),
                     a_.data_ptr<float>(), b_.data_ptr<float>(), s0_.data_ptr<float>(), y.data_ptr<float>(),
                     sT.data_ptr<float>(), nullptr, nullptr, at::cuda::getCurrentCUDAStream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {y, sT};
}

}  // namespace rwkv
