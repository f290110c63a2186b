#!/usr/bin/env python3
"""Real checkpoint files for the C++ loader tests, written with torch / safetensors.

  make_checkpoints.py random OUTDIR
      A random RWKV-7 model (standard key names, L=2 C=128 H=2 N=64 V=300 F=512, LoRA widths
      w=24 a=40 v=16 g=48, layer 0 without v0/v1/v2) in every form the engine reads:
      .pth bf16 (dict), .pth fp32 (dict), .pth bf16 saved as an OrderedDict with _metadata (what
      nn.Module.state_dict() returns), .pth fp16, .pth with the weights wrapped under "state_dict"
      beside other objects, .pth of nn.Parameters in pickle protocol 4, .pth with dummy v0/v1/v2
      in layer 0,
      .safetensors bf16 and fp32 (safetensors package), rwkv.cpp .bin FP32 and FP16 (written by
      the numpy oracle's save_rwkvcpp). Every value is k/512 with |k| <= 255, which bf16, fp16
      and fp32 all represent exactly, so every form must load to identical fp32 weights.
      Also broken variants (missing key, wrong shape, NaN, Inf, a state file) and the reference
      ref.json + ref.f32 (squeezed fp32 weights, see write_reference).
  make_checkpoints.py from-rwkvcpp MODEL.bin OUTDIR
      The reference dump of an rwkv.cpp file as read by the numpy oracle (spec/reference/
      rwkv7_ref.py load_rwkvcpp, an independent reader), to check the C++ reader against it.
  make_checkpoints.py hashes OUTDIR
      Files of awkward sizes around the SHA-256 block boundaries, with hashlib's digests in
      hashes.json.
"""
import argparse
import collections
import hashlib
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file

SHARED = os.environ.get('RWKV_SHARED_DIR') or os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared')
sys.path.insert(0, os.path.join(SHARED, 'spec', 'reference'))
import rwkv7_ref  # noqa: E402  (the numpy oracle: independent rwkv.cpp reader and writer)

MIX = ('x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g')
VEC_1x1xC = MIX + ('w0', 'a0', 'v0', 'k_k', 'k_a')  # stored [1, 1, C] in .pth files


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def random_model(L=2, C=128, N=64, V=300, F=512, Dw=24, Da=40, Dv=16, Dg=48, seed=5):
    """.pth layout (1x1xC vectors 3-D), float32 values exactly representable in bf16/fp16."""
    g = torch.Generator().manual_seed(seed)
    H = C // N

    def r(*shape):
        return torch.randint(-255, 256, shape, generator=g).float() / 512

    sd = {'emb.weight': r(V, C), 'blocks.0.ln0.weight': r(C), 'blocks.0.ln0.bias': r(C)}
    for i in range(L):
        b = 'blocks.%d.' % i
        for n in ('ln1', 'ln2'):
            sd[b + n + '.weight'], sd[b + n + '.bias'] = r(C), r(C)
        for m in MIX:
            sd[b + 'att.' + m] = r(1, 1, C)
        for x, D in (('w', Dw), ('a', Da), ('v', Dv)):
            if x == 'v' and i == 0:
                continue
            sd[b + 'att.%s0' % x] = r(1, 1, C)
            sd[b + 'att.%s1' % x] = r(C, D)
            sd[b + 'att.%s2' % x] = r(D, C)
        sd[b + 'att.g1'], sd[b + 'att.g2'] = r(C, Dg), r(Dg, C)
        sd[b + 'att.k_k'], sd[b + 'att.k_a'] = r(1, 1, C), r(1, 1, C)
        sd[b + 'att.r_k'] = r(H, N)
        for n in ('receptance', 'key', 'value', 'output'):
            sd[b + 'att.%s.weight' % n] = r(C, C)
        sd[b + 'att.ln_x.weight'], sd[b + 'att.ln_x.bias'] = r(C), r(C)
        sd[b + 'ffn.x_k'] = r(1, 1, C)
        sd[b + 'ffn.key.weight'], sd[b + 'ffn.value.weight'] = r(F, C), r(C, F)
    sd['ln_out.weight'], sd['ln_out.bias'], sd['head.weight'] = r(C), r(C), r(V, C)
    dims = dict(n_vocab=V, n_embd=C, n_layer=L, n_head=H, head_size=N, dim_ffn=F,
                d_decay=Dw, d_aaa=Da, d_mv=Dv if L > 1 else 0, d_gate=Dg)
    return sd, dims


def write_reference(outdir, weights, dims, extra=None):
    """ref.f32: the squeezed weights as little-endian float32, concatenated; ref.json: for each
    key its squeezed shape and offset (in floats), the dims and n_params (sum of numel)."""
    entries, blobs, off = {}, [], 0
    for k in sorted(weights):
        a = np.asarray(weights[k], dtype=np.float64)
        leaf = k.split('.')[-1]
        if leaf != 'r_k' and a.ndim > 1 and all(s == 1 for s in a.shape[:-1]):
            a = a.reshape(-1)
        a32 = a.astype('<f4')
        assert np.array_equal(a32.astype(np.float64), a), k  # exactly representable
        entries[k] = dict(shape=list(a.shape), offset=off)
        blobs.append(a32.tobytes())
        off += a.size
    with open(os.path.join(outdir, 'ref.f32'), 'wb') as f:
        f.write(b''.join(blobs))
    doc = dict(dims=dims, n_params=int(sum(np.asarray(w).size for w in weights.values())), tensors=entries)
    doc.update(extra or {})
    with open(os.path.join(outdir, 'ref.json'), 'w') as f:
        json.dump(doc, f, indent=1)


