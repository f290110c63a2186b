// split_dataset: a seeded Fisher-Yates shuffle with our own splitmix64 generator (std::shuffle
// and the std distributions give different results on different standard libraries), the first
// round(fraction * n) shuffled samples go to eval, at least one sample always stays in train.
// Both parts keep the file order.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "rwkv/dataset.h"
#include "rwkv/error.h"

namespace rwkv {
namespace {

struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) without modulo bias (n > 0).
  uint64_t below(uint64_t n) {
    const uint64_t limit = -n % n;  // 2^64 mod n: reject the first `limit` values
    for (;;) {
      const uint64_t r = next();
      if (r >= limit) return r % n;
    }
  }
};

}  // namespace

void split_dataset(const Dataset& all, double fraction, uint64_t seed, std::vector<Sample>* train,
                   std::vector<Sample>* eval) {
  if (!train || !eval) throw Error(ErrorKind::Argument, "split_dataset: train and eval must not be null");
  if (!(fraction >= 0.0 && fraction <= 1.0))
    throw Error(ErrorKind::Argument, "eval fraction must be in [0, 1], got " + std::to_string(fraction));
  train->clear();
  eval->clear();
  const size_t n = all.samples.size();
  if (n == 0) return;

  size_t n_eval = static_cast<size_t>(std::llround(fraction * static_cast<double>(n)));
  n_eval = std::min(n_eval, n - 1);

  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  SplitMix64 rng{seed};
  for (size_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);

  std::vector<uint8_t> to_eval(n, 0);
  for (size_t k = 0; k < n_eval; ++k) to_eval[order[k]] = 1;
  for (size_t i = 0; i < n; ++i) (to_eval[i] ? eval : train)->push_back(all.samples[i]);
}

}  // namespace rwkv
