#!/usr/bin/env python3
"""Float64 numpy oracle for the inspector: transition spectra and states token by token.

usage: inspect_oracle.py --model FILE.bin --tokens 1,2,3 [--s0 FILE.f32] --out FILE.json

Runs the tokens through the numpy reference in ../shared/spec/reference (rwkv.cpp .bin models)
one token at a time from the initial state (zero shifts; wkv = --s0, raw little-endian float32
[L,H,N,N], or zeros) and writes
  {"eig": [T][L][H][N] as [re, im] pairs: np.linalg.eigvals(diag(w_t) + outer(a_t, b_t)) per head,
           with w, a = -kk, b = kk * a_lr traced by the reference at token t,
   "norm": [T+1][L] Frobenius norm of every layer's wkv state before any token and after each}
The eigenvalues come from numpy's general eigen solver, independent of the engine's code.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.environ.get('RWKV_SHARED_DIR', os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared')), 'spec', 'reference'))
import rwkv7_ref as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--tokens', required=True)
    ap.add_argument('--s0')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()

    _, W = ref.load_rwkvcpp(args.model)
    d = ref.model_dims(W)
    L, H, N = d['n_layer'], d['n_head'], d['head_size']
    st = ref.zero_state(d)
    if args.s0:
        st['wkv'][:] = np.fromfile(args.s0, dtype='<f4').astype(np.float64).reshape(L, H, N, N)
    norms = [[float(np.linalg.norm(st['wkv'][l])) for l in range(L)]]
    eig = []
    for tok in [int(t) for t in args.tokens.split(',')]:
        trace = {}
        ref.forward_token(W, d, tok, st, trace)
        per_layer = []
        for l in range(L):
            tr = trace[l][0]
            heads = []
            for h in range(H):
                M = np.diag(tr['w'][h]) + np.outer(tr['a'][h], tr['b'][h])
                ev = np.linalg.eigvals(M)
                heads.append([[float(z.real), float(z.imag)] for z in ev])
            per_layer.append(heads)
        eig.append(per_layer)
        norms.append([float(np.linalg.norm(st['wkv'][l])) for l in range(L)])
    with open(args.out, 'w') as f:
        json.dump({'eig': eig, 'norm': norms}, f)


if __name__ == '__main__':
    main()
