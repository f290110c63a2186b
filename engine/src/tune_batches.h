// Micro-batch assembly for state tuning: which samples each optimizer step uses (a seeded
// shuffle per epoch, a pure function of (seed, epoch), so a resumed run sees the same batches)
// and how a group of samples becomes tensors (right padding; the loss rows and labels of the
// target positions only).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "rwkv/dataset.h"

namespace rwkv {

struct MicroBatch {
  torch::Tensor tokens;   // [B,T] int64, right padded with 0; T = the last target position of the batch
                          // (the last token is never an input that predicts anything)
  torch::Tensor rows;     // [n] int64, flat b*T + (t-1): the hidden row that predicts target t
  torch::Tensor labels;   // [n] int64, tokens[b][t]
  int64_t n_targets = 0;  // n
  int64_t n_tokens = 0;   // real (unpadded) input tokens
  torch::Tensor valid;    // [n_tokens] int64, flat b*T + t of every real input position
};

// Samples -> one micro-batch on `device`. Every sample must have at least one target.
MicroBatch make_micro_batch(const std::vector<const Sample*>& samples, torch::Device device);

class BatchPlan {
 public:
  BatchPlan() = default;
  BatchPlan(int n_train, int micro_bsz, int accum, uint64_t seed);

  int steps_per_epoch() const { return steps_per_epoch_; }
  int epoch_of(int step) const { return (step - 1) / steps_per_epoch_; }  // 0-based, step 1-based
  // Sample indices of optimizer step `step` (1-based), grouped into micro-batches of micro_bsz
  // (the last step of an epoch may have fewer or smaller ones).
  std::vector<std::vector<int>> step_samples(int step) const;
  // The permutation of [0, n_train) used in `epoch`.
  std::vector<int> epoch_order(int epoch) const;

 private:
  int n_ = 0, micro_bsz_ = 1, accum_ = 1, steps_per_epoch_ = 1;
  uint64_t seed_ = 0;
  mutable int cached_epoch_ = -1;
  mutable std::vector<int> cached_order_;
};

// A small portable PRNG (splitmix64): the same numbers on every platform and standard library.
struct SplitMix64 {
  uint64_t s;
  explicit SplitMix64(uint64_t seed) : s(seed) {}
  uint64_t next();
};

}  // namespace rwkv
