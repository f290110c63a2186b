// bf16 matrix-vector products for batch-1 decoding, bound by the weights' read bandwidth:
// one launch runs a table of independent jobs. Each block owns kWarps * R rows of one job; every
// warp streams R rows with 16-byte loads (8 bf16), U loads per row in flight per lane, and
// reduces by shuffles. The first loads are issued before the block waits for the previous kernel
// and stages act(x) in shared memory as bf16, so both latencies overlap. Long rows take R = 2,
// U = 8; rows of at most 256 (the LoRA up-projections, one load per lane) take R = 8, U = 1, so
// that a quarter of the blocks do the same work.
#include <cstdint>

#include "decode_kernels.h"
#include "decode_common.cuh"

namespace rwkv::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kShortCols = 32 * 8;  // rows this short are one 16-byte load per lane

struct LaunchArgs {
  MatvecJob job[kMaxMatvecJobs];
  int block_end[kMaxMatvecJobs];  // job i owns blocks [block_end[i-1], block_end[i])
  int n;
};

__device__ __forceinline__ float activate(InputAct act, float x) {
  switch (act) {
    case InputAct::Tanh: return tanhf(x);
    case InputAct::Sigmoid: return sigmoidf(x);
    default: return x;
  }
}

// acc + sum over 8 lanes of w * x, both 8 packed bf16.
__device__ __forceinline__ float dot8(const uint4& w, const uint4& x, float acc) {
  const __nv_bfloat162* w2 = reinterpret_cast<const __nv_bfloat162*>(&w);
  const __nv_bfloat162* x2 = reinterpret_cast<const __nv_bfloat162*>(&x);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 wf = __bfloat1622float2(w2[i]), xf = __bfloat1622float2(x2[i]);
    acc = fmaf(wf.x, xf.x, acc);
    acc = fmaf(wf.y, xf.y, acc);
  }
  return acc;
}

// w[r][u] = chunk c0 + 32u of row row0 + r (zeros past the matrix).
template <int R, int U>
__device__ __forceinline__ void load_chunks(uint4 (&w)[R][U], const uint4* W, int row0, int rows, int chunks, int c0) {
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = c0 + u * 32, row = row0 + r;
      w[r][u] = (row < rows && c < chunks) ? __ldcs(W + size_t(row) * chunks + c) : make_uint4(0, 0, 0, 0);
    }
}

template <int R, int U>
__global__ void __launch_bounds__(kWarps * 32) matvec_kernel(const __grid_constant__ LaunchArgs args) {
  extern __shared__ uint4 xs[];  // act(x) as bf16, cols / 8 chunks of 8
  int j = 0;
  while (j + 1 < args.n && int(blockIdx.x) >= args.block_end[j]) ++j;
  const MatvecJob& job = args.job[j];
  const int first_row = (int(blockIdx.x) - (j ? args.block_end[j - 1] : 0)) * kWarps * R;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int chunks = job.cols / 8;
  const int row0 = first_row + warp * R;
  const uint4* W = reinterpret_cast<const uint4*>(job.W);
  uint4 w[R][U];
  load_chunks(w, W, row0, job.rows, chunks, lane);  // weights: written by no kernel

  grid_dependency_wait();  // x (and y, for AddTo) come from earlier kernels
  __nv_bfloat16* xh = reinterpret_cast<__nv_bfloat16*>(xs);
  for (int c = threadIdx.x; c < job.cols; c += blockDim.x) xh[c] = __float2bfloat16(activate(job.act, job.x[c]));
  __syncthreads();

  float acc[R] = {};
  for (int c0 = lane; c0 < chunks; c0 += 32 * U) {
    if (c0 != lane) load_chunks(w, W, row0, job.rows, chunks, c0);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = c0 + u * 32;
      if (c >= chunks) break;
      const uint4 xv = xs[c];
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r] = dot8(w[r][u], xv, acc[r]);
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const float s = warp_sum(acc[r]);
    const int row = row0 + r;
    if (lane != 0 || row >= job.rows) continue;
    switch (job.epi) {
      case Epilogue::AddTo: job.y[row] += s; break;
      case Epilogue::ReluSquare: job.y[row] = s > 0.f ? s * s : 0.f; break;
      default: job.y[row] = s;
    }
  }
}

// Block table and launch of one batch with R rows per warp, U loads per row in flight.
template <int R, int U>
cudaError_t launch_batch(const MatvecBatch& batch, int max_cols, cudaStream_t stream, bool pdl) {
  LaunchArgs args{};
  int blocks = 0;
  for (int i = 0; i < batch.n; ++i) {
    args.job[i] = batch.job[i];
    blocks += (batch.job[i].rows + kWarps * R - 1) / (kWarps * R);
    args.block_end[i] = blocks;
  }
  args.n = batch.n;
  return launch(matvec_kernel<R, U>, blocks, kWarps * 32, size_t(max_cols) * sizeof(__nv_bfloat16), stream, pdl,
                args);
}

}  // namespace

bool matvec_job_ok(const MatvecJob& j) {
  return j.W && j.x && j.y && j.rows > 0 && j.cols > 0 && j.cols % 8 == 0 && j.cols <= kMaxCols &&
         reinterpret_cast<uintptr_t>(j.W) % 16 == 0;
}

cudaError_t matvec_bf16(const MatvecBatch& batch, cudaStream_t stream, bool pdl) {
  if (batch.n < 1 || batch.n > kMaxMatvecJobs) return cudaErrorInvalidValue;
  int max_cols = 0;
  for (int i = 0; i < batch.n; ++i) {
    if (!matvec_job_ok(batch.job[i])) return cudaErrorInvalidValue;
    max_cols = batch.job[i].cols > max_cols ? batch.job[i].cols : max_cols;
  }
  return max_cols <= kShortCols ? launch_batch<8, 1>(batch, max_cols, stream, pdl)
                                : launch_batch<2, 8>(batch, max_cols, stream, pdl);
}

}  // namespace rwkv::cuda
