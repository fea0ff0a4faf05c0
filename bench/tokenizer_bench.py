#!/usr/bin/env python3
"""Encode throughput, one thread each, of our tokenizer (bench/tokenizer_bench) and HF
`tokenizers` on the same corpus in the same run.

    OMP_WAIT_POLICY=passive python3 bench/tokenizer_bench.py --bin build/bench/tokenizer_bench

Corpus (built here, written to a temp file): the bundled model's held-out English text, the C++
sources of src/tokenizer (code), tests/data/tokenizer/train.txt and the valid-UTF-8 strings of
tests/data/tokenizer/corpus.json (CJK, emoji, combining marks...), cut into ~2 KB chunks at line
ends; every chunk is encoded without special tokens. Tokenizers: a byte-level BPE (shared
StarCoder tokenizer.json) and a SentencePiece-style BPE (shared Llama-2 tokenizer.json). The ids
of one pass are compared (count + FNV-1a hash) so both sides do the same work.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "testdata", "tokenizers"))
TOKENIZERS = {
    "byte-level BPE (StarCoder)": os.path.join(SHARED, "starcoder", "tokenizer.json"),
    "SentencePiece-style BPE (Llama-2)": os.path.join(SHARED, "llama2", "tokenizer.json"),
}


def corpus_chunks():
    parts = []
    with open(os.path.join(ROOT, "models", "lightllm-tiny-en", "heldout.txt"), encoding="utf-8") as f:
        parts.append(f.read())
    for p in sorted(glob.glob(os.path.join(ROOT, "src", "tokenizer", "*.cpp"))):
        with open(p, encoding="utf-8") as f:
            parts.append(f.read())
    with open(os.path.join(ROOT, "tests", "data", "tokenizer", "train.txt"), encoding="utf-8") as f:
        parts.append(f.read())
    with open(os.path.join(ROOT, "tests", "data", "tokenizer", "corpus.json"), encoding="utf-8") as f:
        for c in json.load(f):
            try:
                parts.append(bytes.fromhex(c["hex"]).decode("utf-8"))
            except UnicodeDecodeError:
                pass
    text = "\n".join(parts)
    chunks, cur = [], []
    size = 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        size += len(line.encode("utf-8"))
        if size >= 2048:
            chunks.append("".join(cur))
            cur, size = [], 0
    if cur:
        chunks.append("".join(cur))
    return [c for c in chunks if "\x1e" not in c]


def fnv1a(ids_list):
    h = 1469598103934665603
    n = 0
    for ids in ids_list:
        for i in ids:
            h = ((h ^ i) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
            n += 1
    return n, f"{h:016x}"


def hf_bench(path, chunks, min_seconds):
    tok = Tokenizer.from_file(path)
    n, h = fnv1a(tok.encode(c, add_special_tokens=False).ids for c in chunks)
    nbytes = sum(len(c.encode("utf-8")) for c in chunks)
    passes, t0 = 0, time.perf_counter()
    while True:
        for c in chunks:
            tok.encode(c, add_special_tokens=False)
        passes += 1
        el = time.perf_counter() - t0
        if el >= min_seconds and passes >= 2:
            break
    return {"mb_per_s": nbytes * passes / el / 1e6, "bytes": nbytes, "tokens": n, "fnv1a": h}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench", "tokenizer_bench"))
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    chunks = corpus_chunks()
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        f.write("\n\x1e\n".join(chunks))
        corpus = f.name
    try:
        print(f"corpus: {len(chunks)} chunks, {sum(len(c.encode()) for c in chunks)} bytes")
        ok = True
        for name, path in TOKENIZERS.items():
            r = subprocess.run([args.bin, path, corpus, str(args.seconds)], capture_output=True,
                               text=True, check=True)
            ours = json.loads(r.stdout)
            hf = hf_bench(path, chunks, args.seconds)
            same = (ours["tokens"], ours["fnv1a"]) == (hf["tokens"], hf["fnv1a"])
            ok &= same
            print(f"{name}: ours {ours['mb_per_s']:.2f} MB/s, HF tokenizers {hf['mb_per_s']:.2f} "
                  f"MB/s, ratio {ours['mb_per_s'] / hf['mb_per_s']:.2f}x, tokens {ours['tokens']}"
                  f" ids {'identical' if same else 'DIFFER (hf tokens %d)' % hf['tokens']}")
    finally:
        os.unlink(corpus)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
