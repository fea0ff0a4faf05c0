#!/usr/bin/env python3
"""Appends expected rows for corpus entries that an expected/<name>.json does not have yet.

gen_tokenizers.py retrains the synthetic tokenizers, and a retrain need not give the same
files; so once they are committed, new corpus entries (tools/tokenizer/make_corpus.py) get
their vectors from this script instead: the committed tokenizer files, the rows they already
have untouched, each new row computed as gen_tokenizers.vectors() does. Run it with the HF
`tokenizers` version the file names (tokenizers_version). qwen1_tiktoken.json is rebuilt by
gen_qwen_tiktoken.py.
"""
import glob
import json
import os

import tokenizers
from tokenizers import Tokenizer

from gen_tokenizers import DATA, SHARED, corpus, write_json


def main():
    entries = corpus()
    for path in sorted(glob.glob(os.path.join(DATA, "expected", "*.json"))):
        with open(path, encoding="utf-8") as f:
            exp = json.load(f)
        if not isinstance(exp, dict) or "rows" not in exp:
            continue
        if exp["tokenizers_version"] != tokenizers.__version__:
            raise SystemExit(f"{path}: made with tokenizers {exp['tokenizers_version']}, "
                             f"this is {tokenizers.__version__}")
        src = exp["tokenizer"]
        src = os.path.join(SHARED, src[7:]) if src.startswith("shared:") else os.path.join(DATA, src)
        tok = Tokenizer.from_file(src)
        have = {r["name"] for r in exp["rows"]}
        added = 0
        for name, text in entries:
            if name in have:
                continue
            plain = tok.encode(text, add_special_tokens=False).ids
            spec = tok.encode(text, add_special_tokens=True).ids
            exp["rows"].append({"name": name, "ids": plain, "ids_special": spec,
                                "decode": tok.decode(plain, skip_special_tokens=False),
                                "decode_special_skip": tok.decode(spec, skip_special_tokens=True),
                                "decode_special_keep": tok.decode(spec, skip_special_tokens=False)})
            added += 1
        write_json(path, exp)
        print(os.path.basename(path), "+", added)


if __name__ == "__main__":
    main()
