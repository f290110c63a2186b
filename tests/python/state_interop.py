#!/usr/bin/env python3
"""State files between the engine and the Python tools (torch, safetensors), for test_state_file.

RAW files are the expected S0 values as little-endian float32 [L, H, N, N] in the engine's
[layer][head][value][key] layout. Every check exits non-zero with a message on a mismatch.

  state_interop.py check-peft FILE RAW L H N DTYPE
      torch.load(FILE) with its default (weights_only=True) must give a dict with exactly the
      keys blocks.{0..L-1}.att.time_state, each [H, N, N] of DTYPE (fp32 or bf16) equal to RAW
      (rounded to bf16 by torch for bf16).
  state_interop.py make-peft OUT RAW L H N DTYPE SEED [KIND]
      Random S0 in DTYPE (fp32, bf16 or fp16) saved with torch.save as KIND: "dict" (default) or
      "state_dict" (an OrderedDict of nn.Parameters, as a module's state_dict holds them);
      RAW gets the stored values as float32.
  state_interop.py make-ai00 OUT RAW L H N SEED
      Random fp32 S0 written as Ai00 does (spec/rwkv7.md 5.2): per layer
      S0[l].transpose(-1, -2).half().contiguous(), safetensors metadata {"format": "pt"};
      RAW gets the f16-rounded S0 (untransposed) as float32.
  state_interop.py check-ours FILE RAW META L H N
      The safetensors package must read FILE: metadata equal to the JSON object in META, the
      tensors blocks.{l}.att.time_state float32 [H, N, N] equal to RAW.
  state_interop.py check-ai00 FILE RAW L H N
      The safetensors package must read FILE: metadata {"format": "pt"}, tensors float16 [H, N, N]
      equal to RAW[l].transpose(-1, -2).half().
"""
import collections
import json
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def key(l):
    return f'blocks.{l}.att.time_state'


def fail(msg):
    print('state_interop: ' + msg, file=sys.stderr)
    sys.exit(1)


def load_raw(path, L, H, N):
    a = np.fromfile(path, dtype='<f4')
    if a.size != L * H * N * N:
        fail(f'{path}: {a.size} values, expected {L * H * N * N}')
    return torch.from_numpy(a.reshape(L, H, N, N).copy())


def save_raw(path, t):
    t.to(torch.float32).contiguous().numpy().astype('<f4').tofile(path)


def same(name, got, want):
    if got.dtype != want.dtype:
        fail(f'{name}: dtype {got.dtype}, expected {want.dtype}')
    if tuple(got.shape) != tuple(want.shape):
        fail(f'{name}: shape {tuple(got.shape)}, expected {tuple(want.shape)}')
    # Bitwise: compare the raw bits so -0.0 vs 0.0 or NaN payloads would also show.
    g = got.contiguous().view(torch.int16 if got.element_size() == 2 else torch.int32)
    w = want.contiguous().view(torch.int16 if want.element_size() == 2 else torch.int32)
    bad = (g != w).nonzero()
    if bad.numel():
        idx = tuple(bad[0].tolist())
        fail(f'{name}: {bad.shape[0]} values differ, first at {idx}: {got[idx].item()} vs {want[idx].item()}')


def check_keys(name, keys, L):
    want = {key(l) for l in range(L)}
    if set(keys) != want:
        fail(f'{name}: keys {sorted(keys)}, expected {sorted(want)}')


def check_peft(path, raw, L, H, N, dtype):
    d = torch.load(path)  # default weights_only=True: must not need any unsafe global
    if not isinstance(d, dict):
        fail(f'{path}: torch.load gave {type(d).__name__}, expected a dict')
    check_keys(path, d.keys(), L)
    want = load_raw(raw, L, H, N).to(DTYPES[dtype])
    for l in range(L):
        same(f'{path} {key(l)}', d[key(l)], want[l])
    print(f'{path}: {L} layers [{H},{N},{N}] {dtype} as expected')


def make_peft(out, raw, L, H, N, dtype, seed, kind='dict'):
    g = torch.Generator().manual_seed(seed)
    s = (torch.randn(L, H, N, N, generator=g) * 0.5).to(DTYPES[dtype])
    if kind == 'dict':
        d = {key(l): s[l].clone() for l in range(L)}
    elif kind == 'state_dict':
        d = collections.OrderedDict((key(l), torch.nn.Parameter(s[l].clone())) for l in range(L))
    else:
        fail(f'unknown kind {kind}')
    torch.save(d, out)
    save_raw(raw, s.float())


def make_ai00(out, raw, L, H, N, seed):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(L, H, N, N, generator=g) * 0.3
    st = {key(l): s[l].transpose(-1, -2).half().contiguous() for l in range(L)}
    save_file(st, out, metadata={'format': 'pt'})
    save_raw(raw, s.half().float())


def check_ours(path, raw, meta_path, L, H, N):
    with open(meta_path, encoding='utf-8') as f:
        want_meta = json.load(f)
    want = load_raw(raw, L, H, N)
    with safe_open(path, framework='pt') as f:
        meta = f.metadata()
        if meta != want_meta:
            fail(f'{path}: metadata {meta}, expected {want_meta}')
        check_keys(path, f.keys(), L)
        for l in range(L):
            same(f'{path} {key(l)}', f.get_tensor(key(l)), want[l])
    print(f'{path}: metadata and {L} layers as expected')


def check_ai00(path, raw, L, H, N):
    want = load_raw(raw, L, H, N)
    with safe_open(path, framework='pt') as f:
        if f.metadata() != {'format': 'pt'}:
            fail(f'{path}: metadata {f.metadata()}, expected {{"format": "pt"}}')
        check_keys(path, f.keys(), L)
        for l in range(L):
            same(f'{path} {key(l)}', f.get_tensor(key(l)), want[l].transpose(-1, -2).half())
    print(f'{path}: {L} transposed f16 layers as expected')


def main():
    a = sys.argv[1:]
    if not a:
        fail(__doc__)
    cmd, rest = a[0], a[1:]
    if cmd == 'check-peft':
        check_peft(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]), rest[5])
    elif cmd == 'make-peft':
        make_peft(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]), rest[5], int(rest[6]), *rest[7:8])
    elif cmd == 'make-ai00':
        make_ai00(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]), int(rest[5]))
    elif cmd == 'check-ours':
        check_ours(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]), int(rest[5]))
    elif cmd == 'check-ai00':
        check_ai00(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]))
    else:
        fail(f'unknown command {cmd}\n{__doc__}')


if __name__ == '__main__':
    main()
