// LayerNorm of one vector plus the token-shift lerps (spec/rwkv7.md 1.2-1.5), one block: the
// vector is a few thousand floats, so the two block reductions cost less than a second launch.
#include "decode_kernels.h"
#include "decode_common.cuh"

namespace rwkv::cuda {
namespace {

constexpr int kThreads = 1024;

__global__ void __launch_bounds__(kThreads) norm_mix_kernel(const __grid_constant__ NormMixArgs p) {
  __shared__ float scratch[32];
  grid_dependency_wait();  // x (or the token) comes from the previous kernel
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
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    const float xn = (in(c) - mean) * inv_std * p.ln_w[c] + p.ln_b[c];
    if (p.n_mix == 0) {
      p.out[c] = xn;
      continue;
    }
    const float dx = p.shift[c] - xn;  // previous token's value minus this one's
#pragma unroll
    for (int m = 0; m < kMaxMix; ++m)
      if (m < p.n_mix) p.out[size_t(m) * C + c] = xn + dx * p.mix[m][c];
    p.shift[c] = xn;  // each channel is read and written by the same thread only
  }
}

}  // namespace

cudaError_t norm_mix(const NormMixArgs& args, cudaStream_t stream, bool pdl) {
  return launch(norm_mix_kernel, 1, kThreads, 0, stream, pdl, args);
}

}  // namespace rwkv::cuda
