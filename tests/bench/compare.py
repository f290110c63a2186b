#!/usr/bin/env python3
"""Joins our bench JSON lines with the peer's on (shape, ctx, bsz) and prints ratios ours/peer as
Markdown tables: the tuning step (tokens/s, higher is better; peak memory, lower is better) and
the recurrence alone (forward + backward milliseconds, lower is better)."""
import json, sys


def load(path):
    rows = []
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith('{'):
                rows.append(json.loads(line))
    except FileNotFoundError:
        pass
    return rows


ours, peer = load(sys.argv[1]), load(sys.argv[2])
key = lambda r: (r['shape'], r.get('ctx'), r.get('bsz'))
step = {key(r): r for r in peer if r.get('impl') == 'peer:pytorch+fla'}
kern = {key(r): r for r in peer if r.get('impl') == 'peer:fla.chunk_rwkv7'}
g = lambda b: '%.2f' % (b / 2 ** 30) if b else '-'
print('| shape | ctx | bsz | ours tune tok/s | peer tune tok/s | ratio | ours peak GiB | peer peak GiB | mem ratio | ours prefill tok/s |')
print('|---|---|---|---|---|---|---|---|---|---|')
for r in ours:
    if not r.get('tune_tok_s'):
        continue
    p = step.get(key(r), {})
    pt, pm = p.get('tune_tok_s'), p.get('peak_mem_bytes')
    print('| %s | %d | %d | %.0f | %s | %s | %s | %s | %s | %.0f |' % (
        r['shape'], r['ctx'], r['bsz'], r['tune_tok_s'], '%.0f' % pt if pt else p.get('error', '-'),
        '%.2f' % (r['tune_tok_s'] / pt) if pt else '-', g(r['peak_mem_bytes']), g(pm),
        '%.2f' % (r['peak_mem_bytes'] / pm) if pm else '-', r.get('prefill_tok_s') or 0))
print('\n| shape | ctx | bsz | ours fwd ms | fla fwd ms | ours fwd+bwd ms | fla fwd+bwd ms | ratio (ours/fla time) |')
print('|---|---|---|---|---|---|---|---|')
for r in ours:
    if not r.get('wkv_fwdbwd_ms'):
        continue
    p = kern.get(key(r), {})
    pf, pb = p.get('wkv_fwd_ms'), p.get('wkv_fwdbwd_ms')
    print('| %s | %d | %d | %.3f | %s | %.3f | %s | %s |' % (
        r['shape'], r['ctx'], r['bsz'], r['wkv_fwd_ms'], '%.3f' % pf if pf else '-', r['wkv_fwdbwd_ms'],
        '%.3f' % pb if pb else '-', '%.2f' % (r['wkv_fwdbwd_ms'] / pb) if pb else '-'))
for r in ours:
    if r.get('decode_tok_s'):
        print('\ndecode %s: %.1f tok/s (%s)' % (r['shape'], r['decode_tok_s'], r.get('decode_path', '?')))
