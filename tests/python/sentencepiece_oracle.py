#!/usr/bin/env python3
"""Trains a tiny sentencepiece model with the PyPI `sentencepiece` package and records what
Python's processor does on sample strings, for tests/unit/test_tokenizer.cpp.

usage: sentencepiece_oracle.py --out-dir D [--seed 0] [--vocab 300]
Writes D/corpus.txt, D/tiny.model (unigram, byte_fallback so any text encodes; byte fallback needs
the vocab to hold the 256 byte pieces, hence ~300) and D/oracle.json:
  {"model": "D/tiny.model", "vocab_size": V, "eos_id": E, "unk_id": U,
   "cases": [{"text_hex": ..., "ids": [...], "decode_hex": <sp.decode(ids) as UTF-8>,
              "pieces_hex": <concatenated bytes of each id's piece>}, ...]}
pieces_hex maps each id on its own: byte piece <0xAB> -> 0xAB, control -> b'', unknown -> ' \u2047 ',
other pieces -> the piece with U+2581 as ' '.
"""
import argparse, json, os, random

import sentencepiece as spm

SYLLABLES = ['ka', 'to', 'ri', 'mi', 'sa', 'no', 'ne', 'ha', 'lu', 'te', 'on', 'an', 'the', 'ing', 'st', 'qu']
FIXED = ['katori mino', 'Hello \U0001f642 ok', '  two  spaces', '\u4f60\u597d\uff0c\u4e16\u754c', 'tab\there',
         'line\nbreak', 'the thing, the string.', 'x', 'caf\u00e9 na\u00efve \u00c5ngstr\u00f6m']


def random_text(rng):
    parts = []
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.6:
            parts.append(''.join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))))
        elif r < 0.75:
            parts.append(chr(rng.randint(0x4E00, 0x9FFF)) * rng.randint(1, 2))
        elif r < 0.85:
            parts.append(chr(rng.randint(0x1F300, 0x1F64F)))
        elif r < 0.95:
            parts.append(rng.choice(['.', ',', '!', '?', ':', '-', '42', '2+2']))
        else:
            parts.append(chr(rng.randint(0xC0, 0x17F)))
    return ' '.join(parts)


def piece_bytes(sp, i):
    if sp.is_byte(i):
        return bytes([int(sp.id_to_piece(i)[3:5], 16)])
    if sp.is_control(i):
        return b''
    if sp.is_unknown(i):
        return ' \u2047 '.encode('utf-8')
    return sp.id_to_piece(i).replace('\u2581', ' ').encode('utf-8')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out-dir', required=True)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--vocab', type=int, default=300)
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out_dir, exist_ok=True)
    corpus = os.path.join(a.out_dir, 'corpus.txt')
    with open(corpus, 'w', encoding='utf-8') as f:
        for _ in range(3000):
            f.write(' '.join(''.join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))
                             for _ in range(rng.randint(3, 12))) + rng.choice(['.', '!', '?', ',', ' \u4f60\u597d', '']) + '\n')
    prefix = os.path.join(a.out_dir, 'tiny')
    spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=a.vocab, byte_fallback=True,
                                   character_coverage=0.9995, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=prefix + '.model')
    cases = []
    for text in FIXED + [random_text(rng) for _ in range(200)]:
        ids = sp.encode(text)
        cases.append({'text_hex': text.encode('utf-8').hex(), 'ids': ids,
                      'decode_hex': sp.decode(ids).encode('utf-8').hex(),
                      'pieces_hex': b''.join(piece_bytes(sp, i) for i in ids).hex()})
    json.dump({'model': prefix + '.model', 'vocab_size': sp.get_piece_size(), 'eos_id': sp.eos_id(),
               'unk_id': sp.unk_id(), 'cases': cases}, open(os.path.join(a.out_dir, 'oracle.json'), 'w'))


if __name__ == '__main__':
    main()
