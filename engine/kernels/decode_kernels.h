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

// ---- weights of later kernels pulled into L2 -----------------------------------------------

// Byte ranges (16-byte aligned, multiples of 16 bytes) that a kernel asks L2 to fetch before it
// waits for the previous kernel: weights of the kernels after it, so that HBM keeps streaming
// while kernel boundaries, input staging and the latency-bound small kernels would leave it
// idle. The grid's threads share the ranges in pieces of kL2Piece bytes.
constexpr int kMaxL2Ranges = 16;
constexpr unsigned kL2Piece = 4096;
struct L2Prefetch {
  const void* ptr[kMaxL2Ranges];
  unsigned bytes[kMaxL2Ranges];
  int n = 0;
};

// ---- LayerNorm of one vector ---------------------------------------------------------------

// out = LayerNorm(in; ln_w, ln_b) (eps 1e-5), in = x, or emb[*token] when x is null: the
// embedding norm. The other LayerNorms (inside a layer, and ln_out before the head) are computed
// by the matrix-vector kernel that reads them (MatvecJob::ln_w).
struct LayerNormArgs {
  const float* x;              // [C], or null to read the embedding row
  const __nv_bfloat16* emb;    // [V,C] (only when x is null)
  const int64_t* token;        // [1]  (only when x is null)
  const float* ln_w;           // [C]
  const float* ln_b;           // [C]
  float* out;                  // [C]
  int C;
  L2Prefetch l2;
};
cudaError_t layer_norm(const LayerNormArgs& args, cudaStream_t stream, bool pdl);

// ---- bf16 matrix-vector products, several in one launch ----------------------------------

enum class InputAct : int { None, Tanh, Sigmoid };          // applied to the input on load
enum class Epilogue : int { Store, AddTo, ReluSquare };     // y = s | y += s | y = max(s,0)^2

// s = W in for an nn.Linear weight W [rows, cols] (row-major). The input `in` is act(x), or
// with ln_w set the LayerNorm of x (eps 1e-5, every block computes it for itself, so that no
// separate kernel and no extra kernel boundary sit between the residual stream and its
// projections), and with mix set too the token-shift lerp xn + (shift - xn) * mix.
// `in` is rounded to bf16 before the product (as the eager forward does with x.to(bf16)); the
// sum is fp32. Layout rules (matvec_job_ok): W and every vector 16-byte aligned, cols a
// multiple of 8 and <= kMaxCols (<= kMaxNormCols with ln_w).
struct MatvecJob {
  const __nv_bfloat16* W;  // [rows, cols]
  const float* x;          // [cols]
  float* y;                // [rows]; must not overlap x of any job in the same launch
  int rows;
  int cols;
  InputAct act;
  Epilogue epi;
  const float* ln_w = nullptr;   // [cols] LayerNorm weight, or null: no LayerNorm
  const float* ln_b = nullptr;   // [cols]
  const float* shift = nullptr;  // [cols] previous token's LayerNorm output (with mix)
  const float* mix = nullptr;    // [cols] lerp coefficients, or null: in = xn
};

constexpr int kMaxMatvecJobs = 8;
constexpr int kMaxCols = 24576;     // the input is staged in shared memory as bf16: <= 48 KiB
constexpr int kMaxNormCols = 4096;  // a LayerNorm input is held in registers while reduced

// Jobs run in one launch and must be independent of each other. Two side tasks carry the token
// shift without a kernel of their own: save_norm receives job 0's LayerNorm output xn (job 0
// must have ln_w; written by one block), and after waiting for the previous kernel one block
// copies copy_n floats from copy_src to copy_dst (the next launch copies the saved xn into the
// shift state, once every block of this one has read the old shift).
struct MatvecBatch {
  MatvecJob job[kMaxMatvecJobs];
  int n = 0;
  float* save_norm = nullptr;     // [job[0].cols]
  const float* copy_src = nullptr;
  float* copy_dst = nullptr;
  int copy_n = 0;
  L2Prefetch l2;
  void add(const MatvecJob& j) {
    if (n < kMaxMatvecJobs) job[n] = j;
    ++n;  // an overfull batch is refused by matvec_bf16
  }
};

bool matvec_job_ok(const MatvecJob& j);
// All jobs of the batch in one launch. Returns cudaErrorInvalidValue, launching nothing, when
// the batch is empty, too long, a job breaks the layout rules, or save_norm is set and job 0
// has no LayerNorm.
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
  L2Prefetch l2;
};
cudaError_t wkv_step(const WkvStepArgs& args, cudaStream_t stream, bool pdl);

}  // namespace rwkv::cuda
