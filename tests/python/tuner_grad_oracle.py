#!/usr/bin/env python3
"""Float64 finite-difference oracle for the state tuner's gradient dLoss/dS0.

usage: tuner_grad_oracle.py --out DIR [--seed 5]

Writes DIR/model.bin: a random RWKV-7 (rwkv.cpp format, fp32 values; C=64, head size 16 so
H=4, L=3, V=256, F=256, LoRA 32) made by the numpy oracle in ../shared/spec/reference, and
DIR/grad.json:
  {"s0": [L*H*N*N] (the initial state, [layer][head][value][key] row-major, fp32-exact values),
   "samples": [{"tokens": [...], "target": [0/1 ...]}, ...],
   "loss": masked loss,
   "fd": [{"layer", "head", "i", "j", "grad"}, ...]}
The loss is the tuner's: every sample starts from S0 with zero shift states; cross-entropy of
logits[t-1] against tokens[t] summed over the positions t with target[t] = 1 of all samples,
divided by the number of such positions. "grad" is a central finite difference (step 1e-5) of
that loss in float64, for 4 random entries of every layer.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.environ.get('RWKV_SHARED_DIR', os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared')), 'spec', 'reference'))
import rwkv7_ref as ref  # noqa: E402


def masked_loss(W, d, s0, samples):
    total, count = 0.0, 0
    for s in samples:
        st = ref.zero_state(d)
        st['wkv'][:] = s0
        toks, tgt = s['tokens'], s['target']
        last = max(t for t in range(len(toks)) if tgt[t])
        logits, _ = ref.forward_seq(W, d, toks[:last], st)    # position t-1 predicts token t
        for t in range(1, last + 1):
            if tgt[t]:
                lg = logits[t - 1]
                m = lg.max()
                total += m + np.log(np.exp(lg - m).sum()) - lg[toks[t]]
                count += 1
    return total / count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=5)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    W = ref.random_checkpoint(n_embd=64, n_layer=3, head_size=16, n_vocab=256, dim_ffn=256, lora=32, seed=args.seed)
    path = os.path.join(args.out, 'model.bin')
    ref.save_rwkvcpp(path, W, fp16=False)
    _, W = ref.load_rwkvcpp(path)             # exactly what the C++ loader reads
    d = ref.model_dims(W)
    L, H, N = d['n_layer'], d['n_head'], d['head_size']

    s0 = rng.normal(0, 0.3, size=(L, H, N, N)).astype(np.float32).astype(np.float64)
    samples = []
    for n in (21, 15, 9):
        toks = [int(x) for x in rng.integers(1, 256, size=n)]
        tgt = [0] + [int(x) for x in (rng.random(n - 1) < 0.6)]
        tgt[n - 1] = 1
        samples.append({'tokens': toks, 'target': tgt})

    loss = masked_loss(W, d, s0, samples)
    fd = []
    eps = 1e-5
    for l in range(L):
        for _ in range(4):
            h, i, j = int(rng.integers(H)), int(rng.integers(N)), int(rng.integers(N))
            vals = []
            for sgn in (1, -1):
                s = s0.copy()
                s[l, h, i, j] += sgn * eps
                vals.append(masked_loss(W, d, s, samples))
            fd.append({'layer': l, 'head': h, 'i': i, 'j': j, 'grad': (vals[0] - vals[1]) / (2 * eps)})
    out = {'dims': d, 's0': s0.reshape(-1).tolist(), 'samples': samples, 'loss': loss, 'fd': fd}
    with open(os.path.join(args.out, 'grad.json'), 'w') as f:
        json.dump(out, f)
    print('loss %.6f, %d finite differences' % (loss, len(fd)))


if __name__ == '__main__':
    main()
