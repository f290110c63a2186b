#!/usr/bin/env python3
"""The peer: one RWKV-7 state-tuning step the way RWKV-PEFT does it, PyTorch bf16 with fla's
chunk_rwkv7 for the recurrence and the trainable per-layer time_state as its initial_state
(transposed to fla's [K, V] layout); every weight frozen; cross-entropy on every token.
Random weights with the real shapes (vocab 65536). Prints one JSON object per configuration.

fla is not a dependency of the project: a fetched copy of fla-org/flash-linear-attention is put
on PYTHONPATH for this script only (never committed). Usage on the GPU machine:
  PYTHONPATH=.peer python3 tests/bench/peer_state_tune.py --shape 0.4b --ctx 4096 --bsz 4
"""
import argparse, json, math, statistics, time

import torch
import torch.nn.functional as F

SHAPES = {  # name: (layers, embd, lora w, a, v, g) of the released RWKV-7 models
    '0.1b': (12, 768, 64, 64, 32, 128),
    '0.4b': (24, 1024, 64, 64, 32, 128),
    '1.5b': (24, 2048, 96, 96, 64, 256),
}
V, N = 65536, 64


def random_model(shape, device, seed=0):
    L, C, Dw, Da, Dv, Dg = SHAPES[shape]
    g = torch.Generator(device='cpu').manual_seed(seed)
    def u(*s, scale=1.0, dt=torch.bfloat16):
        return ((torch.rand(*s, generator=g) * 2 - 1) * scale).to(device, dt)
    z = {'emb': u(V, C), 'ln0w': 1 + u(C, scale=0.1), 'ln0b': u(C, scale=0.1),
         'lnow': 1 + u(C, scale=0.1), 'lnob': u(C, scale=0.1), 'head': u(V, C, scale=C ** -0.5), 'layers': []}
    for i in range(L):
        p = {}
        for n in ('ln1w', 'ln2w', 'lnxw'):
            p[n] = 1 + u(C, scale=0.1)
        for n in ('ln1b', 'ln2b', 'lnxb'):
            p[n] = u(C, scale=0.1)
        for n in ('x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g', 'ffn_x_k'):
            p[n] = u(C, scale=0.5) + 0.5
        p['w0'] = u(C) - 1; p['a0'] = u(C); p['v0'] = u(C)
        p['w1'], p['w2'] = u(C, Dw, scale=0.1), u(Dw, C, scale=0.1)
        p['a1'], p['a2'] = u(C, Da, scale=0.1), u(Da, C, scale=0.1)
        p['v1'], p['v2'] = u(C, Dv, scale=0.1), u(Dv, C, scale=0.1)
        p['g1'], p['g2'] = u(C, Dg, scale=0.1), u(Dg, C, scale=0.1)
        p['k_k'] = u(C, scale=0.1) + 0.8; p['k_a'] = u(C, scale=0.1) + 1.0
        p['r_k'] = u(C // N, N, scale=0.1)
        for n in ('R', 'K', 'V', 'O'):
            p[n] = u(C, C, scale=C ** -0.5)
        p['fk'], p['fv'] = u(4 * C, C, scale=C ** -0.5), u(C, 4 * C, scale=(4 * C) ** -0.5)
        z['layers'].append(p)
    return z


def forward_loss(z, states, idx, targets, chunk_rwkv7):
    """RWKV-PEFT style bf16 forward; states: L x [H, N, N] fp32 ([value][key]) trainable."""
    B, T = idx.shape
    C = z['emb'].shape[1]
    H = C // N
    x = F.layer_norm(z['emb'][idx], (C,), z['ln0w'], z['ln0b'])
    v_first = None
    for i, p in enumerate(z['layers']):
        xx = F.layer_norm(x, (C,), p['ln1w'], p['ln1b'])
        dx = F.pad(xx, (0, 0, 1, -1)) - xx
        xr, xw, xk, xv, xa, xg = (xx + dx * p[n] for n in ('x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g'))
        r, k, v = xr @ p['R'].t(), xk @ p['K'].t(), xv @ p['V'].t()
        w = -F.softplus(-(p['w0'] + torch.tanh(xw @ p['w1']) @ p['w2'])) - 0.5  # log decay
        a = torch.sigmoid(p['a0'] + (xa @ p['a1']) @ p['a2'])
        g = torch.sigmoid(xg @ p['g1']) @ p['g2']
        if i == 0:
            v_first = v
        else:
            v = v + (v_first - v) * torch.sigmoid(p['v0'] + (xv @ p['v1']) @ p['v2'])
        kk = F.normalize((k * p['k_k']).view(B, T, H, N), dim=-1, p=2.0)
        k = k * (1 + (a - 1) * p['k_a'])
        s0 = states[i].transpose(1, 2).unsqueeze(0).expand(B, -1, -1, -1).contiguous()  # fla: [B,H,K,V]
        logw = (-w.float().exp()).to(r.dtype).view(B, T, H, N)  # log of the decay exp(-exp(wlog))
        y, _ = chunk_rwkv7(r.view(B, T, H, N), logw,
                           k.view(B, T, H, N), v.view(B, T, H, N), -kk, kk * a.view(B, T, H, N),
                           scale=1.0, initial_state=s0, output_final_state=False)
        y = F.group_norm(y.reshape(B * T, C).float(), H, p['lnxw'].float(), p['lnxb'].float(), eps=64e-5).view(B, T, C).to(x.dtype)
        y = y + ((r.view(B, T, H, N) * k.view(B, T, H, N) * p['r_k']).sum(-1, keepdim=True) * v.view(B, T, H, N)).view(B, T, C)
        x = x + (y * g) @ p['O'].t()
        xx = F.layer_norm(x, (C,), p['ln2w'], p['ln2b'])
        xk = xx + (F.pad(xx, (0, 0, 1, -1)) - xx) * p['ffn_x_k']
        x = x + torch.relu(xk @ p['fk'].t()).square() @ p['fv'].t()
    logits = F.layer_norm(x, (C,), z['lnow'], z['lnob']) @ z['head'].t()
    return F.cross_entropy(logits.view(-1, V).float(), targets.reshape(-1))


def bench(shape, ctx, bsz, iters, warmup):
    from fla.ops.rwkv7 import chunk_rwkv7
    dev = torch.device('cuda')
    z = random_model(shape, dev)
    L, C = SHAPES[shape][:2]
    states = [torch.zeros(C // N, N, N, device=dev, requires_grad=True) for _ in range(L)]
    g = torch.Generator(device='cpu').manual_seed(7)
    toks = torch.randint(0, V, (bsz, ctx + 1), generator=g).to(dev)
    idx, tgt = toks[:, :-1], toks[:, 1:]

    def step():
        loss = forward_loss(z, states, idx, tgt, chunk_rwkv7)
        loss.backward()
        for s in states:
            s.grad = None
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    sec = statistics.median(times)
    return dict(impl='peer:pytorch+fla', shape=shape, ctx=ctx, bsz=bsz, tune_step_ms=sec * 1e3,
                tune_tok_s=bsz * ctx / sec, peak_mem_bytes=torch.cuda.max_memory_allocated())


def bench_kernel(shape, ctx, bsz, iters, warmup):
    """fla chunk_rwkv7 alone on the shapes our `bench --what wkv` uses: bf16 inputs as RWKV-PEFT
    passes them, an fp32 initial state that needs a gradient."""
    from fla.ops.rwkv7 import chunk_rwkv7
    dev = torch.device('cuda')
    H = SHAPES[shape][1] // N
    g = torch.Generator(device='cpu').manual_seed(3)
    rnd = lambda s: (torch.randn(bsz, ctx, H, N, generator=g) * s).to(dev)
    r, k, v = rnd(0.5), rnd(0.5), rnd(0.5)
    logw = -math.exp(-0.5) * torch.sigmoid(rnd(2))
    kk = F.normalize(rnd(1), dim=-1)
    a, b = -kk, kk * torch.sigmoid(rnd(1))
    ins = [t.to(torch.bfloat16) for t in (r, logw, k, v, a, b)]
    s0 = (torch.randn(bsz, H, N, N, generator=g) * 0.1).to(dev)
    gy = torch.randn(bsz, ctx, H, N, generator=g).to(dev, torch.bfloat16)

    def timed(fn):
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        ts = []
        for _ in range(iters):
            t0 = time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append(time.perf_counter() - t0)
        return statistics.median(ts) * 1e3

    with torch.no_grad():
        fwd = timed(lambda: chunk_rwkv7(*ins, scale=1.0, initial_state=s0, output_final_state=True))
    leaves = [t.detach().requires_grad_(True) for t in ins] + [s0.detach().requires_grad_(True)]

    def fb():
        y, _ = chunk_rwkv7(*leaves[:6], scale=1.0, initial_state=leaves[6], output_final_state=True)
        (y * gy).sum().backward()
        for t in leaves:
            t.grad = None
    return dict(impl='peer:fla.chunk_rwkv7', shape=shape, ctx=ctx, bsz=bsz, wkv_fwd_ms=fwd, wkv_fwdbwd_ms=timed(fb))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--shape', default='0.1b')
    ap.add_argument('--ctx', default='512')
    ap.add_argument('--bsz', default='1')
    ap.add_argument('--iters', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--kernel-only', action='store_true', help='time chunk_rwkv7 alone')
    a = ap.parse_args()
    for shape in a.shape.split(','):
        for ctx in map(int, a.ctx.split(',')):
            for bsz in map(int, a.bsz.split(',')):
                try:
                    r = (bench_kernel if a.kernel_only else bench)(shape, ctx, bsz, a.iters, a.warmup)
                except torch.OutOfMemoryError as e:
                    r = dict(impl='peer:pytorch+fla', shape=shape, ctx=ctx, bsz=bsz, error='out of memory')
                print(json.dumps(r), flush=True)
                torch.cuda.empty_cache()


if __name__ == '__main__':
    main()
