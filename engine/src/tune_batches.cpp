// Batch plan and micro-batch assembly (see tune_batches.h).
#include "tune_batches.h"

#include <algorithm>
#include <numeric>

#include "rwkv/error.h"

namespace rwkv {

uint64_t SplitMix64::next() {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

MicroBatch make_micro_batch(const std::vector<const Sample*>& samples, torch::Device device) {
  const int64_t B = static_cast<int64_t>(samples.size());
  int64_t T = 0;
  for (const Sample* s : samples) {
    int64_t last = 0;
    for (size_t t = 1; t < s->tokens.size(); ++t)
      if (s->target[t]) last = static_cast<int64_t>(t);
    if (last == 0) throw Error(ErrorKind::Argument, "sample of line " + std::to_string(s->line) + " has no target tokens");
    T = std::max(T, last);
  }
  std::vector<int64_t> tok(static_cast<size_t>(B * T), 0), rows, labels, valid;
  MicroBatch mb;
  for (int64_t b = 0; b < B; ++b) {
    const Sample& s = *samples[b];
    const int64_t n_in = std::min<int64_t>(T, static_cast<int64_t>(s.tokens.size()));
    for (int64_t t = 0; t < n_in; ++t) {
      tok[b * T + t] = s.tokens[t];
      valid.push_back(b * T + t);
    }
    mb.n_tokens += n_in;
    for (int64_t t = 1; t <= n_in && t < static_cast<int64_t>(s.tokens.size()); ++t)
      if (s.target[t]) {
        rows.push_back(b * T + t - 1);
        labels.push_back(s.tokens[t]);
      }
  }
  mb.n_targets = static_cast<int64_t>(rows.size());
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  mb.tokens = torch::from_blob(tok.data(), {B, T}, i64).to(device, false, true);
  mb.rows = torch::from_blob(rows.data(), {mb.n_targets}, i64).to(device, false, true);
  mb.labels = torch::from_blob(labels.data(), {mb.n_targets}, i64).to(device, false, true);
  mb.valid = torch::from_blob(valid.data(), {static_cast<int64_t>(valid.size())}, i64).to(device, false, true);
  return mb;
}

BatchPlan::BatchPlan(int n_train, int micro_bsz, int accum, uint64_t seed)
    : n_(n_train), micro_bsz_(micro_bsz), accum_(accum), seed_(seed) {
  const int per_step = micro_bsz * accum;
  steps_per_epoch_ = std::max(1, (n_train + per_step - 1) / per_step);
}

std::vector<int> BatchPlan::epoch_order(int epoch) const {
  if (epoch == cached_epoch_) return cached_order_;
  std::vector<int> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(seed_ ^ (0xA24BAED4963EE407ULL * static_cast<uint64_t>(epoch + 1)));
  for (int i = n_ - 1; i > 0; --i) {  // Fisher-Yates
    const int j = static_cast<int>(rng.next() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  cached_epoch_ = epoch;
  cached_order_ = order;
  return order;
}

std::vector<std::vector<int>> BatchPlan::step_samples(int step) const {
  const int epoch = epoch_of(step);
  const int in_epoch = (step - 1) % steps_per_epoch_;
  const auto order = epoch_order(epoch);
  const int begin = in_epoch * micro_bsz_ * accum_;
  const int end = std::min(n_, begin + micro_bsz_ * accum_);
  std::vector<std::vector<int>> out;
  for (int i = begin; i < end; i += micro_bsz_) {
    out.emplace_back();
    for (int k = i; k < std::min(end, i + micro_bsz_); ++k) out.back().push_back(order[k]);
  }
  return out;
}

}  // namespace rwkv
