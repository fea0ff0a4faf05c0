#!/usr/bin/env python3
"""Builds the tiny test tokenizers with HF `tokenizers` and writes the reference vectors.

Outputs (all committed, regenerate with `python3 tools/tokenizer/gen_tokenizers.py`):
  tests/data/tokenizer/models/<style>/tokenizer.json   tiny tokenizers trained on train.txt in the
                                                       styles of GPT-2, Llama-3, Qwen2, Llama-2,
                                                       Mistral, BLOOM, StarCoder, Phi-3, ...
  tests/data/tokenizer/expected/<name>.json            for every corpus entry: ids without and
                                                       with special tokens, and their decodes.
Real tokenizer files under ../shared/testdata get expected vectors too (never copied here).
The C++ test (tests/tokenizer/hf_differential_test.cpp) must reproduce every vector exactly.
A retrain need not reproduce the committed tokenizer files (it did not with tokenizers 0.22.2 for
four of them), so corpus entries added later get their rows from extend_vectors.py, and the
gpt2_single_word tokenizer comes from make_single_word.py.
"""
import json, os, sys

from tokenizers import Tokenizer, Regex, AddedToken
from tokenizers import models, normalizers, pre_tokenizers, decoders, processors, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "tokenizer")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "testdata"))

GPT2_RE = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+")
BLOOM_RE = r" ?[^(\s|[.,!?…。，、।۔،])]+"


def train_lines():
    with open(os.path.join(DATA, "train.txt"), encoding="utf-8") as f:
        return f.read().split("\n")


def byte_level(name, pre, specials, vocab_size=520, normalizer=None, post=None, ignore_merges=False):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(train_lines(), trainer)
    tok.post_processor = post if post is not None else processors.ByteLevel(trim_offsets=False)
    return tok


def sp_style(name, specials, extra_added=(), pre_kind="normalizer", decoder=None):
    """SentencePiece-style BPE: '▁' for spaces, byte fallback tokens <0x00>..<0xFF>."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = trainers.BpeTrainer(vocab_size=420, special_tokens=specials, limit_alphabet=120,
                                  show_progress=False)
    tok.train_from_iterator(train_lines(), trainer)
    # Insert the 256 byte-fallback pieces right after the specials, as Llama-2 has them.
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    n_spec = len(specials)
    new_items = ordered[:n_spec] + [(f"<0x{b:02X}>", 0) for b in range(256)] + ordered[n_spec:]
    j["model"]["vocab"] = {t: i for i, (t, _) in enumerate(new_items)}
    for a in j["added_tokens"]:
        a["id"] = j["model"]["vocab"][a["content"]]
    tok = Tokenizer.from_str(json.dumps(j))
    if pre_kind == "normalizer":   # Llama-2 legacy layout
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.pre_tokenizer = None
    else:                          # Mistral v0.3 layout
        tok.normalizer = None
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoder or decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                                decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    if extra_added:
        tok.add_tokens(list(extra_added))
    return tok


def build_all():
    out = {}
    out["gpt2"] = byte_level("gpt2", pre_tokenizers.ByteLevel(add_prefix_space=False), ["<|endoftext|>"])
    l3_specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    l3 = byte_level("llama3", pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_RE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), l3_specials, ignore_merges=True)
    l3.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", l3.token_to_id("<|begin_of_text|>"))])])
    out["llama3"] = l3
    out["qwen2"] = byte_level("qwen2", pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_RE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], normalizer=normalizers.NFC())
    out["bloom"] = byte_level("bloom", pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(BLOOM_RE), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), ["<unk>", "<s>", "</s>", "<pad>"])
    out["starcoder"] = byte_level("starcoder", pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]),
        ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>"])
    # GPT-2 with a prefix space (RoBERTa-like) to cover add_prefix_space.
    out["gpt2_prefix"] = byte_level("gpt2_prefix", pre_tokenizers.ByteLevel(add_prefix_space=True), ["<|endoftext|>"])
    out["llama2"] = sp_style("llama2", ["<unk>", "<s>", "</s>"])
    out["mistral"] = sp_style("mistral", ["<unk>", "<s>", "</s>"], pre_kind="metaspace",
                              decoder=decoders.Sequence([decoders.ByteFallback(), decoders.Fuse(),
                                                         decoders.Metaspace(replacement="▁", prepend_scheme="first")]))
    mis = out["mistral"]
    mis.add_special_tokens([AddedToken("[INST]", normalized=False), AddedToken("[/INST]", normalized=False)])
    phi3 = sp_style("phi3", ["<unk>", "<s>", "</s>"])
    phi3.add_special_tokens([
        AddedToken("<|user|>", lstrip=True, rstrip=False, normalized=False),
        AddedToken("<|assistant|>", rstrip=True, normalized=False),
        AddedToken("<|end|>", rstrip=True, normalized=False),
        AddedToken("<|endoftext|>", normalized=False),
    ])
    phi3.add_tokens([AddedToken("<|placeholder1|>", normalized=False),
                     AddedToken("hello", single_word=True, normalized=True),
                     AddedToken("fox", single_word=False, normalized=True)])
    out["phi3"] = phi3
    # Breadth: NFKC + Lowercase + Strip + Replace, Whitespace/Punctuation/Digits, ## subwords.
    misc = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##"))
    misc.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                            normalizers.Strip(), normalizers.Replace(Regex(r"\s+"), " ")])
    misc.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation(),
                                                  pre_tokenizers.Digits(individual_digits=False)])
    misc.train_from_iterator(train_lines(), trainers.BpeTrainer(
        vocab_size=400, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
        limit_alphabet=100, show_progress=False))
    misc.decoder = decoders.WordPiece(prefix="##")
    misc.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", misc.token_to_id("[CLS]")), ("[SEP]", misc.token_to_id("[SEP]"))])
    out["misc_bpe"] = misc
    return out


def corpus():
    with open(os.path.join(DATA, "corpus.json")) as f:
        entries = json.load(f)
    return [(e["name"], bytes.fromhex(e["hex"]).decode("utf-8", errors="replace")) for e in entries]


def vectors(tok):
    rows = []
    for name, text in corpus():
        plain = tok.encode(text, add_special_tokens=False).ids
        spec = tok.encode(text, add_special_tokens=True).ids
        rows.append({"name": name, "ids": plain, "ids_special": spec,
                     "decode": tok.decode(plain, skip_special_tokens=False),
                     "decode_special_skip": tok.decode(spec, skip_special_tokens=True),
                     "decode_special_keep": tok.decode(spec, skip_special_tokens=False)})
    return rows


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    import tokenizers
    toks = build_all()
    for style, tok in toks.items():
        path = os.path.join(DATA, "models", style, "tokenizer.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tok.save(path, pretty=False)
        tok = Tokenizer.from_file(path)  # vectors come from the file as saved
        write_json(os.path.join(DATA, "expected", style + ".json"),
                   {"tokenizers_version": tokenizers.__version__, "tokenizer": f"models/{style}/tokenizer.json",
                    "rows": vectors(tok)})
    for name, rel in [("real_llama2", "tokenizers/llama2/tokenizer.json"),
                      ("real_starcoder", "tokenizers/starcoder/tokenizer.json")]:
        src = os.path.join(SHARED, rel)
        if not os.path.exists(src):
            print("missing", src, file=sys.stderr)
            continue
        tok = Tokenizer.from_file(src)
        write_json(os.path.join(DATA, "expected", name + ".json"),
                   {"tokenizers_version": tokenizers.__version__, "tokenizer": "shared:" + rel, "rows": vectors(tok)})
    print("done")


if __name__ == "__main__":
    main()
