// One token of batch-1 decoding on CUDA as 6 fused kernels per layer (engine/kernels/
// decode_kernels.h) instead of the eager forward's ~60: each stage of independent bf16
// matrix-vector products in one launch, the LayerNorms and token-shift lerps computed by the
// matrix-vector kernels that read them, the wkv step with its gates and GroupNorm in one.
// DecodeGraph captures run() into its CUDA graph.
#pragma once
#include <memory>
#include <string>

#include "forward.h"

namespace rwkv {

// Whether the fused step can run this model: a CUDA build and device, bf16 matrices, head size
// 64, every matrix width a multiple of 8 within the kernel's limit, 16-byte aligned weights.
// When not, *why (if given) says what is missing.
bool decode_fused_supported(const Model::Impl& m, std::string* why = nullptr);

class DecodeFused {
 public:
  // Binds the model's weights and the caller's buffers, which must outlive this object:
  // state (batch 1, fp32, contiguous), token (one int64) and logits ([V] fp32), all on the
  // model's device. overlap: launch the kernels after the first as programmatic dependent
  // launches (taken only on sm_90 and later), so that each starts reading its weights while the
  // previous one finishes. Throws Error(Argument) when decode_fused_supported(m) is false.
  DecodeFused(const Model::Impl& m, const RecurrentState& state, const torch::Tensor& token,
              const torch::Tensor& logits, bool overlap);
  ~DecodeFused();
  // Enqueues one token on the current CUDA stream: reads the token and the state, writes the
  // logits and the new state in place.
  void run();
  bool overlapping() const;  // whether overlap was asked for and the device has it

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rwkv
