// One wkv step at batch 1 with the gates around it (spec/rwkv7.md 1.3), one block per head.
// The 64 channel threads form w, a, v, kk, k' and the bonus; then each of the 8 warps updates 8
// rows of S (row i = value i), a lane holding keys 2*lane and 2*lane+1 so that a row is one
// coalesced 256-byte access; then GroupNorm, bonus and gate on the 64 outputs.
#include "decode_kernels.h"
#include "decode_common.cuh"

namespace rwkv::cuda {
namespace {

constexpr int N = 64;
constexpr int kWarps = 8;
constexpr int kRowsPerWarp = N / kWarps;
constexpr float kDecayScale = 0.6065306597126334f;  // e^-0.5

__global__ void __launch_bounds__(kWarps * 32) wkv_step_kernel(const __grid_constant__ WkvStepArgs p) {
  __shared__ float r_s[N], w_s[N], k_s[N], v_s[N], a_s[N], b_s[N], y_s[N];  // a_s = -kk, b_s = kk * a
  __shared__ float scratch[32];
  const int h = blockIdx.x, n = threadIdx.x, c = h * N + n;
  const bool channel = n < N;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, j = 2 * lane;

  // This layer's state is written only by this kernel, one token earlier: load it before
  // waiting for the projections.
  float2* S = reinterpret_cast<float2*>(p.state + size_t(h) * N * N);  // row i: S[i * N/2 + lane]
  float2 s[kRowsPerWarp];
#pragma unroll
  for (int q = 0; q < kRowsPerWarp; ++q) s[q] = S[(warp * kRowsPerWarp + q) * (N / 2) + lane];
  prefetch_l2(p.l2);
  grid_dependency_wait();

  float v = 0.f, kk = 0.f, a = 0.f, bonus_part = 0.f;
  if (channel) {
    const float r = p.r[c];
    float k = p.k[c];
    v = p.v[c];
    a = sigmoidf(p.a0[c] + p.a_lora[c]);
    if (p.v_lora) {
      v += (p.v_first[c] - v) * sigmoidf(p.v0[c] + p.v_lora[c]);
    } else {
      p.v_first[c] = v;
    }
    kk = k * p.k_k[c];                      // before k changes
    k = k * (1.f + (a - 1.f) * p.k_a[c]);
    r_s[n] = r;
    w_s[n] = expf(-kDecayScale * sigmoidf(p.w0[c] + p.w_lora[c]));
    k_s[n] = k;
    v_s[n] = v;
    bonus_part = r * k * p.r_k[c];
  }
  const float kk_norm = fmaxf(sqrtf(block_sum(kk * kk, scratch)), 1e-12f);
  const float bonus = block_sum(bonus_part, scratch);
  if (channel) {
    kk /= kk_norm;
    a_s[n] = -kk;
    b_s[n] = kk * a;
  }
  __syncthreads();

  const float2 wj{w_s[j], w_s[j + 1]}, kj{k_s[j], k_s[j + 1]}, rj{r_s[j], r_s[j + 1]};
  const float2 aj{a_s[j], a_s[j + 1]}, bj{b_s[j], b_s[j + 1]};
  float sa[kRowsPerWarp], y[kRowsPerWarp];
#pragma unroll
  for (int q = 0; q < kRowsPerWarp; ++q) sa[q] = s[q].x * aj.x + s[q].y * aj.y;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
#pragma unroll
    for (int q = 0; q < kRowsPerWarp; ++q) sa[q] += __shfl_xor_sync(0xffffffffu, sa[q], o);
#pragma unroll
  for (int q = 0; q < kRowsPerWarp; ++q) {
    const float vi = v_s[warp * kRowsPerWarp + q];
    s[q].x = s[q].x * wj.x + sa[q] * bj.x + vi * kj.x;
    s[q].y = s[q].y * wj.y + sa[q] * bj.y + vi * kj.y;
    S[(warp * kRowsPerWarp + q) * (N / 2) + lane] = s[q];
    y[q] = s[q].x * rj.x + s[q].y * rj.y;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
#pragma unroll
    for (int q = 0; q < kRowsPerWarp; ++q) y[q] += __shfl_xor_sync(0xffffffffu, y[q], o);
  if (lane == 0)
#pragma unroll
    for (int q = 0; q < kRowsPerWarp; ++q) y_s[warp * kRowsPerWarp + q] = y[q];
  __syncthreads();

  // GroupNorm over this head's N outputs, then affine, bonus and gate.
  const float yn = channel ? y_s[n] : 0.f;
  const float mean = block_sum(yn, scratch) / N;
  const float d = channel ? yn - mean : 0.f;
  const float var = block_sum(d * d, scratch) / N;
  if (channel) p.out[c] = (d / sqrtf(var + 64e-5f) * p.ln_x_w[c] + p.ln_x_b[c] + bonus * v) * p.g[c];
}

}  // namespace

cudaError_t wkv_step(const WkvStepArgs& args, cudaStream_t stream, bool pdl) {
  return launch(wkv_step_kernel, args.H, kWarps * 32, 0, stream, pdl, args);
}

}  // namespace rwkv::cuda
