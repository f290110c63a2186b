// AdamWState (see adamw_state.h).
#include "adamw_state.h"

#include <cmath>

namespace rwkv {

AdamWState::AdamWState(const std::vector<torch::Tensor>& params, AdamWOptions opt) : opt_(opt) {
  for (const auto& p : params) {
    m_.push_back(torch::zeros_like(p, torch::TensorOptions().dtype(torch::kFloat32)));
    v_.push_back(torch::zeros_like(p, torch::TensorOptions().dtype(torch::kFloat32)));
  }
}

void AdamWState::step(std::vector<torch::Tensor>& params, const std::vector<torch::Tensor>& grads, double lr) {
  torch::NoGradGuard no_grad;
  ++t_;
  const double bc1 = 1.0 - std::pow(opt_.beta1, double(t_));
  const double bc2 = 1.0 - std::pow(opt_.beta2, double(t_));
  for (size_t i = 0; i < params.size(); ++i) {
    auto& p = params[i];
    const auto& g = grads[i];
    m_[i].mul_(opt_.beta1).add_(g, 1.0 - opt_.beta1);
    v_[i].mul_(opt_.beta2).addcmul_(g, g, 1.0 - opt_.beta2);
    if (opt_.weight_decay > 0) p.mul_(1.0 - lr * opt_.weight_decay);
    const auto denom = (v_[i] / bc2).sqrt_().add_(opt_.eps);
    p.addcdiv_(m_[i], denom, -lr / bc1);
  }
}

void AdamWState::restore(std::vector<torch::Tensor> m, std::vector<torch::Tensor> v, int64_t t) {
  m_ = std::move(m);
  v_ = std::move(v);
  t_ = t;
}

}  // namespace rwkv
