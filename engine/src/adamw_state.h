// AdamW on the trainable initial states S0 (one fp32 tensor [H,N,N] per layer). Own
// implementation so that every operation is a fixed sequence of elementwise ops (deterministic on
// the CPU) and the moments can be saved and restored exactly for bit-identical resume.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace rwkv {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.99, eps = 1e-8, weight_decay = 0.0;
};

class AdamWState {
 public:
  AdamWState() = default;
  // Zero moments shaped like the parameters.
  AdamWState(const std::vector<torch::Tensor>& params, AdamWOptions opt);

  // One update of every param (in place, no autograd) from grads with the same shapes:
  //   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr (wd p + m^/(sqrt(v^) + eps))
  // with bias corrections m^ = m/(1-b1^t), v^ = v/(1-b2^t), t = number of updates so far + 1.
  void step(std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads, double lr);

  int64_t t() const { return t_; }
  std::vector<torch::Tensor>& m() { return m_; }  // L x [H,N,N] fp32
  std::vector<torch::Tensor>& v() { return v_; }
  const std::vector<torch::Tensor>& m() const { return m_; }
  const std::vector<torch::Tensor>& v() const { return v_; }
  // Restores saved moments and the update count (shapes are checked by the caller).
  void restore(std::vector<torch::Tensor> m, std::vector<torch::Tensor> v, int64_t t);

 private:
  AdamWOptions opt_;
  std::vector<torch::Tensor> m_, v_;
  int64_t t_ = 0;
};

}  // namespace rwkv
