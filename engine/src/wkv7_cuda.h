// wkv7 on CUDA tensors through the kernels in engine/kernels (only with RWKV_HAVE_CUDA).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace rwkv {

// Same contract as wkv7() in wkv7.h; inputs on one CUDA device, head size 64.
std::vector<torch::Tensor> wkv7_cuda(const torch::Tensor& r, const torch::Tensor& w, const torch::Tensor& k,
                                     const torch::Tensor& v, const torch::Tensor& a, const torch::Tensor& b,
                                     const torch::Tensor& s0);

}  // namespace rwkv
