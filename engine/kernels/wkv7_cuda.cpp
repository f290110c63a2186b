// The CUDA wkv7 kernels as a torch autograd function. r, k, v, a, b run as bf16 when all five
// are bf16 (what the tuner's forward gives them), else as fp32; w and s0 always as fp32.
// Gradients are returned in each input's dtype.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>

#include "rwkv/error.h"
#include "wkv7_cuda.h"
#include "wkv7_kernels.h"

namespace rwkv {
namespace {

using torch::Tensor;

// The five In-typed inputs share one dtype: bf16 if all are bf16, else fp32.
torch::ScalarType input_dtype(std::initializer_list<Tensor> ts) {
  for (const auto& t : ts)
    if (t.scalar_type() != torch::kBFloat16) return torch::kFloat32;
  return torch::kBFloat16;
}

template <typename In>
const In* in_ptr(const Tensor& t) {
  return reinterpret_cast<const In*>(t.data_ptr());
}
float* f(const Tensor& t) { return t.data_ptr<float>(); }

Tensor workspace(int B, int T, int H, const Tensor& like) {
  return torch::empty({int64_t(cuda::wkv7_workspace_floats(B, T, H))}, like.options().dtype(torch::kFloat32));
}

// ins = {r, w, k, v, a, b} prepared (contiguous, In / fp32 / In...). ckpt, sa, G, QG null = not kept.
void run_forward(const std::vector<Tensor>& in, const Tensor& s0, Tensor& y, Tensor& sT, Tensor* ckpt, Tensor* sa,
                 Tensor* G, Tensor* QG) {
  const int B = in[0].size(0), T = in[0].size(1), H = in[0].size(2);
  auto opt = s0.options();
  y = torch::empty({B, T, H, cuda::kHeadSize}, opt);
  sT = torch::empty_like(s0);
  if (ckpt) *ckpt = torch::empty({B, H, cuda::n_chunks(T), cuda::kHeadSize, cuda::kHeadSize}, opt);
  if (sa) *sa = torch::empty({B, T, H, cuda::kHeadSize}, opt);
  if (G) *G = torch::empty({B, H, cuda::n_spans(T), cuda::kHeadSize, cuda::kHeadSize}, opt);
  if (QG) *QG = torch::empty({B, T, H, cuda::kHeadSize}, opt);
  auto work = workspace(B, T, H, s0);
  auto run = [&](auto tag) {
    using In = decltype(tag);
    cuda::wkv7_forward<In>(B, T, H, in_ptr<In>(in[0]), f(in[1]), in_ptr<In>(in[2]), in_ptr<In>(in[3]),
                           in_ptr<In>(in[4]), in_ptr<In>(in[5]), f(s0), f(y), f(sT), ckpt ? f(*ckpt) : nullptr,
                           sa ? f(*sa) : nullptr, G ? f(*G) : nullptr, QG ? f(*QG) : nullptr, f(work),
                           at::cuda::getCurrentCUDAStream());
  };
  if (in[0].scalar_type() == torch::kBFloat16) run(__nv_bfloat16{});
  else run(float{});
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::vector<Tensor> prepare(const Tensor& r, const Tensor& w, const Tensor& k, const Tensor& v, const Tensor& a,
                            const Tensor& b) {
  const int64_t N = r.size(3);
  if (N != cuda::kHeadSize) throw Error(ErrorKind::Argument, "CUDA wkv7 needs head size 64, got " + std::to_string(N));
  const auto dt = input_dtype({r, k, v, a, b});
  auto c = [&](const Tensor& x) { return x.to(dt).contiguous(); };
  return {c(r), w.to(torch::kFloat32).contiguous(), c(k), c(v), c(a), c(b)};
}

class Wkv7Cuda : public torch::autograd::Function<Wkv7Cuda> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, Tensor r, Tensor w, Tensor k,
                                                Tensor v, Tensor a, Tensor b, Tensor s0) {
    const c10::cuda::CUDAGuard guard(r.device());
    auto in = prepare(r, w, k, v, a, b);
    auto s0_ = s0.to(torch::kFloat32).contiguous();
    Tensor y, sT, ckpt, sa, G, QG;
    run_forward(in, s0_, y, sT, &ckpt, &sa, &G, &QG);
    in.insert(in.end(), {sT, ckpt, sa, G, QG});
    ctx->save_for_backward(in);
    ctx->saved_data["dtypes"] = std::vector<int64_t>{
        int64_t(r.scalar_type()), int64_t(w.scalar_type()), int64_t(k.scalar_type()),
        int64_t(v.scalar_type()), int64_t(a.scalar_type()), int64_t(b.scalar_type()), int64_t(s0.scalar_type())};
    return {y, sT};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    auto s = ctx->get_saved_variables();  // r w k v a b sT ckpt sa G QG
    const c10::cuda::CUDAGuard guard(s[0].device());
    const int B = s[0].size(0), T = s[0].size(1), H = s[0].size(2);
    auto fopt = s[6].options();
    auto dy = grad[0].defined() ? grad[0].to(torch::kFloat32).contiguous() : torch::zeros(s[0].sizes(), fopt);
    auto dsT = grad[1].defined() ? grad[1].to(torch::kFloat32).contiguous() : Tensor();
    std::vector<Tensor> g;
    for (int i = 0; i < 6; ++i) g.push_back(torch::empty(s[0].sizes(), fopt));
    g.push_back(torch::empty_like(s[6]));
    auto work = workspace(B, T, H, s[6]);
    auto run = [&](auto tag) {
      using In = decltype(tag);
      cuda::wkv7_backward<In>(B, T, H, in_ptr<In>(s[0]), f(s[1]), in_ptr<In>(s[2]), in_ptr<In>(s[3]),
                              in_ptr<In>(s[4]), in_ptr<In>(s[5]), f(s[6]), f(s[7]), f(s[8]), f(s[9]), f(s[10]), f(dy),
                              dsT.defined() ? f(dsT) : nullptr, f(g[0]), f(g[1]), f(g[2]), f(g[3]), f(g[4]),
                              f(g[5]), f(g[6]), /*ds0_only=*/false, f(work), at::cuda::getCurrentCUDAStream());
    };
    if (s[0].scalar_type() == torch::kBFloat16) run(__nv_bfloat16{});
    else run(float{});
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
  // Inference: no checkpoints, no saved sa, G or QG, no autograd node.
  const c10::cuda::CUDAGuard guard(r.device());
  Tensor y, sT;
  run_forward(prepare(r, w, k, v, a, b), s0.to(torch::kFloat32).contiguous(), y, sT, nullptr, nullptr, nullptr,
              nullptr);
  return {y, sT};
}

}  // namespace rwkv
