// Throughput and memory telemetry of a tuning run: an EMA of step time and tokens per step
// (tokens/s and ETA), and the process's memory use.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace rwkv {

class ThroughputEma {
 public:
  explicit ThroughputEma(double alpha = 0.1) : alpha_(alpha) {}
  void add(double seconds, int64_t tokens);       // one optimizer step
  double tokens_per_s() const { return sec_ > 0 ? tok_ / sec_ : 0.0; }
  double eta_s(int steps_left) const { return sec_ * steps_left; }

 private:
  double alpha_, sec_ = 0, tok_ = 0;
  bool first_ = true;
};

// Resident set size of this process (/proc/self/statm) on the CPU; memory allocated by torch's
// CUDA caching allocator on a CUDA device (0 where unavailable).
int64_t memory_in_use(torch::Device device);

}  // namespace rwkv
