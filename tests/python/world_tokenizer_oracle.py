#!/usr/bin/env python3
"""Oracle for tests/unit/test_tokenizer.cpp: the Python reference World tokenizers in
../shared/spec/reference (world_tokenizer.py and rwkv7_ref.py's WorldTokenizer).

usage:
  world_tokenizer_oracle.py encode --vocab V --in IN.json --out OUT.json
      IN: {"hex": ["48656c6c6f", ...]}  (UTF-8 or arbitrary bytes, hex)
      OUT: {"ids": [[...], ...]}         rwkv7_ref on the bytes; for inputs that are valid UTF-8
                                         world_tokenizer.py must agree (else exit 1)
  world_tokenizer_oracle.py vocab --vocab V --out OUT.json
      OUT: {"tokens": {"<id>": "<hex of the bytes>", ...}}  (the vocab as Python parses it)
"""
import argparse, json, os, sys

REF = os.path.join(os.environ.get('RWKV_SHARED_DIR', os.path.join(os.path.dirname(__file__), '..', '..', '..', 'shared')),
                   'spec', 'reference')
sys.path.insert(0, REF)
import world_tokenizer  # noqa: E402
import rwkv7_ref  # noqa: E402


def cmd_encode(a):
    ref = rwkv7_ref.WorldTokenizer(a.vocab)
    wt = world_tokenizer.WorldTokenizer(a.vocab)
    items = json.load(open(a.infile))['hex']
    out = []
    for h in items:
        b = bytes.fromhex(h)
        ids = ref.encode(b)
        try:
            s = b.decode('utf-8')
        except UnicodeDecodeError:
            s = None
        if s is not None and wt.encode(s) != ids:
            sys.exit(f'the two reference tokenizers disagree on {h}: {wt.encode(s)} vs {ids}')
        if wt.decode_bytes(ids) != b:
            sys.exit(f'reference decode(encode(x)) != x for {h}')
        out.append(ids)
    json.dump({'ids': out}, open(a.out, 'w'))


def cmd_vocab(a):
    wt = world_tokenizer.WorldTokenizer(a.vocab)
    json.dump({'tokens': {str(i): b.hex() for i, b in wt.id_to_bytes.items()}}, open(a.out, 'w'))


def main():
    p = argparse.ArgumentParser()
    sp = p.add_subparsers(dest='cmd', required=True)
    e = sp.add_parser('encode'); e.add_argument('--vocab', required=True); e.add_argument('--in', dest='infile', required=True)
    e.add_argument('--out', required=True)
    v = sp.add_parser('vocab'); v.add_argument('--vocab', required=True); v.add_argument('--out', required=True)
    a = p.parse_args()
    {'encode': cmd_encode, 'vocab': cmd_vocab}[a.cmd](a)


if __name__ == '__main__':
    main()
