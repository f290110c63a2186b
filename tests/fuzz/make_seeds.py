#!/usr/bin/env python3
"""Seed corpus for the libFuzzer targets: tiny valid files of every format, written with the
real tools (torch.save, the safetensors package), one folder per target under OUT.

usage: make_seeds.py OUT
Larger real files are not copied here: `scripts/dev fuzz` passes ../shared/fixtures (the tiny
rwkv.cpp model, the World vocab) and resources/ (demo tokenizer, datasets) as extra read-only
corpus folders, and libFuzzer cuts them to -max_len.
"""
import collections, json, os, struct, sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'python'))
from make_random_model import random_weights  # noqa: E402  (real key names and shapes)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)


def rwkvcpp_bytes(W, dtype):
    """rwkv.cpp layout (spec/rwkv7.md 3): header, then records with ggml's reversed sizes."""
    ftype = 0 if dtype == torch.float32 else 1
    C = W['emb.weight'].shape[1]
    out = struct.pack('<6i', 0x67676d66, 101, W['emb.weight'].shape[0], C,
                      1 + max(int(k.split('.')[1]) for k in W if k.startswith('blocks.')), ftype)
    for k, v in W.items():
        leaf = k.rsplit('.', 1)[-1]
        if leaf in ('x_w', 'x_k', 'x_v', 'x_a', 'x_g') and '.att.' in k:
            continue
        if leaf == 'x_r' and '.att.' in k:
            p = k[:-len('x_r')]
            v = torch.cat([W[p + m] for m in ('x_r', 'x_w', 'x_k', 'x_v', 'x_a', 'x_g')]).reshape(6, 1, C)
            k = p + 'x_rwkvag'
        elif '.att.' in k and leaf in ('w1', 'w2', 'a1', 'a2', 'v1', 'v2', 'g1', 'g2'):
            v = v.t()
        v = v.to(dtype).contiguous()
        name = k.encode()
        out += struct.pack('<3i', v.dim(), len(name), ftype) + struct.pack(f'<{v.dim()}i', *reversed(v.shape))
        out += name + v.numpy().tobytes() if dtype == torch.float32 else name + v.view(torch.int16).numpy().tobytes()
    return out


def main():
    out = sys.argv[1]
    W = random_weights(L=2, C=8, N=4, V=16, seed=1)
    tiny = {k: v.contiguous() for k, v in W.items()}
    # Checkpoints: every reader and Model::load get all of them.
    ck = os.path.join(out, 'checkpoints')
    os.makedirs(ck, exist_ok=True)
    torch.save(tiny, os.path.join(ck, 'tiny_fp32.pth'))
    torch.save({k: v.bfloat16() for k, v in tiny.items()}, os.path.join(ck, 'tiny_bf16.pth'))
    torch.save(collections.OrderedDict(tiny), os.path.join(ck, 'tiny_od.pth'))
    torch.save({'state_dict': tiny, 'epoch': 3}, os.path.join(ck, 'tiny_wrapped.pth'))
    save_file(tiny, os.path.join(ck, 'tiny_fp32.safetensors'), metadata={'format': 'pt'})
    save_file({k: v.half() for k, v in tiny.items()}, os.path.join(ck, 'tiny_fp16.safetensors'))
    write(os.path.join(ck, 'tiny_fp32.bin'), rwkvcpp_bytes(tiny, torch.float32))
    write(os.path.join(ck, 'tiny_fp16.bin'), rwkvcpp_bytes(tiny, torch.float16))

    # State files: ours (marker + metadata), RWKV-PEFT .pth (fp32, bf16), Ai00 .st (f16, transposed).
    st = os.path.join(out, 'states')
    os.makedirs(st, exist_ok=True)
    g = torch.Generator().manual_seed(2)
    S = {f'blocks.{l}.att.time_state': torch.randn(2, 4, 4, generator=g) for l in range(2)}
    meta = {'rwkv_studio_state': '1', 'dims': json.dumps({'n_layer': 2, 'n_head': 2, 'head_size': 4}),
            'model_sha256': '0' * 64, 'tokenizer': 'bytes', 'config': '{"lr": 0.01}', 'metrics': '[]',
            'created': '2026-01-01T00:00:00Z'}
    save_file(S, os.path.join(st, 'ours.rwkvstate'), metadata=meta)
    torch.save(S, os.path.join(st, 'peft_fp32.pth'))
    torch.save({k: v.bfloat16() for k, v in S.items()}, os.path.join(st, 'peft_bf16.pth'))
    save_file({k: v.transpose(-1, -2).half().contiguous() for k, v in S.items()}, os.path.join(st, 'ai00.st'),
              metadata={'format': 'pt'})

    # World vocab: str, bytes, escapes, a gap in the ids, CRLF.
    vocab = ("1 '\\x00' 1\n2 'a' 1\n3 'b' 1\n4 'ab' 2\n5 b'\\xe4' 1\n6 '\\u4f60' 3\n"
             "8 \"it's\" 4\n9 ' ' 1\n10 '\\n' 1\n11 r'\\d' 2\n12 'User' 4\r\n13 b'\\x80\\xff' 2\n")
    write(os.path.join(out, 'vocab', 'tiny.txt'), vocab.encode())

    # Tokenizer paths (first byte 0 = a path; see fuzz_sentencepiece.cpp).
    for name, p in (('bytes', 'bytes'), ('missing', 'no/such/file.model'), ('dir', '.'), ('empty', ''),
                    ('relative', 'CMakeLists.txt')):
        write(os.path.join(out, 'tokenizer', name), b'\0' + p.encode())

    # Datasets and eval sets (the dataset target takes ctx_len from the last byte).
    lines = [{'text': 'hello world'}, {'question': 'Where?', 'answer': 'Here.'},
             {'instruction': 'Add', 'input': '1 2', 'output': '3'}, {'prompt': 'p', 'response': 'r'},
             {'messages': [{'role': 'system', 'content': 's'}, {'role': 'user', 'content': 'u'},
                           {'role': 'assistant', 'content': 'a'}]},
             {'answer': 'no question'}, {'text': ''}, [1, 2]]
    body = '\ufeff' + '\n'.join(json.dumps(x, ensure_ascii=False) for x in lines) + '\n\n{bad json\r\n'
    write(os.path.join(out, 'dataset', 'mixed.jsonl'), body.encode())
    write(os.path.join(out, 'eval', 'mixed.jsonl'), body.encode())
    write(os.path.join(out, 'eval', 'gsm8k.jsonl'), b'{"question": "1+1?", "answer": "It is 2.\\n#### 2"}\n')
    write(os.path.join(out, 'eval', 'mmlu.csv'),
          b'What?,a,b,c,d,A\r\n"Multi\nline ""quoted""",1,2,3,4,d\n\nshort,row\n"unterminated,1,2\n')


if __name__ == '__main__':
    main()
