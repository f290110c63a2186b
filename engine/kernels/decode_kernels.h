// Launchers of the fused single-token decode kernels (spec/rwkv7.md 1.2-1.5 at batch 1, raw
// pointers, no torch). Vectors are fp32 [C] (C = H*64) unless noted; weights bf16. Everything
// runs on `stream` and nothing synchronises the host, so a whole token can be captured into
// one CUDA graph. pdl: launch as a programmatic dependent launch (sm_90), so that the kernel's
// blocks start, and begin reading weights, while the previous kernel finishes; every kernel
// reads its inputs only after the previous kernel has completed. Launchers return the launch's
// error code.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace rwkv::cuda {

// ---- LayerNorm + token shift -------------------------------------------------------------

constexpr int kMaxMix = 6;  // r, w, k, v, a, g

// xn = LayerNorm(in; ln_w, ln_b) (eps 1e-5), in = x, or emb[*token] when x is null.
// With n_mix > 0 (shift required): out[m] = xn + (shift - xn) * mix[m] for m < n_mix
// (out [n_mix][C]), then shift = xn. With n_mix == 0: out = xn (shift unused).
struct NormMixArgs {
  const float* x;              // [C], or null to read the embedding row
  const __nv_bfloat16* emb;    // [V,C] (only when x is null)
  const int64_t* token;        // [1]  (only when x is null)
  const float* ln_w;           // [C]
  const float* ln_b;           // [C]
  float* shift;                // [C] previous token's xn, replaced by this token's
  const float* mix[kMaxMix];   // [C] lerp coefficients
  int n_mix;
  float* out;                  // [max(n_mix,1)][C]
  int C;
};
cudaError_t norm_mix(const NormMixArgs& args, cudaStream_t stream, bool pdl);

// ---- bf16 matrix-vector products, several in one launch ----------------------------------

enum class InputAct : int { None, Tanh, Sigmoid };          // applied to x on load
enum class Epilogue : int { Store, AddTo, ReluSquare };     // y = s | y += s | y = max(s,0)^2

// s = W act(x) for an nn.Linear weight W [rows, cols] (row-major). act(x) is rounded to bf16
// before the product (as the eager forward does with x.to(bf16)); the sum is fp32.
// Layout rules (matvec_job_ok): W 16-byte aligned, cols a multiple of 8 and <= kMaxCols.
struct MatvecJob {
  const __nv_bfloat16* W;  // [rows, cols]
  const float* x;          // [cols]
  float* y;                // [rows]; must not overlap x of any job in the same launch
  int rows;
  int cols;
  InputAct act;
  Epilogue epi;
};

constexpr int kMaxMatvecJobs = 8;
constexpr int kMaxCols = 24576;  // act(x) is staged in shared memory as bf16: <= 48 KiB

struct MatvecBatch {
  MatvecJob job[kMaxMatvecJobs];
  int n = 0;
  void add(const MatvecJob& j) {
    if (n < kMaxMatvecJobs) job[n] = j;
    ++n;  // an overfull batch is refused by matvec_bf16
  }
};

bool matvec_job_ok(const MatvecJob& j);
// All jobs of the batch in one launch; they must be independent of each other. Returns
// cudaErrorInvalidValue, launching nothing, when the batch is empty, too long, or a job breaks
// the layout rules.
cudaError_t matvec_bf16(const MatvecBatch& batch, cudaStream_t stream, bool pdl);

// ---- one wkv step with everything around it ----------------------------------------------

// Per head h (one block each, N = 64, c = h*N + n), from the projections and LoRA outputs:
//   w = exp(-e^-0.5 sigmoid(w0 + w_lora)), a = sigmoid(a0 + a_lora)
//   layer 0 (v_lora null): v_first = v;  else v += (v_first - v) sigmoid(v0 + v_lora)
//   kk = normalize(k * k_k), k' = k (1 + (a - 1) k_a)
//   S = S diag(w) + (S (-kk)) (kk a)^T + v k'^T,  y = S r           (S [value i][key j])
//   out = (GroupNorm(y; eps 64e-5) ln_x_w + ln_x_b + (sum_n r k' r_k) v) * g
struct WkvStepArgs {
  const float *r, *k, *v;                      // projections
  const float *w_lora, *a_lora, *v_lora, *g;   // LoRA outputs (v_lora null in layer 0)
  const float *w0, *a0, *v0;                   // biases (v0 unused in layer 0)
  const float *k_k, *k_a, *r_k;                // r_k [H,N] = [C]
  const float *ln_x_w, *ln_x_b;
  float* v_first;                              // written in layer 0, read after
  float* state;                                // [H,N,N] fp32, updated in place
  float* out;                                  // gated output, input of W_o
  int H;
};
cudaError_t wkv_step(const WkvStepArgs& args, cudaStream_t stream, bool pdl);

}  // namespace rwkv::cuda
