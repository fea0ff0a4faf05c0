#!/usr/bin/env python3
"""Writes tests/data/tokenizer/models/gpt2_single_word/tokenizer.json and its expected vectors.

The tokenizer is models/gpt2/tokenizer.json (gen_tokenizers.py) with one more added token,
"hello" with single_word=True (not normalized, not special), so that the differential test
checks where HF's AddedVocabulary lets a single_word token match: Rust regex's \\w decides
what a word character is. Vectors as gen_tokenizers.vectors() makes them, for the whole corpus.
Run with the tokenizers version of the other expected files (tokenizers_version).
"""
import json
import os

import tokenizers
from tokenizers import AddedToken, Tokenizer

from gen_tokenizers import DATA, vectors, write_json


def main():
    with open(os.path.join(DATA, "models", "gpt2", "tokenizer.json"), encoding="utf-8") as f:
        tok = Tokenizer.from_str(f.read())
    tok.add_tokens([AddedToken("hello", single_word=True, normalized=False)])
    path = os.path.join(DATA, "models", "gpt2_single_word", "tokenizer.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tok.save(path, pretty=False)
    tok = Tokenizer.from_file(path)  # vectors come from the file as saved
    write_json(os.path.join(DATA, "expected", "gpt2_single_word.json"),
               {"tokenizers_version": tokenizers.__version__,
                "tokenizer": "models/gpt2_single_word/tokenizer.json", "rows": vectors(tok)})
    print("wrote", path)


if __name__ == "__main__":
    main()
