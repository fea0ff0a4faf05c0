#!/usr/bin/env python3
"""Trains the byte-level BPE tokenizer of the default model and pre-tokenizes the corpus.

Owns: tokenizer.json (HF `tokenizers` format) and the token-id files train.bin / val.bin /
test.bin (little-endian uint16) that train.py loads on the GPU machine.

Invariants:
  * Special tokens have the ids of SPECIAL_TOKENS' order (0..6); <|bos|>=0, <|eos|>=1.
  * Pre-tokenizer: ByteLevel(add_prefix_space=False, use_regex=True) (GPT-2 regex);
    decoder: ByteLevel; post-processor: TemplateProcessing adding <|bos|> in front.
  * Each document is stored as [<|bos|>] + encode(text) + [<|eos|>]; documents are
    concatenated in file order. Chat markers inside documents are encoded as the
    special tokens (they are added tokens, split out before BPE).

Usage:
  python3 tools/train_default_model/train_tokenizer.py --corpus /work/main/.train_carry/corpus \
      --out /work/main/.train_carry/data [--vocab 8192]
"""
import argparse
import json
import os
import re

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPECIAL_TOKENS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>",
                  "<|end|>"]
SPECIAL_RE = re.compile("|".join(re.escape(t) for t in SPECIAL_TOKENS))


def read_docs(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)["text"]


def build_tokenizer(train_jsonl, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2,
                                  special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    # Chat markers must not leak into the merges: the trainer sees them as plain text.
    tok.train_from_iterator((SPECIAL_RE.sub("\n", d) for d in read_docs(train_jsonl)), trainer)
    bos = tok.token_to_id("<|bos|>")
    tok.post_processor = processors.TemplateProcessing(
        single="<|bos|> $A", pair="<|bos|> $A <|bos|> $B:1", special_tokens=[("<|bos|>", bos)])
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, (t, tok.token_to_id(t))
    return tok


def encode_split(tok, jsonl, out_path):
    bos, eos = tok.token_to_id("<|bos|>"), tok.token_to_id("<|eos|>")
    docs = list(read_docs(jsonl))
    ids = []
    for start in range(0, len(docs), 4096):
        for enc in tok.encode_batch(docs[start:start + 4096], add_special_tokens=False):
            ids.append(bos)
            ids.extend(enc.ids)
            ids.append(eos)
    arr = np.asarray(ids, dtype=np.uint16)
    arr.astype("<u2").tofile(out_path)
    return len(docs), len(arr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True, help="folder with train/val/test.jsonl")
    ap.add_argument("--out", required=True, help="folder for tokenizer.json and *.bin")
    ap.add_argument("--vocab", type=int, default=8192)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tok = build_tokenizer(os.path.join(args.corpus, "train.jsonl"), args.vocab)
    tok.save(os.path.join(args.out, "tokenizer.json"))
    stats = {"vocab_size": tok.get_vocab_size()}
    for split in ("train", "val", "test"):
        n_docs, n_tok = encode_split(tok, os.path.join(args.corpus, split + ".jsonl"),
                                     os.path.join(args.out, split + ".bin"))
        stats[split] = {"docs": n_docs, "tokens": n_tok}
        print(f"{split}: {n_docs} docs, {n_tok} tokens")
    with open(os.path.join(args.out, "data_stats.json"), "w") as f:
        json.dump(stats, f, indent=1)


if __name__ == "__main__":
    main()
