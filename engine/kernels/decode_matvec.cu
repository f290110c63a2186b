// bf16 matrix-vector products for batch-1 decoding, bound by the weights' read bandwidth:
// one launch runs a table of independent jobs. The grid is about what the GPU holds at once
// (two blocks per SM), shared among the jobs by their size; a block walks its job's tiles of
// kWarps * R rows, one warp streaming R rows with 16-byte loads (8 bf16), U loads per row in
// flight per lane, the next step's loads (in the same row or the next tile) issued before the
// current ones are used, and rows reduced by shuffles. So a block pays its fixed costs once:
// its first loads are issued before it waits for the previous kernel (and before it lets the
// next kernel launch), then it stages its input in shared memory as bf16 (with a LayerNorm and
// token-shift lerp computed by the block itself when the job has one) while they are in flight.
// Long rows take R = 1, U = 8; rows of at most 256 (the LoRA up-projections, one load per lane)
// take R = 8, U = 1. Measured on an H200 (docs/benchmarks.md, session 7) against this form and
// lost: the weights through a cp.async ring in shared memory with one block an SM (so that the
// next kernel's block fits beside it), 4 loads a row two steps ahead, and 3-4 blocks an SM.
#include <cstdint>

#include "decode_kernels.h"
#include "decode_common.cuh"

namespace rwkv::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kShortCols = 32 * 8;  // rows this short are one 16-byte load per lane

constexpr int kThreads = kWarps * 32;
constexpr int kNormVec = kMaxNormCols / 4 / kThreads;  // float4 of a LayerNorm input per thread

struct LaunchArgs {
  MatvecJob job[kMaxMatvecJobs];
  int block_end[kMaxMatvecJobs];  // job i owns blocks [block_end[i-1], block_end[i])
  int n;
  float* save_norm;               // block 0 writes job 0's xn here
  const float* copy_src;          // the grid copies copy_n floats after the wait
  float* copy_dst;
  int copy_n;
  L2Prefetch l2;                  // later kernels' weights, fetched into L2 before the wait
};

