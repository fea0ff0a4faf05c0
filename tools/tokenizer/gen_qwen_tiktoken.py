#!/usr/bin/env python3
"""Reference ids for Qwen (v1 / Qwen-VL) qwen.tiktoken, produced with the `tiktoken` package.

Reproduces Qwen's published tokenization_qwen.py (Qwen/Qwen-7B on the HF hub): the rank file
loaded with tiktoken's load_tiktoken_bpe, PAT_STR below, special tokens <|endoftext|>,
<|im_start|>, <|im_end|>, <|extra_0..204|> numbered from 151643, text NFC-normalized before
encoding, encode(allowed_special="all", disallowed_special=()), decode(errors="replace").
Input: tests/data/tokenizer/corpus.json (hex bytes; invalid UTF-8 is first decoded with
errors="replace", as the C++ tokenizer repairs it) plus a few Qwen-specific strings.
Output: tests/data/tokenizer/expected/qwen1_tiktoken.json [{"name","hex","ids","decoded"}].

    pip install tiktoken && python3 tools/tokenizer/gen_qwen_tiktoken.py
"""
import json
import os
import unicodedata

import tiktoken
from tiktoken.load import load_tiktoken_bpe

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
RANKS = os.path.abspath(os.path.join(ROOT, "..", "shared", "testdata", "tokenizers", "qwen1",
                                     "qwen.tiktoken"))
PAT_STR = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)]
EXTRA = {
    "qwen_chat": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n你好，世界！<|im_end|>\n",
    "qwen_extra": "a<|extra_0|>b<|extra_204|><|endoftext|>",
    "qwen_nfc": "e\u0301 A\u030a \uac00\u11a8 ﬁ",
    "qwen_numbers": "1234567 3.14159 ２０２４年",
}


def main():
    ranks = load_tiktoken_bpe(RANKS)
    specials = {t: 151643 + i for i, t in enumerate(SPECIALS)}
    enc = tiktoken.Encoding("Qwen", pat_str=PAT_STR, mergeable_ranks=ranks, special_tokens=specials)
    with open(os.path.join(ROOT, "tests", "data", "tokenizer", "corpus.json"), encoding="utf-8") as f:
        corpus = json.load(f)
    cases = [(c["name"], c["hex"]) for c in corpus]
    cases += [(k, v.encode("utf-8").hex()) for k, v in EXTRA.items()]
    out = []
    for name, hx in cases:
        text = bytes.fromhex(hx).decode("utf-8", errors="replace")
        text = unicodedata.normalize("NFC", text)
        ids = enc.encode(text, allowed_special="all", disallowed_special=())
        out.append({"name": name, "hex": hx, "ids": ids, "decoded": enc.decode(ids, errors="replace")})
    path = os.path.join(ROOT, "tests", "data", "tokenizer", "expected", "qwen1_tiktoken.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"tiktoken_version": tiktoken.__version__, "cases": out}, f, ensure_ascii=False,
                  indent=0)
        f.write("\n")
    print(len(out), "cases ->", path)


if __name__ == "__main__":
    main()
