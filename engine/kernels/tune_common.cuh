// Device helpers of the fused state-tuning kernels: paired loads and stores (two channels per
// lane), a warp per row or per (row, head).
#pragma once
#include <cuda_bf16.h>

#include "decode_common.cuh"
#include "tune_kernels.h"

namespace rwkv::cuda::tune {

constexpr int kWarps = 8;  // warps per block
constexpr int kBlock = 32 * kWarps;
constexpr int N = 64;      // head size

__device__ __forceinline__ float2 ld2(const float* p) { return *reinterpret_cast<const float2*>(p); }
__device__ __forceinline__ float2 ld2(const bf16* p) {
  return __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
}
__device__ __forceinline__ void st2(float* p, float a, float b) { *reinterpret_cast<float2*>(p) = make_float2(a, b); }
__device__ __forceinline__ void st2(bf16* p, float a, float b) {
  *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
}
__device__ __forceinline__ float2 operator+(float2 a, float2 b) { return make_float2(a.x + b.x, a.y + b.y); }

// The calling warp's index in the grid and its lane.
__device__ __forceinline__ int warp_id() { return int(blockIdx.x) * kWarps + int(threadIdx.x) / 32; }
__device__ __forceinline__ int lane_id() { return int(threadIdx.x) % 32; }

inline unsigned blocks_for_warps(size_t warps) { return unsigned((warps + kWarps - 1) / kWarps); }

}  // namespace rwkv::cuda::tune
