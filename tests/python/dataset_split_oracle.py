#!/usr/bin/env python3
"""Independent Python version of the engine's split_dataset (engine/src/dataset_split.cpp).

  dataset_split_oracle.py N FRACTION SEED OUT
      Writes to OUT the 0-based indices (ascending, one a line) of the samples that go to eval:
      splitmix64 seeded with SEED, Fisher-Yates from the last index down (j uniform in [0, i],
      drawn without modulo bias by rejecting the lowest 2^64 mod (i+1) outputs), the first
      round-half-up(FRACTION * N) shuffled indices, at most N - 1.
"""
import math
import sys

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.s = seed & MASK

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & MASK
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n):
        limit = (1 << 64) % n
        while True:
            r = self.next()
            if r >= limit:
                return r % n


def main():
    n, fraction, seed, out = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    n_eval = min(int(math.floor(fraction * n + 0.5)), n - 1)
    order = list(range(n))
    rng = SplitMix64(seed)
    for i in range(n - 1, 0, -1):
        j = rng.below(i + 1)
        order[i], order[j] = order[j], order[i]
    with open(out, 'w') as f:
        for idx in sorted(order[:n_eval]):
            f.write(f'{idx}\n')


if __name__ == '__main__':
    main()
