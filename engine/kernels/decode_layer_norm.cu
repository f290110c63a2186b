// LayerNorm of one vector (spec/rwkv7.md 1.1), one block: the embedding row, the first value of
// the residual stream. The vector is a few thousand values, so two block reductions are all it
// costs.
#include "decode_kernels.h"
#include "decode_common.cuh"

namespace rwkv::cuda {
namespace {

constexpr int kThreads = 1024;

__global__ void __launch_bounds__(kThreads) layer_norm_kernel(const __grid_constant__ LayerNormArgs p) {
  __shared__ float scratch[32];
  prefetch_l2(p.l2);
  grid_dependency_wait();  // x (or the token) comes from before this kernel
  const int C = p.C;
  const __nv_bfloat16* row = p.x ? nullptr : p.emb + size_t(*p.token) * size_t(C);
  auto in = [&](int c) { return p.x ? p.x[c] : __bfloat162float(row[c]); };
  float part = 0.f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) part += in(c);
  const float mean = block_sum(part, scratch) / C;
  part = 0.f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float d = in(c) - mean;
    part += d * d;
  }
  const float inv_std = 1.f / sqrtf(block_sum(part, scratch) / C + 1e-5f);  // biased variance
  for (int c = threadIdx.x; c < C; c += blockDim.x) p.out[c] = (in(c) - mean) * inv_std * p.ln_w[c] + p.ln_b[c];
}

}  // namespace

cudaError_t layer_norm(const LayerNormArgs& args, cudaStream_t stream, bool pdl) {
  return launch(layer_norm_kernel, 1, kThreads, 0, stream, pdl, args);
}

}  // namespace rwkv::cuda
