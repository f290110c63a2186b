// State statistics (see state_stats.h).
#include "state_stats.h"

#include <algorithm>

namespace rwkv {
namespace {

std::vector<float> to_floats(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

torch::Tensor stacked(const std::vector<torch::Tensor>& s0) {  // [L*H,N,N]
  auto all = torch::stack(s0).detach();
  return all.reshape({-1, all.size(-2), all.size(-1)});
}

}  // namespace

std::vector<float> state_norms(const std::vector<torch::Tensor>& s0) {
  torch::NoGradGuard ng;
  return to_floats(stacked(s0).square().sum({1, 2}).sqrt());
}

std::vector<float> effective_ranks(const std::vector<torch::Tensor>& s0) {
  torch::NoGradGuard ng;
  // SVD on the CPU in fp64: small matrices, and LAPACK is more robust than the GPU batched path.
  const auto s = torch::linalg_svdvals(stacked(s0).to(torch::kCPU, torch::kFloat64));  // [L*H,N]
  const auto total = s.sum(-1, true);
  const auto p = s / total.clamp_min(1e-300);
  const auto ent = -(p * torch::log(p.clamp_min(1e-300))).sum(-1);
  const auto r = torch::where(total.squeeze(-1) > 0, torch::exp(ent), torch::zeros_like(ent));
  return to_floats(r);
}

std::vector<float> downsample_block_mean(const torch::Tensor& m, int size, int* out_size) {
  torch::NoGradGuard ng;
  const int n = static_cast<int>(m.size(-1));
  const int s = std::max(1, std::min(size, n));
  *out_size = s;
  const auto pooled = torch::adaptive_avg_pool2d(m.detach().to(torch::kCPU, torch::kFloat32).view({1, 1, m.size(0), n}), {s, s});
  return to_floats(pooled);
}

}  // namespace rwkv
