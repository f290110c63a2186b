// The guide's top-k cache, the KL sums and the kl_multi branches (see guide_kl.h).
#include "guide_kl.h"

#include <algorithm>
#include <limits>

#include "forward.h"
#include "tune_batches.h"

namespace rwkv {
namespace {

// log of the probability mass outside `ids` per row: logsumexp over the other logits minus
// logsumexp over all. logits [n,V], ids [n,K] int64.
torch::Tensor tail_log_mass(const torch::Tensor& logits, const torch::Tensor& ids) {
  const auto rest = logits.scatter(1, ids, -std::numeric_limits<float>::infinity());
  return torch::logsumexp(rest, {1}) - torch::logsumexp(logits, {1});
}

}  // namespace

GuideTopK guide_topk(const torch::Tensor& logits, int k) {
  torch::NoGradGuard ng;
  const auto lp = torch::log_softmax(logits.to(torch::kFloat32), 1);
  const int64_t K = std::min<int64_t>(k, lp.size(1));
  const auto top = lp.topk(K, 1);
  const auto ids = std::get<1>(top);
  GuideTopK g;
  g.ids = ids.to(torch::kCPU, torch::kInt32);
  g.logp = std::get<0>(top).to(torch::kCPU);
  g.tail = K >= lp.size(1) ? torch::full({lp.size(0)}, -std::numeric_limits<float>::infinity())
                           : tail_log_mass(lp, ids).to(torch::kCPU);
  return g;
}

GuideTopK cat_topk(const std::vector<const GuideTopK*>& parts, torch::Device device) {
  std::vector<torch::Tensor> ids, logp, tail;
  for (const auto* p : parts) {
    ids.push_back(p->ids);
    logp.push_back(p->logp);
    tail.push_back(p->tail);
  }
  return {torch::cat(ids).to(device), torch::cat(logp).to(device), torch::cat(tail).to(device)};
}

torch::Tensor topk_kl_sum(const torch::Tensor& student_logits, const GuideTopK& g) {
  const auto ids = g.ids.to(torch::kInt64);
  const auto ls = torch::log_softmax(student_logits, 1);                   // [n,V]
  const auto pg = g.logp.exp();                                            // [n,K]
  auto kl = (pg * (g.logp - ls.gather(1, ids))).sum();
  if (ids.size(1) < student_logits.size(1)) {                              // the tail bucket
    const auto pt = g.tail.exp();                                          // [n]
    const auto lt = torch::where(pt > 0, g.tail, torch::zeros_like(g.tail));  // 0 * finite where the mass is 0
    kl = kl + (pt * (lt - tail_log_mass(ls, ids))).sum();
  }
  return kl;
}

torch::Tensor full_kl_sum(const torch::Tensor& student_logits, const torch::Tensor& guide_logits) {
  const auto lg = torch::log_softmax(guide_logits.to(torch::kFloat32), 1);
  return (lg.exp() * (lg - torch::log_softmax(student_logits, 1))).sum();
}

int64_t branch_rows(const Sample& s, int points, int k) {
  int64_t n = 0;
  for (size_t t = 1; t < s.tokens.size(); ++t) n += s.target[t] != 0;
  return std::min<int64_t>(n, points) * k;
}

std::vector<Sample> sample_branches(const Model::Impl& student, const std::vector<torch::Tensor>& s0,
                                    const KernelTrain& kernel, const Sample& s, int points, int k, uint64_t rng_seed) {
  torch::NoGradGuard ng;
  std::vector<int> pos;
  for (size_t t = 1; t < s.tokens.size(); ++t)
    if (s.target[t]) pos.push_back(static_cast<int>(t));
  SplitMix64 rng(rng_seed);
  const size_t n = std::min(pos.size(), static_cast<size_t>(points));
  for (size_t i = 0; i < n; ++i) std::swap(pos[i], pos[i + rng.next() % (pos.size() - i)]);  // partial shuffle
  pos.resize(n);
  std::sort(pos.begin(), pos.end());

  const auto start = [&] {
    RecurrentState st = RecurrentState::zeros(student, 1);
    for (size_t l = 0; l < st.wkv.size(); ++l) st.wkv[l] = s0[l].detach().unsqueeze(0).clone();
    if (kernel.ext) {
      st.kernel = kernel.ext;
      for (const auto& u : *kernel.u0) st.ups.push_back(u.detach().unsqueeze(0).clone());
    }
    return st;
  };
  const auto draw = [&](const torch::Tensor& logits) {  // [V] -> id, by inverse CDF in float64
    const auto p = torch::softmax(logits.to(torch::kCPU, torch::kFloat64), 0).contiguous();
    const double* q = p.data_ptr<double>();
    const double u = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
    double c = 0;
    for (int64_t v = 0; v < p.numel(); ++v)
      if ((c += q[v]) > u) return v;
    return p.numel() - 1;
  };
  const auto opt = torch::TensorOptions().dtype(torch::kInt64);
  std::vector<Sample> out;
  for (int t : pos) {
    std::vector<int64_t> prefix(s.tokens.begin(), s.tokens.begin() + t);
    auto r = forward(student, torch::tensor(prefix, opt).view({1, t}).to(student.device), start(), true);
    Sample b;
    b.line = s.line;
    b.tokens.assign(s.tokens.begin(), s.tokens.begin() + t);
    b.target.assign(static_cast<size_t>(t), 0);
    for (int j = 0; j < k; ++j) {
      const int64_t c = draw(r.logits[0][0]);
      b.tokens.push_back(static_cast<int>(c));
      b.target.push_back(1);
      if (j + 1 < k) r = forward(student, torch::full({1, 1}, c, opt).to(student.device), r.state, true);
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace rwkv
