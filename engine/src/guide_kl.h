// Guided tuning, part 2 (method note section 4, alignment): the KL divergence of the student's
// next-token distribution from the guide's, KL(p_G || p_S) = sum_v p_G(v) (log p_G(v) - log p_S(v)).
//
// Single-step ("kl"): the guide's logits on the guide-written sequences are computed once (no
// grad) and cached as its top K tokens per target row plus one bucket for the rest of the
// vocabulary; the KL is taken over those K + 1 bins. That is the exact KL of the two distributions
// coarsened to the same K + 1 bins (so it is >= 0, and 0 when the student equals the guide), and
// the exact full KL when K >= V. Why top-K and not the full fp16 rows: a cached row costs
// K x 8 + 4 bytes (K = 64: 516 B) against V x 2 (8 KB for the demo's V = 4096, 128 KB for the
// World vocabulary's 65536), so a data set of 100k target tokens needs 52 MB, not 13 GB; the
// guide's top 64 tokens carry nearly all of its mass on its own text, and the tail bucket keeps
// the rest's total mass in the loss.
//
// Multi-step ("kl_multi", ours): at a few target positions t of each sequence the student samples
// a k-token continuation c_1..c_k from its current state (temperature 1, no grad); the loss sums
// the full-vocabulary KL at the k positions that produced c_1..c_k (prefix tokens[0..t) followed
// by c_<j). The guide scores each continuation in the same step, so nothing is cached. The
// sampled tokens are treated as data: no gradient flows through the sampling (the score-function
// term is left out), as in on-policy distillation.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "rwkv/dataset.h"
#include "tune_loss.h"

namespace rwkv {

struct GuideTopK {
  torch::Tensor ids;   // [n,K] int32: the guide's K most likely tokens of each target row
  torch::Tensor logp;  // [n,K] fp32: their log-probabilities (log-softmax over the full vocabulary)
  torch::Tensor tail;  // [n] fp32: log of the remaining probability mass (-inf when K >= V)
};

// logits [n,V] (any device, no grad) -> the top-k cache on the CPU.
GuideTopK guide_topk(const torch::Tensor& logits, int k);
// Concatenation of per-sample caches (rows in micro-batch order) moved to `device`.
GuideTopK cat_topk(const std::vector<const GuideTopK*>& parts, torch::Device device);

// sum over rows of KL(guide || student) over the K + 1 bins. student_logits [n,V] fp32 (may
// require grad); g on the same device. Returns a 0-dim fp32 tensor.
torch::Tensor topk_kl_sum(const torch::Tensor& student_logits, const GuideTopK& g);
// sum over rows of the full-vocabulary KL(softmax(guide) || softmax(student)); both [n,V].
torch::Tensor full_kl_sum(const torch::Tensor& student_logits, const torch::Tensor& guide_logits);

// kl_multi: the branch sequences of one guide-written sample. For each of min(points, n targets)
// distinct target positions t (chosen by `rng_seed`), the student (s0 / kernel, no grad) samples
// c_1..c_k after tokens[0..t); the returned sample is tokens[0..t) + c_1..c_k with targets on the
// k continuation tokens (their rows are the k positions to align).
std::vector<Sample> sample_branches(const Model::Impl& student, const std::vector<torch::Tensor>& s0,
                                    const KernelTrain& kernel, const Sample& s, int points, int k, uint64_t rng_seed);
// The number of KL rows sample_branches gives for s.
int64_t branch_rows(const Sample& s, int points, int k);

}  // namespace rwkv
