// A micro-batch of random token sequences for the tuning-loss tests: one sample per length,
// tokens uniform in [1, vocab), every token after the first a target.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "rwkv/dataset.h"
#include "tune_batches.h"

struct RandomBatch {
  std::vector<rwkv::Sample> samples;  // mb's tensors are built from these
  rwkv::MicroBatch mb;
  RandomBatch(const std::vector<int>& lengths, int vocab, uint64_t seed, torch::Device dev = torch::kCPU) {
    auto g = torch::make_generator<torch::CPUGeneratorImpl>(seed);
    for (int n : lengths) {
      rwkv::Sample s;
      auto t = torch::randint(1, vocab, {n}, g, torch::kInt64);
      for (int i = 0; i < n; ++i) s.tokens.push_back(int(t[i].item<int64_t>()));
      s.target.assign(n, 1);
      s.target[0] = 0;
      samples.push_back(s);
    }
    std::vector<const rwkv::Sample*> ptrs;
    for (const auto& s : samples) ptrs.push_back(&s);
    mb = rwkv::make_micro_batch(ptrs, dev);
  }
};
