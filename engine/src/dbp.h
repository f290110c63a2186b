// Decorrelated backpropagation of the kernel features (method note section 3): the covariance of
// z = R phi(.) over a batch's tokens, the decorrelation loss (loss mode), the update rule of R
// (update mode) and the statistics the observer plots.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "rwkv/tuner.h"

namespace rwkv {

// L_decor of one layer from z [n,H,M] (differentiable), averaged over heads:
//   sum_{i!=j} Cz_ij^2 / M^2 + lambda * sum_i (Cz_ii - 1)^2 / M,  Cz = E[zz^T] - E[z]E[z]^T.
torch::Tensor decor_loss(const torch::Tensor& z, double lambda);

// Token sums of z and zz^T per head, fp64 (accumulated over a step's micro-batches).
struct DecorSums {
  double n = 0;
  torch::Tensor s;   // [H,M]
  torch::Tensor ss;  // [H,M,M]
  void add(const torch::Tensor& z);  // z [n,H,M], any float dtype; no autograd
  void add(const DecorSums& o);
  void scale(double f);              // an exponential window: scale(decay) then add(the new step)
  bool empty() const { return n <= 0; }
  torch::Tensor second_moment() const;  // E[zz^T] [H,M,M]
  torch::Tensor covariance() const;     // Cz [H,M,M]
};

// The condition number is capped at 1e12 (lambda_min floored at 1e-12 lambda_max): a covariance
// over fewer tokens than M, or with a feature that never fires, is singular.
DecorLayerStats decor_stats(const DecorSums& sums);
// The decorrelation loss of the step's tokens (no autograd), for reporting in every mode.
double decor_loss_value(const DecorSums& sums, double lambda);

// Update mode: R <- R - eta (E[zz^T] - diag(E[z^2])) R, in place, per head.
void dbp_update(torch::Tensor& R, const DecorSums& sums, double eta);

// Cz of one head, block means to at most size x size.
std::vector<float> covariance_heatmap(const DecorSums& sums, int head, int size, int* out_size);

}  // namespace rwkv
