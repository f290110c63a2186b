#!/usr/bin/env python3
"""CPU peer: the PyPI `rwkv` package (RWKV_V7_ON=1, 'cpu fp32') on the tiny rwkv.cpp fixture,
converted to a .pth with the numpy oracle's reader. Prints one JSON line with prefill tokens/s
(one forward over ctx tokens) and decode tokens/s (one token at a time), median of 5.
usage: peer_cpu_rwkv_pkg.py MODEL.bin [--ctx 128] [--decode-tokens 128]"""
import argparse, json, os, statistics, sys, tempfile, time

os.environ['RWKV_V7_ON'] = '1'
os.environ.setdefault('RWKV_JIT_ON', '1')
import torch  # noqa: E402

SHARED = os.environ.get('RWKV_SHARED_DIR', os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared'))
sys.path.insert(0, os.path.join(SHARED, 'spec', 'reference'))
import rwkv7_ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('--ctx', type=int, default=128)
    ap.add_argument('--decode-tokens', type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('RWKV_CPU_THREADS', '1')))
    _, w = rwkv7_ref.load_rwkvcpp(a.model)
    d = tempfile.mkdtemp()
    sd = {}
    for k, v in w.items():
        t = torch.tensor(v, dtype=torch.float32)
        if any(k.endswith(s) for s in ('x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g', 'w0', 'a0', 'v0', 'k_k', 'k_a')) or k.endswith('ffn.x_k'):
            t = t.view(1, 1, -1)
        sd[k] = t
    torch.save(sd, os.path.join(d, 'm.pth'))
    from rwkv.model import RWKV
    m = RWKV(model=os.path.join(d, 'm'), strategy='cpu fp32')
    toks = [(i * 37 + 11) % 256 for i in range(a.ctx)]

    def timed(fn, n=5):
        fn()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
        return statistics.median(ts)
    pre = timed(lambda: m.forward(toks, None))

    def decode():
        st = None
        for t in toks[:a.decode_tokens]:
            _, st = m.forward([t], st)
    dec = timed(decode)
    print(json.dumps(dict(impl='peer:rwkv-pkg', ctx=a.ctx, threads=torch.get_num_threads(),
                          prefill_tok_s=a.ctx / pre, decode_tok_s=min(a.decode_tokens, a.ctx) / dec)))


if __name__ == '__main__':
    main()