def cmd_random(outdir):
    os.makedirs(outdir, exist_ok=True)
    sd, dims = random_model()
    P = lambda name: os.path.join(outdir, name)
    as_dtype = lambda d, dt: {k: v.to(dt) for k, v in d.items()}

    torch.save(as_dtype(sd, torch.bfloat16), P('m_bf16.pth'))
    torch.save(as_dtype(sd, torch.float32), P('m_fp32.pth'))
    od = collections.OrderedDict(as_dtype(sd, torch.bfloat16))
    od._metadata = collections.OrderedDict([('', {'version': 1})])  # as nn.Module.state_dict() returns it
    torch.save(od, P('m_od_bf16.pth'))
    torch.save(as_dtype(sd, torch.float16), P('m_fp16.pth'))
    torch.save({'epoch': 3, 'args': argparse.Namespace(lr=1e-4, ctx_len=512), 'loss': [2.5, 2.25],
                'tags': {'a', 'b'}, 'state_dict': collections.OrderedDict(sd)}, P('m_wrapped.pth'))
    params = {k: torch.nn.Parameter(v.clone()) for k, v in sd.items()}
    torch.save(params, P('m_params_p4.pth'), pickle_protocol=4)
    dummies = dict(sd)
    C = dims['n_embd']
    dummies['blocks.0.att.v0'] = torch.zeros(1, 1, C)  # some exporters add these; must be ignored
    dummies['blocks.0.att.v1'] = torch.zeros(C, 7)
    dummies['blocks.0.att.v2'] = torch.zeros(7, C)
    torch.save(dummies, P('m_l0dummies.pth'))
    save_file(as_dtype(sd, torch.bfloat16), P('m_bf16.safetensors'))
    save_file(as_dtype(sd, torch.float32), P('m_fp32.safetensors'))
    flat = {k: v.double().numpy().reshape(-1) if k.split('.')[-1] in VEC_1x1xC else v.double().numpy()
            for k, v in sd.items()}
    rwkv7_ref.save_rwkvcpp(P('m_fp32.bin'), flat)
    rwkv7_ref.save_rwkvcpp(P('m_fp16.bin'), flat, fp16=True)

    # Broken variants: each has exactly one problem.
    bad = dict(sd); del bad['blocks.1.att.key.weight']
    torch.save(bad, P('bad_missing_key.pth'))
    bad = dict(sd); bad['blocks.1.att.w2'] = sd['blocks.1.att.w2'].t().contiguous()  # [C, Dw]
    torch.save(bad, P('bad_shape_w2.pth'))
    bad = dict(sd); bad['blocks.1.att.r_k'] = sd['blocks.1.att.r_k'].reshape(1, C)
    torch.save(bad, P('bad_shape_rk.pth'))
    bad = dict(sd); bad['blocks.1.ffn.value.weight'] = sd['blocks.1.ffn.value.weight'].clone()
    bad['blocks.1.ffn.value.weight'][3, 5] = float('nan')
    save_file(as_dtype(bad, torch.bfloat16), P('bad_nan.safetensors'))
    bad = dict(sd); bad['blocks.0.att.a0'] = sd['blocks.0.att.a0'].clone()
    bad['blocks.0.att.a0'][0, 0, 7] = float('inf')
    torch.save(bad, P('bad_inf.pth'))
    L, H, N = dims['n_layer'], dims['n_head'], dims['head_size']
    torch.save({'blocks.%d.att.time_state' % i: torch.zeros(H, N, N) for i in range(L)}, P('bad_state_file.pth'))
    torch.save([torch.zeros(3)], P('bad_list.pth'))

    files = sorted(f for f in os.listdir(outdir) if f.endswith(('.pth', '.safetensors', '.bin')))
    write_reference(outdir, {k: v.double().numpy() for k, v in sd.items()}, dims,
                    dict(sha256={f: sha256(P(f)) for f in files}))


def cmd_from_rwkvcpp(model, outdir):
    os.makedirs(outdir, exist_ok=True)
    _, w = rwkv7_ref.load_rwkvcpp(model)
    dims = rwkv7_ref.model_dims(w)
    dims['d_mv'] = dims['d_mv'] or 0
    write_reference(outdir, w, dims, dict(model=os.path.abspath(model), sha256={'model': sha256(model)}))


def cmd_hashes(outdir):
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(11)
    out = {}
    for n in (0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, (1 << 20) - 1, (1 << 20) + 77, 3 * (1 << 20) + 5):
        name = 'h_%d.dat' % n
        with open(os.path.join(outdir, name), 'wb') as f:
            f.write(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        out[name] = sha256(os.path.join(outdir, name))
    with open(os.path.join(outdir, 'hashes.json'), 'w') as f:
        json.dump(out, f, indent=1)


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'random':
        cmd_random(*args)
    elif cmd == 'from-rwkvcpp':
        cmd_from_rwkvcpp(*args)
    elif cmd == 'hashes':
        cmd_hashes(*args)
    else:
        sys.exit('unknown command ' + cmd)
