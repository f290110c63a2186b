// Device helpers shared by the decode kernels: sums across a warp and a block, the logistic
// function, and programmatic dependent launch (PDL): a kernel launched with pdl = true may start
// while the previous kernel in the stream still runs; before grid_dependency_wait() it may only
// read data no earlier kernel of the token writes (weights, its own layer's wkv state).
#pragma once
#include <cuda_runtime.h>

#include "decode_kernels.h"

namespace rwkv::cuda {

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread.
// scratch: 32 floats of shared memory; every thread of the block must call it.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // a previous call's readers are done with scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int i = 0; i < int(blockDim.x / 32); ++i) total += scratch[i];
  return total;
}

__device__ __forceinline__ float sigmoidf(float x) { return 1.f / (1.f + expf(-x)); }

// Waits until the previous kernel in the stream has completed and its writes are visible, then
// lets the next kernel start launching (its blocks wait in their own grid_dependency_wait).
// Without a programmatic dependency both are no-ops.
__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Lets the next kernel in the stream start launching now, before this one has waited for its
// own predecessor (its blocks still wait in their grid_dependency_wait for this one to finish).
__device__ __forceinline__ void grid_dependency_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Issues the L2 prefetches of p, piece i (kL2Piece bytes of the ranges laid end to end) by
// thread i of the grid (and i + the grid's size, ...). Fire and forget: nothing waits for them.
__device__ __forceinline__ void prefetch_l2(const L2Prefetch& p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  const unsigned threads = gridDim.x * blockDim.x;
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x, first = 0;  // first piece of range r
  for (int r = 0; r < p.n; ++r) {
    const unsigned pieces = (p.bytes[r] + kL2Piece - 1) / kL2Piece;
    for (; i < first + pieces; i += threads) {
      const unsigned off = (i - first) * kL2Piece, left = p.bytes[r] - off;
      const char* src = static_cast<const char*>(p.ptr[r]) + off;
      asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(src), "r"(left < kL2Piece ? left : kL2Piece)
                   : "memory");
    }
    first += pieces;
  }
#endif
}

// kernel<<<grid, block, smem, stream>>>(args...), with pdl: as a programmatic dependent launch.
template <typename... Params, typename... Args>
cudaError_t launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, bool pdl,
                   Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

}  // namespace rwkv::cuda
