#!/usr/bin/env python3
"""Write a random-weight RWKV-7 checkpoint with real torch, in the standard .pth key names and
shapes, as .pth (fp32 and bf16, plain dict and OrderedDict) and .safetensors, plus reference
outputs from two independent implementations: the numpy oracle in ../shared/spec/reference
(float64) and the PyPI `rwkv` package (RWKV_V7_ON=1, 'cpu fp32').

usage: make_random_model.py --out DIR [--layers 2 --embd 256 --head-size 64 --vocab 1000
                            --tokens 64 --seed 0]
Writes DIR/model_fp32.pth, model_bf16.pth, model_od.pth (OrderedDict, fp32),
model_fp32.safetensors, and DIR/reference.json:
  {"tokens": [...], "dims": {...},
   "fp32": {"oracle": {"logits": [T][V], "wkv": [L][H][N][N], "att_shift": [L][C], "ffn_shift": [L][C]},
            "rwkv_pkg": {...same...}},
   "bf16": {"oracle": {...}}}
"""
import argparse, collections, json, os, sys

import numpy as np
import torch

SHARED = os.environ.get('RWKV_SHARED_DIR', os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared'))


def random_weights(L, C, N, V, seed):
    """Standard RWKV-7 .pth names and stored shapes; LoRA widths deliberately all different."""
    g = torch.Generator().manual_seed(seed)
    u = lambda *shape, s=1.0: (torch.rand(*shape, generator=g) * 2 - 1) * s
    H, F = C // N, 4 * C
    Dw, Da, Dv, Dg = 40, 24, 16, 56
    W = {'emb.weight': u(V, C), 'blocks.0.ln0.weight': 1 + u(C, s=0.1), 'blocks.0.ln0.bias': u(C, s=0.1)}
    for i in range(L):
        b = f'blocks.{i}.'
        for n in ('ln1', 'ln2'):
            W[b + n + '.weight'], W[b + n + '.bias'] = 1 + u(C, s=0.1), u(C, s=0.1)
        for m in ('x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g'):
            W[b + 'att.' + m] = torch.rand(1, 1, C, generator=g)
        W[b + 'att.w0'] = u(1, 1, C) - 1.0
        W[b + 'att.w1'], W[b + 'att.w2'] = u(C, Dw, s=0.3), u(Dw, C, s=0.3)
        W[b + 'att.a0'] = u(1, 1, C)
        W[b + 'att.a1'], W[b + 'att.a2'] = u(C, Da, s=0.3), u(Da, C, s=0.3)
        if i > 0:
            W[b + 'att.v0'] = u(1, 1, C)
            W[b + 'att.v1'], W[b + 'att.v2'] = u(C, Dv, s=0.3), u(Dv, C, s=0.3)
        W[b + 'att.g1'], W[b + 'att.g2'] = u(C, Dg, s=0.3), u(Dg, C, s=0.3)
        W[b + 'att.k_k'], W[b + 'att.k_a'] = 0.8 + u(1, 1, C, s=0.1), 1 + u(1, 1, C, s=0.1)
        W[b + 'att.r_k'] = u(H, N, s=0.1)
        for n in ('receptance', 'key', 'value', 'output'):
            W[b + f'att.{n}.weight'] = u(C, C, s=C ** -0.5)
        W[b + 'att.ln_x.weight'], W[b + 'att.ln_x.bias'] = 1 + u(C, s=0.1), u(C, s=0.1)
        W[b + 'ffn.x_k'] = torch.rand(1, 1, C, generator=g)
        W[b + 'ffn.key.weight'], W[b + 'ffn.value.weight'] = u(F, C, s=C ** -0.5), u(C, F, s=F ** -0.5)
    W['ln_out.weight'], W['ln_out.bias'] = 1 + u(C, s=0.1), u(C, s=0.1)
    W['head.weight'] = u(V, C, s=C ** -0.5)
    return W


def oracle_run(W, tokens):
    """numpy float64 oracle; W: torch tensors (any dtype) with .pth shapes."""
    sys.path.insert(0, os.path.join(SHARED, 'spec', 'reference'))
    import rwkv7_ref as ref  # the oracle lives in ../shared, needed only for references
    w = {}
    for k, t in W.items():
        a = t.float().numpy().astype(np.float64)
        w[k] = a if k.endswith('att.r_k') else (np.squeeze(a) if a.ndim > 2 or 1 in a.shape else a)
    d = ref.model_dims(w)
    logits, st = ref.forward_seq(w, d, tokens)
    return dict(logits=logits.tolist(), wkv=st['wkv'].tolist(),
                att_shift=st['att_shift'].tolist(), ffn_shift=st['ffn_shift'].tolist())


def rwkv_pkg_run(pth_path, tokens, L):
    os.environ['RWKV_V7_ON'] = '1'
    os.environ.setdefault('RWKV_JIT_ON', '0')
    from rwkv.model import RWKV  # imported late: the env var selects the v7 code path
    model = RWKV(model=pth_path[:-len('.pth')], strategy='cpu fp32')
    out, state = model.forward(tokens, None, full_output=True)
    return dict(logits=out.float().tolist(),
                wkv=[state[i * 3 + 1].float().tolist() for i in range(L)],
                att_shift=[state[i * 3 + 0].float().tolist() for i in range(L)],
                ffn_shift=[state[i * 3 + 2].float().tolist() for i in range(L)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--embd', type=int, default=256)
    ap.add_argument('--head-size', type=int, default=64)
    ap.add_argument('--vocab', type=int, default=1000)
    ap.add_argument('--tokens', type=int, default=64)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--no-rwkv-pkg', action='store_true')
    ap.add_argument('--pth-only', action='store_true', help='write model_bf16.pth only, no references')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    W = random_weights(a.layers, a.embd, a.head_size, a.vocab, a.seed)
    Wb = {k: v.to(torch.bfloat16) for k, v in W.items()}
    if a.pth_only:
        torch.save(Wb, os.path.join(a.out, 'model_bf16.pth'))
        return
    torch.save(W, os.path.join(a.out, 'model_fp32.pth'))
    torch.save(Wb, os.path.join(a.out, 'model_bf16.pth'))
    torch.save(collections.OrderedDict(W), os.path.join(a.out, 'model_od.pth'))
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in W.items()}, os.path.join(a.out, 'model_fp32.safetensors'))

    tokens = torch.randint(0, a.vocab, (a.tokens,), generator=torch.Generator().manual_seed(a.seed + 1)).tolist()
    res = dict(tokens=tokens, dims=dict(n_layer=a.layers, n_embd=a.embd, head_size=a.head_size, n_vocab=a.vocab),
               fp32=dict(oracle=oracle_run(W, tokens)), bf16=dict(oracle=oracle_run(Wb, tokens)))
    if not a.no_rwkv_pkg and a.head_size == 64:
        res['fp32']['rwkv_pkg'] = rwkv_pkg_run(os.path.join(a.out, 'model_fp32.pth'), tokens, a.layers)
    with open(os.path.join(a.out, 'reference.json'), 'w') as f:
        json.dump(res, f)


if __name__ == '__main__':
    main()
