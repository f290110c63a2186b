#!/usr/bin/env python3
"""Trains the demo models' sentencepiece tokenizer (BPE, up to 4096 pieces: the synthetic corpus
supports about 3.4k) on the task-suite corpus.

Settings chosen so our chat rendering survives tokenization unchanged: identity normalisation,
no dummy prefix, whitespace kept as is (so "\\n\\n" ends a turn), byte fallback (any text encodes),
digits split (arithmetic sees single digits). One thread: the same corpus gives the same model.

  train_tokenizer.py --corpus corpus.jsonl --out resources/models/demo.model
"""
import argparse
import json
import os
import shutil
import tempfile

import sentencepiece as spm


def corpus_lines(path):
    """Each document as the text the model reads (chats rendered as the tuner renders them)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            text = d["text"] if "text" in d else "User: {}\n\nAssistant: {}".format(d["question"], d["answer"])
            yield text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True, help="the .model file to write")
    ap.add_argument("--vocab-size", type=int, default=4096)
    args = ap.parse_args()

    out = os.path.abspath(args.out)
    lines = list(corpus_lines(args.corpus))
    with tempfile.TemporaryDirectory() as tmp:
        # The model file records its input and prefix paths: relative ones keep it reproducible.
        os.chdir(tmp)
        # sentencepiece reads one sentence per line; newlines inside a document are kept by
        # training on the documents' lines and adding "\n" as a user-defined piece.
        text_path = "corpus.txt"
        with open(text_path, "w", encoding="utf-8") as f:
            for doc in lines:
                for line in doc.split("\n"):
                    if line:
                        f.write(line + "\n")
        prefix = "demo"
        spm.SentencePieceTrainer.train(
            input=text_path, model_prefix=prefix, model_type="bpe", vocab_size=args.vocab_size,
            character_coverage=1.0, byte_fallback=True, split_digits=True,
            normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
            allow_whitespace_only_pieces=True, user_defined_symbols=["\n", "\n\n"],
            unk_id=0, bos_id=-1, eos_id=1, pad_id=-1, eos_piece="<|endoftext|>",
            hard_vocab_limit=False, num_threads=1, input_sentence_size=0, shuffle_input_sentence=False,
            minloglevel=2)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.copyfile(prefix + ".model", out)

    sp = spm.SentencePieceProcessor(model_file=out)
    probe = "User: What is 12 + 30?\n\nAssistant: 42\n#### 42"
    ids = sp.encode(probe)
    assert sp.decode(ids) == probe, "tokenizer does not round-trip the chat rendering"
    print("{}: {} pieces; probe {} -> {} tokens".format(out, sp.get_piece_size(), repr(probe), len(ids)))


if __name__ == "__main__":
    main()
