// DBP: decorrelation loss, update rule and statistics (see dbp.h).
#include "dbp.h"

#include <cmath>
#include <limits>

#include "state_stats.h"

namespace rwkv {

torch::Tensor decor_loss(const torch::Tensor& z, double lambda) {
  const int64_t n = z.size(0), M = z.size(2);
  const auto zc = (z - z.mean(0, true)).permute({1, 0, 2});               // [H,n,M]
  const auto cov = torch::matmul(zc.transpose(1, 2), zc) / double(std::max<int64_t>(n, 1));  // [H,M,M]
  const auto diag = cov.diagonal(0, 1, 2);                                 // [H,M]
  const auto off = cov.square().sum({1, 2}) - diag.square().sum(1);        // [H]
  const auto var = (diag - 1).square().sum(1);                             // [H]
  return (off / double(M * M) + lambda * var / double(M)).mean();
}

void DecorSums::add(const torch::Tensor& z) {
  torch::NoGradGuard ng;
  const auto zd = z.detach().to(torch::kFloat64);
  const auto zh = zd.permute({1, 0, 2});  // [H,n,M]
  const auto s_new = zd.sum(0);
  const auto ss_new = torch::matmul(zh.transpose(1, 2), zh);
  if (!s.defined()) {
    s = s_new;
    ss = ss_new;
  } else {
    s += s_new;
    ss += ss_new;
  }
  n += static_cast<double>(z.size(0));
}

void DecorSums::add(const DecorSums& o) {
  if (o.empty()) return;
  if (!s.defined()) {
    s = o.s.clone();
    ss = o.ss.clone();
  } else {
    s += o.s;
    ss += o.ss;
  }
  n += o.n;
}

void DecorSums::scale(double f) {
  if (!s.defined()) return;
  s *= f;
  ss *= f;
  n *= f;
}

torch::Tensor DecorSums::second_moment() const { return ss / n; }

torch::Tensor DecorSums::covariance() const {
  const auto mu = s / n;
  return ss / n - mu.unsqueeze(2) * mu.unsqueeze(1);
}

DecorLayerStats decor_stats(const DecorSums& sums) {
  torch::NoGradGuard ng;
  DecorLayerStats st;
  if (sums.empty()) return st;
  const auto cov = sums.covariance();                 // [H,M,M] fp64
  const int64_t H = cov.size(0), M = cov.size(1);
  const auto diag = cov.diagonal(0, 1, 2).clamp_min(0);                            // [H,M]
  const auto sd = diag.sqrt();
  const auto denom = (sd.unsqueeze(2) * sd.unsqueeze(1)).clamp_min(1e-300);
  const auto eye = torch::eye(M, cov.options()).to(torch::kBool);
  const auto corr = (cov / denom).abs().masked_fill(eye, 0);
  st.mean_abs_corr = M > 1 ? corr.sum().item<double>() / double(H * M * (M - 1)) : 0.0;
  const double diag_e = diag.square().sum().item<double>();
  const double off_e = cov.square().sum().item<double>() - diag_e;
  st.offdiag_ratio = diag_e > 0 ? off_e / diag_e : 0.0;
  st.min_var = diag.min().item<double>();
  st.max_var = diag.max().item<double>();
  const auto ev = torch::linalg_eigvalsh(cov, "L");  // [H,M] ascending
  double cond = 0;
  for (int64_t h = 0; h < H; ++h) {
    const double lo = ev[h][0].item<double>(), hi = ev[h][M - 1].item<double>();
    const double c = hi > 0 ? hi / std::max(lo, hi * 1e-12) : 1.0;
    cond = std::max(cond, c);
  }
  st.condition = cond;
  return st;
}

double decor_loss_value(const DecorSums& sums, double lambda) {
  torch::NoGradGuard ng;
  if (sums.empty()) return 0;
  const auto cov = sums.covariance();
  const int64_t M = cov.size(1);
  const auto diag = cov.diagonal(0, 1, 2);
  const auto off = cov.square().sum({1, 2}) - diag.square().sum(1);
  const auto var = (diag - 1).square().sum(1);
  return (off / double(M * M) + lambda * var / double(M)).mean().item<double>();
}

void dbp_update(torch::Tensor& R, const DecorSums& sums, double eta) {
  torch::NoGradGuard ng;
  if (sums.empty()) return;
  auto A = sums.second_moment();                                  // [H,M,M]
  A = A - torch::diag_embed(A.diagonal(0, 1, 2));
  const auto step = torch::matmul(A, R.to(torch::kFloat64)) * eta;
  R.sub_(step.to(R.scalar_type()));
}

std::vector<float> covariance_heatmap(const DecorSums& sums, int head, int size, int* out_size) {
  if (sums.empty()) {
    *out_size = 0;
    return {};
  }
  return downsample_block_mean(sums.covariance()[head], size, out_size);
}

}  // namespace rwkv
