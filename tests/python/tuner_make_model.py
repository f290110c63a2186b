#!/usr/bin/env python3
"""A small random RWKV-7 .pth (torch.save, RWKV-LM key names and stored shapes) whose initial
state matters, for the state-tuning tests.

usage: tuner_make_model.py --out FILE.pth [--embd 64 --layers 2 --head-size 16 --vocab 256
                           --ffn 128 --lora 16 --seed 0 --head-scale 1]

Unlike a uniformly random model, the decay offsets w0 span [-6.5, -1.5] like trained RWKV-7 models
(the tiny rwkv.cpp fixture has exactly that range), so some channels keep the initial state over
a few hundred tokens, and the attention output is at the usual 1/sqrt(C) scale. (The tiny
fixture itself is barely trained: its attention output weights are ~0.003, so no initial state
moves its logits by more than ~0.07 and it cannot show state tuning.)
"""
import argparse

import torch


def weights(L, C, N, V, F, D, seed, head_scale=1.0, gate_scale=0.3, ffn_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    u = lambda *shape, s=1.0: (torch.rand(*shape, generator=g) * 2 - 1) * s
    vec = lambda lo, hi: torch.rand(1, 1, C, generator=g) * (hi - lo) + lo
    H = C // N
    W = {'emb.weight': u(V, C), 'blocks.0.ln0.weight': 1 + u(C, s=0.1), 'blocks.0.ln0.bias': u(C, s=0.1)}
    for i in range(L):
        b = f'blocks.{i}.'
        for n in ('ln1', 'ln2'):
            W[b + n + '.weight'], W[b + n + '.bias'] = 1 + u(C, s=0.1), u(C, s=0.1)
        for m in ('x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g'):
            W[b + 'att.' + m] = vec(0, 1)
        W[b + 'att.w0'] = vec(-6.5, -1.5)
        W[b + 'att.w1'], W[b + 'att.w2'] = u(C, D, s=0.1), u(D, C, s=0.1)
        W[b + 'att.a0'] = vec(-1, 1)
        W[b + 'att.a1'], W[b + 'att.a2'] = u(C, D, s=0.1), u(D, C, s=0.1)
        if i > 0:
            W[b + 'att.v0'] = vec(-1, 1)
            W[b + 'att.v1'], W[b + 'att.v2'] = u(C, D, s=0.1), u(D, C, s=0.1)
        W[b + 'att.g1'], W[b + 'att.g2'] = u(C, D, s=0.3), u(D, C, s=gate_scale)
        W[b + 'att.k_k'], W[b + 'att.k_a'] = vec(0.7, 0.9), vec(0.9, 1.1)
        W[b + 'att.r_k'] = u(H, N, s=0.1)
        for n in ('receptance', 'key', 'value', 'output'):
            W[b + f'att.{n}.weight'] = u(C, C, s=C ** -0.5)
        W[b + 'att.ln_x.weight'], W[b + 'att.ln_x.bias'] = 1 + u(C, s=0.1), u(C, s=0.1)
        W[b + 'ffn.x_k'] = vec(0, 1)
        W[b + 'ffn.key.weight'], W[b + 'ffn.value.weight'] = u(F, C, s=C ** -0.5), u(C, F, s=ffn_scale * F ** -0.5)
    W['ln_out.weight'], W['ln_out.bias'] = 1 + u(C, s=0.1), u(C, s=0.1)
    W['head.weight'] = u(V, C, s=head_scale * C ** -0.5)
    return {k: v.contiguous() for k, v in W.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--embd', type=int, default=64)
    ap.add_argument('--layers', type=int, default=2)
    ap.add_argument('--head-size', type=int, default=16)
    ap.add_argument('--vocab', type=int, default=256)
    ap.add_argument('--ffn', type=int, default=128)
    ap.add_argument('--lora', type=int, default=16)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--gate-scale', type=float, default=0.3, help='att.g2 is U(-s, s)')
    ap.add_argument('--ffn-scale', type=float, default=1.0, help='ffn.value is U(-s, s) / sqrt(F) * this')
    ap.add_argument('--head-scale', type=float, default=1.0, help='head weights are U(-s, s) / sqrt(C) * this')
    a = ap.parse_args()
    torch.save(weights(a.layers, a.embd, a.head_size, a.vocab, a.ffn, a.lora, a.seed, a.head_scale, a.gate_scale, a.ffn_scale), a.out)


if __name__ == '__main__':
    main()
