// relu_sq_forward / relu_sq_backward and cross_entropy_rows (tune_kernels.h).
#include <algorithm>
#include <cfloat>

#include "tune_common.cuh"

namespace rwkv::cuda {
namespace tune {
namespace {

// Eight bf16 at once.
struct __align__(16) Pack8 {
  __nv_bfloat162 h[4];
};

__global__ void relu_sq_fwd(size_t n8, const Pack8* __restrict__ u, Pack8* __restrict__ h) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n8; i += size_t(gridDim.x) * blockDim.x) {
    Pack8 p = u[i];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const float2 x = __bfloat1622float2(p.h[q]);
      const float a = fmaxf(x.x, 0.f), b = fmaxf(x.y, 0.f);
      p.h[q] = __floats2bfloat162_rn(a * a, b * b);
    }
    h[i] = p;
  }
}

__global__ void relu_sq_bwd(size_t n8, const Pack8* __restrict__ u, Pack8* __restrict__ dh) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n8; i += size_t(gridDim.x) * blockDim.x) {
    const Pack8 p = u[i];
    Pack8 d = dh[i];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const float2 x = __bfloat1622float2(p.h[q]), g = __bfloat1622float2(d.h[q]);
      d.h[q] = __floats2bfloat162_rn(2.f * g.x * fmaxf(x.x, 0.f), 2.f * g.y * fmaxf(x.y, 0.f));
    }
    dh[i] = d;
  }
}

// Running (max, sum of exp(x - max)) of a set of logits, and the merge of two such pairs.
struct SoftMax {
  float m = -FLT_MAX, s = 0.f;
  __device__ void add(float x) {
    if (x > m) {
      s = s * expf(m - x) + 1.f;
      m = x;
    } else {
      s += expf(x - m);
    }
  }
  __device__ void merge(float m2, float s2) {
    const float mm = fmaxf(m, m2);
    s = s * expf(m - mm) + s2 * expf(m2 - mm);
    m = mm;
  }
};

constexpr int kCeThreads = 256;

__global__ void __launch_bounds__(kCeThreads) ce_rows(int V, bf16* __restrict__ logits,
                                                      const int64_t* __restrict__ labels, float* __restrict__ loss) {
  __shared__ float sm_m[kCeThreads / 32], sm_s[kCeThreads / 32];
  __shared__ float label_logit;
  bf16* x = logits + size_t(blockIdx.x) * V;
  const int64_t label = labels[blockIdx.x];
  if (threadIdx.x == 0) label_logit = __bfloat162float(x[label]);  // before any thread overwrites it
  const bool vec = V % 8 == 0;
  SoftMax sm;
  if (vec) {
    const Pack8* x8 = reinterpret_cast<const Pack8*>(x);
    for (int i = threadIdx.x; i < V / 8; i += kCeThreads) {
      const Pack8 p = x8[i];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float2 f = __bfloat1622float2(p.h[q]);
        sm.add(f.x), sm.add(f.y);
      }
    }
  } else {
    for (int i = threadIdx.x; i < V; i += kCeThreads) sm.add(__bfloat162float(x[i]));
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, sm.m, o), s2 = __shfl_xor_sync(0xffffffffu, sm.s, o);
    sm.merge(m2, s2);
  }
  if (threadIdx.x % 32 == 0) sm_m[threadIdx.x / 32] = sm.m, sm_s[threadIdx.x / 32] = sm.s;
  __syncthreads();
  SoftMax all;
  for (int i = 0; i < kCeThreads / 32; ++i) all.merge(sm_m[i], sm_s[i]);
  const float lse = all.m + logf(all.s);
  if (threadIdx.x == 0) loss[blockIdx.x] = lse - label_logit;
  if (vec) {
    Pack8* x8 = reinterpret_cast<Pack8*>(x);
    for (int i = threadIdx.x; i < V / 8; i += kCeThreads) {
      Pack8 p = x8[i];
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        const float2 f = __bfloat1622float2(p.h[q]);
        const int j = 8 * i + 2 * q;
        p.h[q] = __floats2bfloat162_rn(expf(f.x - lse) - (j == label), expf(f.y - lse) - (j + 1 == label));
      }
      x8[i] = p;
    }
  } else {
    for (int i = threadIdx.x; i < V; i += kCeThreads)
      x[i] = __float2bfloat16(expf(__bfloat162float(x[i]) - lse) - (i == label));
  }
}

unsigned grid_for(size_t n8) { return unsigned(std::min<size_t>((n8 + 255) / 256, 132 * 16)); }

}  // namespace
}  // namespace tune

void relu_sq_forward(size_t n, const bf16* u, bf16* h, cudaStream_t stream) {
  // n is a multiple of 8 (n = M * 4C, C a multiple of 64)
  tune::relu_sq_fwd<<<tune::grid_for(n / 8), 256, 0, stream>>>(n / 8, reinterpret_cast<const tune::Pack8*>(u),
                                                               reinterpret_cast<tune::Pack8*>(h));
}

void relu_sq_backward(size_t n, const bf16* u, bf16* dh, cudaStream_t stream) {
  tune::relu_sq_bwd<<<tune::grid_for(n / 8), 256, 0, stream>>>(n / 8, reinterpret_cast<const tune::Pack8*>(u),
                                                               reinterpret_cast<tune::Pack8*>(dh));
}

void cross_entropy_rows(int n, int V, bf16* logits, const int64_t* labels, float* loss, cudaStream_t stream) {
  if (n > 0) tune::ce_rows<<<n, tune::kCeThreads, 0, stream>>>(V, logits, labels, loss);
}

}  // namespace rwkv::cuda
