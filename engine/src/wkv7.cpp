// wkv7 as a torch autograd function. Inputs are computed in the dtype of s0 (fp32, or fp64 for
// gradient checks); gradients are returned in each input's own dtype.
#include "wkv7.h"

#include "rwkv/error.h"

#ifdef RWKV_HAVE_CUDA
#include "wkv7_cuda.h"
#endif

namespace rwkv {
namespace {

constexpr int64_t kChunk = 16;  // CPU checkpoint interval: memory T/16 states, recompute 16 steps

class Wkv7Cpu : public torch::autograd::Function<Wkv7Cpu> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, torch::Tensor r,
                                                torch::Tensor w, torch::Tensor k, torch::Tensor v,
                                                torch::Tensor a, torch::Tensor b, torch::Tensor s0) {
    const auto dt = s0.scalar_type();
    auto prep = [&](const torch::Tensor& x) { return x.to(dt).contiguous(); };
    auto r_ = prep(r), w_ = prep(w), k_ = prep(k), v_ = prep(v), a_ = prep(a), b_ = prep(b);
    torch::Tensor y, sT, ckpt;
    wkv7_cpu_forward(r_, w_, k_, v_, a_, b_, s0.contiguous(), y, sT, &ckpt, kChunk);
    ctx->save_for_backward({r_, w_, k_, v_, a_, b_, ckpt});
    ctx->saved_data["dtypes"] = std::vector<int64_t>{
        static_cast<int64_t>(r.scalar_type()), static_cast<int64_t>(w.scalar_type()),
        static_cast<int64_t>(k.scalar_type()), static_cast<int64_t>(v.scalar_type()),
        static_cast<int64_t>(a.scalar_type()), static_cast<int64_t>(b.scalar_type())};
    return {y, sT};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto s = ctx->get_saved_variables();
    auto dy = grad[0].defined() ? grad[0].to(s[0].scalar_type()).contiguous() : torch::zeros_like(s[0]);
    const auto& ck = s[6];
    auto dsT = grad[1].defined() ? grad[1].to(s[0].scalar_type()).contiguous()
                                 : torch::zeros({ck.size(0), ck.size(1), ck.size(3), ck.size(4)}, ck.options());
    auto g = wkv7_cpu_backward(s[0], s[1], s[2], s[3], s[4], s[5], ck, kChunk, dy, dsT);
    auto dtypes = ctx->saved_data["dtypes"].toIntVector();
    for (int i = 0; i < 6; ++i) g[i] = g[i].to(static_cast<torch::ScalarType>(dtypes[i]));
    return g;
  }
};

}  // namespace

std::vector<torch::Tensor> wkv7(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                                const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                                const torch::Tensor& s0) {
  TORCH_CHECK(r.dim() == 4 && s0.dim() == 4, "wkv7: r [B,T,H,N], s0 [B,H,N,N]");
#ifdef RWKV_HAVE_CUDA
  if (r.is_cuda()) return wkv7_cuda(r, w, k, v, a, b, s0);
#endif
  if (!r.device().is_cpu())
    throw Error(ErrorKind::Argument, "wkv7: no kernel for device " + r.device().str() +
                                         " in this build (built without CUDA kernels)");
  return Wkv7Cpu::apply(r, w, k, v, a, b, s0);
}

}  // namespace rwkv
