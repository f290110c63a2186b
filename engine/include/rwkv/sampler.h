// Turning logits into the next token: greedy, temperature, top-k, top-p, repetition
// penalty, all from one seeded generator so a (prompt, settings, seed) triple always gives
// the same text. Pure C++ over float vectors; no torch.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace rwkv {

struct SamplerParams {
  float temperature = 1.0f;         // <= 0 means greedy (argmax)
  int top_k = 0;                    // 0 = off
  float top_p = 1.0f;               // 1 = off
  float repetition_penalty = 1.0f;  // 1 = off; >1 divides positive / multiplies negative logits of seen tokens
  uint64_t seed = 42;
};

class Sampler {
 public:
  explicit Sampler(const SamplerParams& p);
  // logits [V]; `history` = tokens seen so far (prompt and generated) for the repetition penalty.
  int sample(std::vector<float> logits, const std::vector<int>& history);
  const SamplerParams& params() const { return p_; }

 private:
  SamplerParams p_;
  std::mt19937_64 rng_;
};

}  // namespace rwkv