// A block's steps: step k reads tile local + (k / iters) * stride (a tile is rows_per_tile rows,
// this warp's start at warp_row) from chunk lane + (k % iters) * 32U of its rows.
template <int U>
struct Walk {
  int local, stride, iters, rows_per_tile, warp_row, lane;
  __device__ void at(int k, int& row0, int& c0) const {
    row0 = (local + (k / iters) * stride) * rows_per_tile + warp_row;
    c0 = lane + (k % iters) * 32 * U;
  }
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

__device__ __forceinline__ float4 load4(const float* p, int i) { return reinterpret_cast<const float4*>(p)[i]; }

__device__ __forceinline__ void store_bf16x4(__nv_bfloat16* xh, int i, float4 v) {
  __nv_bfloat162* d = reinterpret_cast<__nv_bfloat162*>(xh) + 2 * i;
  d[0] = __floats2bfloat162_rn(v.x, v.y);
  d[1] = __floats2bfloat162_rn(v.z, v.w);
}

__device__ __forceinline__ float4 activate4(InputAct act, float4 v) {
  return make_float4(activate(act, v.x), activate(act, v.y), activate(act, v.z), activate(act, v.w));
}

// xh [cols] = the job's input as bf16. With ln_w: xn = LayerNorm(x) from values held in
// registers (two block reductions), written to `save` when given, then the lerp with shift.
__device__ __forceinline__ void stage_input(const MatvecJob& job, __nv_bfloat16* xh, float* scratch, float* save) {
  const int n4 = job.cols / 4;
  if (!job.ln_w) {  // four loads in flight per thread, then their stores
    for (int i0 = threadIdx.x; i0 < n4; i0 += 4 * kThreads) {
      float4 v[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) v[q] = i0 + q * kThreads < n4 ? load4(job.x, i0 + q * kThreads) : float4{};
#pragma unroll
      for (int q = 0; q < 4; ++q)
        if (i0 + q * kThreads < n4) store_bf16x4(xh, i0 + q * kThreads, activate4(job.act, v[q]));
    }
    return;
  }
  float4 v[kNormVec];
  float part = 0.f;
#pragma unroll
  for (int q = 0; q < kNormVec; ++q) {
    const int i = threadIdx.x + q * kThreads;
    v[q] = i < n4 ? load4(job.x, i) : make_float4(0.f, 0.f, 0.f, 0.f);
    part += (v[q].x + v[q].y) + (v[q].z + v[q].w);
  }
  const float mean = block_sum(part, scratch) / job.cols;
  part = 0.f;
#pragma unroll
  for (int q = 0; q < kNormVec; ++q) {
    if (threadIdx.x + q * kThreads >= n4) continue;
    const float4 d = make_float4(v[q].x - mean, v[q].y - mean, v[q].z - mean, v[q].w - mean);
    part += (d.x * d.x + d.y * d.y) + (d.z * d.z + d.w * d.w);
  }
  const float inv_std = 1.f / sqrtf(block_sum(part, scratch) / job.cols + 1e-5f);  // biased variance
#pragma unroll
  for (int q = 0; q < kNormVec; ++q) {
    const int i = threadIdx.x + q * kThreads;
    if (i >= n4) continue;
    const float4 w = load4(job.ln_w, i), b = load4(job.ln_b, i);
    float4 xn = make_float4((v[q].x - mean) * inv_std * w.x + b.x, (v[q].y - mean) * inv_std * w.y + b.y,
                            (v[q].z - mean) * inv_std * w.z + b.z, (v[q].w - mean) * inv_std * w.w + b.w);
    if (save) reinterpret_cast<float4*>(save)[i] = xn;
    if (job.mix) {  // xn + (previous token's xn - xn) * mix
      const float4 sh = load4(job.shift, i), m = load4(job.mix, i);
      xn = make_float4(xn.x + (sh.x - xn.x) * m.x, xn.y + (sh.y - xn.y) * m.y, xn.z + (sh.z - xn.z) * m.z,
                       xn.w + (sh.w - xn.w) * m.w);
    }
    store_bf16x4(xh, i, activate4(job.act, xn));
  }
}

template <int R, int U>
__global__ void __launch_bounds__(kThreads, 2) matvec_kernel(const __grid_constant__ LaunchArgs args) {
  extern __shared__ uint4 xs[];  // the input as bf16, cols / 8 chunks of 8
  __shared__ float scratch[32];
  int j = 0;
  while (j + 1 < args.n && int(blockIdx.x) >= args.block_end[j]) ++j;
  const MatvecJob& job = args.job[j];
  const int first_block = j ? args.block_end[j - 1] : 0;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int chunks = job.cols / 8, rows_per_tile = kWarps * R;
  const int tiles = (job.rows + rows_per_tile - 1) / rows_per_tile;
  const Walk<U> walk{int(blockIdx.x) - first_block, args.block_end[j] - first_block,
                     (chunks + 32 * U - 1) / (32 * U), rows_per_tile, warp * R, lane};
  const int steps = (tiles - walk.local + walk.stride - 1) / walk.stride * walk.iters;
  const uint4* W = reinterpret_cast<const uint4*>(job.W);
  uint4 w[R][U];
  int row0, c0;
  walk.at(0, row0, c0);
  load_chunks(w, W, row0, job.rows, chunks, c0);  // weights: written by no kernel
  prefetch_l2(args.l2);

  grid_dependency_trigger();  // the next kernel may launch now (it waits for this one to end)
  grid_dependency_wait();     // x, the shift (and y, for AddTo) come from earlier kernels
  for (int i = int(blockIdx.x) * kThreads + threadIdx.x; i < args.copy_n; i += int(gridDim.x) * kThreads)
    args.copy_dst[i] = args.copy_src[i];
  stage_input(job, reinterpret_cast<__nv_bfloat16*>(xs), scratch, blockIdx.x == 0 ? args.save_norm : nullptr);
  __syncthreads();

  float acc[R] = {};
  for (int k = 0; k < steps; ++k) {
    walk.at(k, row0, c0);
    uint4 wn[R][U];
    if (k + 1 < steps) {  // in flight while w is used
      int row1, c1;
      walk.at(k + 1, row1, c1);
      load_chunks(wn, W, row1, job.rows, chunks, c1);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = c0 + u * 32;
      if (c >= chunks) break;
      const uint4 xv = xs[c];
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r] = dot8(w[r][u], xv, acc[r]);
    }
    if ((k + 1) % walk.iters == 0) {  // the tile's rows are complete
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float s = warp_sum(acc[r]);
        acc[r] = 0.f;
        const int row = row0 + r;
        if (lane != 0 || row >= job.rows) continue;
        switch (job.epi) {
          case Epilogue::AddTo: job.y[row] += s; break;
          case Epilogue::ReluSquare: job.y[row] = s > 0.f ? s * s : 0.f; break;
          default: job.y[row] = s;
        }
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int u = 0; u < U; ++u) w[r][u] = wn[r][u];
  }
}

