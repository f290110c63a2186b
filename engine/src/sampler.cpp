// Sampler: logits [V] -> one token id. Repetition penalty, then greedy for temperature <= 0;
// otherwise temperature, top-k, top-p and a draw from the seeded mt19937_64. The draw turns the
// engine's 64-bit output into a uniform double itself (std::*_distribution output differs
// between standard libraries), so a seed gives the same tokens everywhere.
#include "rwkv/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <unordered_set>

#include "rwkv/error.h"

namespace rwkv {

namespace {

void check_finite(const std::vector<float>& logits) {
  for (size_t i = 0; i < logits.size(); ++i)
    if (!std::isfinite(logits[i]))
      throw Error(ErrorKind::NonFinite, "sampler: logit of token " + std::to_string(i) + " is " +
                                            std::to_string(logits[i]) + " (expected a finite value)");
}

// Lowest id among the largest values.
int argmax(const std::vector<float>& logits) {
  int best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = static_cast<int>(i);
  return best;
}

// CTRL-style penalty, once per distinct seen token: positive logits are divided, negative multiplied.
void apply_repetition_penalty(std::vector<double>& z, const std::vector<int>& history, float penalty) {
  std::unordered_set<int> seen;
  for (int id : history) {
    if (id < 0 || static_cast<size_t>(id) >= z.size() || !seen.insert(id).second) continue;
    z[id] = z[id] > 0 ? z[id] / penalty : z[id] * penalty;
  }
}

// Uniform double in [0, 1) from the top 53 bits of one engine output.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

Sampler::Sampler(const SamplerParams& p) : p_(p), rng_(p.seed) {
  if (std::isnan(p.temperature)) throw Error(ErrorKind::Argument, "sampler: temperature is NaN");
  if (p.top_k < 0) throw Error(ErrorKind::Argument, "sampler: top_k must be >= 0, got " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
    throw Error(ErrorKind::Argument, "sampler: top_p must be in (0, 1], got " + std::to_string(p.top_p));
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    throw Error(ErrorKind::Argument,
                "sampler: repetition_penalty must be > 0, got " + std::to_string(p.repetition_penalty));
}

int Sampler::sample(std::vector<float> logits, const std::vector<int>& history) {
  if (logits.empty()) throw Error(ErrorKind::Argument, "sampler: empty logits");
  check_finite(logits);
  // Work in double: logit / temperature may exceed the float range for tiny temperatures.
  std::vector<double> z(logits.begin(), logits.end());  // [V]
  // The penalty applies to greedy decoding too (as in HF and llama.cpp): a tiny model left
  // greedy without it loops on " the the the".
  if (p_.repetition_penalty != 1.0f) apply_repetition_penalty(z, history, p_.repetition_penalty);
  if (p_.temperature <= 0.0f) return argmax(std::vector<float>(z.begin(), z.end()));
  for (double& v : z) v /= p_.temperature;

  // Candidates, most likely first (ties: lower id first). Without truncation the order does not
  // matter, so the O(V log V) sort is skipped.
  const int V = static_cast<int>(z.size());
  std::vector<int> cand(V);
  std::iota(cand.begin(), cand.end(), 0);
  const bool use_k = p_.top_k > 0 && p_.top_k < V;
  const bool use_p = p_.top_p < 1.0f;
  auto before = [&](int a, int b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  if (use_k) {
    std::partial_sort(cand.begin(), cand.begin() + p_.top_k, cand.end(), before);
    cand.resize(p_.top_k);
  } else if (use_p) {
    std::sort(cand.begin(), cand.end(), before);
  }

  // Softmax over the candidates (unnormalised weights; the max is subtracted for stability).
  double zmax = z[cand[0]];
  for (int id : cand) zmax = std::max(zmax, z[id]);
  std::vector<double> w(cand.size());
  double total = 0.0;
  for (size_t i = 0; i < cand.size(); ++i) total += (w[i] = std::exp(z[cand[i]] - zmax));

  // Nucleus: the shortest prefix whose probability reaches top_p; never empty.
  if (use_p) {
    const double target = static_cast<double>(p_.top_p) * total;
    double cum = 0.0;
    size_t keep = 0;
    while (keep < cand.size()) {
      cum += w[keep++];
      if (cum >= target) break;
    }
    cand.resize(keep);
    w.resize(keep);
    total = cum;
  }

  // Inverse-CDF draw.
  const double u = uniform01(rng_) * total;
  double cum = 0.0;
  for (size_t i = 0; i < cand.size(); ++i) {
    cum += w[i];
    if (u < cum) return cand[i];
  }
  return cand.back();  // u within rounding of total
}

}  // namespace rwkv