int sm_count() {
  static const int n = [] {
    int dev = 0, sms = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    return sms > 0 ? sms : 1;
  }();
  return n;
}

// Block table and launch of one batch with R rows per warp, U loads per row in flight: two
// blocks per SM (what __launch_bounds__ asks for), shared among the jobs in proportion to their
// tiles, at least one and at most one per tile each.
template <int R, int U>
cudaError_t launch_batch(const MatvecBatch& batch, int max_cols, cudaStream_t stream, bool pdl) {
  LaunchArgs args{};
  int tiles[kMaxMatvecJobs], total = 0;
  for (int i = 0; i < batch.n; ++i) total += tiles[i] = (batch.job[i].rows + kWarps * R - 1) / (kWarps * R);
  const double per_tile = double(2 * sm_count()) / total;
  int blocks = 0;
  for (int i = 0; i < batch.n; ++i) {
    args.job[i] = batch.job[i];
    const int b = int(tiles[i] * per_tile + 0.5);
    blocks += b < 1 ? 1 : (b > tiles[i] ? tiles[i] : b);
    args.block_end[i] = blocks;
  }
  args.n = batch.n;
  args.save_norm = batch.save_norm;
  args.copy_src = batch.copy_src;
  args.copy_dst = batch.copy_dst;
  args.copy_n = batch.copy_src && batch.copy_dst ? batch.copy_n : 0;
  args.l2 = batch.l2;
  return launch(matvec_kernel<R, U>, blocks, kThreads, size_t(max_cols) * sizeof(__nv_bfloat16), stream, pdl, args);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool matvec_job_ok(const MatvecJob& j) {
  const bool shape = j.W && j.x && j.y && j.rows > 0 && j.cols > 0 && j.cols % 8 == 0 && j.cols <= kMaxCols;
  const bool aligned = aligned16(j.W) && aligned16(j.x);
  if (!j.ln_w) return shape && aligned;
  const bool norm = j.ln_b && j.cols <= kMaxNormCols && aligned16(j.ln_w) && aligned16(j.ln_b) &&
                    (!j.mix || (j.shift && aligned16(j.mix) && aligned16(j.shift)));
  return shape && aligned && norm;
}

cudaError_t matvec_bf16(const MatvecBatch& batch, cudaStream_t stream, bool pdl) {
  if (batch.n < 1 || batch.n > kMaxMatvecJobs) return cudaErrorInvalidValue;
  int max_cols = 0;
  for (int i = 0; i < batch.n; ++i) {
    if (!matvec_job_ok(batch.job[i])) return cudaErrorInvalidValue;
    max_cols = batch.job[i].cols > max_cols ? batch.job[i].cols : max_cols;
  }
  if (batch.save_norm && (!batch.job[0].ln_w || !aligned16(batch.save_norm))) return cudaErrorInvalidValue;
  return max_cols <= kShortCols ? launch_batch<8, 1>(batch, max_cols, stream, pdl)
                                : launch_batch<1, 8>(batch, max_cols, stream, pdl);
}

}  // namespace rwkv::cuda
