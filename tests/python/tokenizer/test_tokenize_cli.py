"""`lightllm tokenize` end to end (ctest `tokenize_cli_python`): the binary's ids, text and chat
prompt against HF `tokenizers` and jinja2 (transformers' chat-template settings, taken from
tools/tokenizer/gen_chat_templates.py) on the bundled model folder; bad input -> exit status 2
with a message on stderr.

Needs LIGHTLLM_BIN (path of the `lightllm` binary); ctest sets it.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest
from tokenizers import Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODEL = os.path.join(ROOT, "models", "lightllm-tiny-en")
BIN = os.environ.get("LIGHTLLM_BIN")
sys.path.insert(0, os.path.join(ROOT, "tools", "tokenizer"))
from gen_chat_templates import make_env  # noqa: E402

TEXTS = [
    "Hello world",
    "  leading spaces and a tab\tand\nnewlines\n\n",
    "Once upon a time, there was a little dog named Max. 123 + 4.5 = ?",
    "unicode: café naïve 中文 🚀",
    "<|bos|> looks special <|end|>",
]


def run(args, stdin=""):
    assert BIN, "LIGHTLLM_BIN must point at the lightllm binary"
    return subprocess.run([BIN, "tokenize", "--model", MODEL] + args, input=stdin.encode("utf-8"),
                          capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def hf():
    return Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))


@pytest.mark.parametrize("text", TEXTS)
def test_encode_matches_hf(hf, text):
    r = run([], text)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"ids": hf.encode(text, add_special_tokens=True).ids}
    r = run(["--no-special"], text)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"ids": hf.encode(text, add_special_tokens=False).ids}


@pytest.mark.parametrize("text", TEXTS)
def test_decode_matches_hf(hf, text):
    ids = hf.encode(text, add_special_tokens=True).ids
    r = run(["--decode"], json.dumps(ids))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"text": hf.decode(ids, skip_special_tokens=False)}
    r = run(["--decode", "--no-special"], json.dumps(ids))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"text": hf.decode(ids, skip_special_tokens=True)}


@pytest.mark.parametrize("gen", [True, False])
def test_chat_matches_jinja2(hf, tmp_path, gen):
    with open(os.path.join(MODEL, "tokenizer_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Tell me a story about a cat."},
                {"role": "assistant", "content": "Once upon a time..."},
                {"role": "user", "content": "More!"}]
    req = tmp_path / "chat.json"
    req.write_text(json.dumps({"messages": messages, "add_generation_prompt": gen}), "utf-8")
    r = run(["--chat", str(req)])
    assert r.returncode == 0, r.stderr
    want = make_env().from_string(cfg["chat_template"]).render(
        messages=messages, add_generation_prompt=gen, bos_token=cfg["bos_token"],
        eos_token=cfg["eos_token"])
    out = json.loads(r.stdout)
    assert out["prompt"] == want
    assert out["ids"] == hf.encode(want, add_special_tokens=False).ids


@pytest.mark.parametrize("args,stdin,needle", [
    (["--decode"], "not json", "--decode"),
    (["--decode"], "[1, \"x\"]", "integers"),
    (["--decode"], "{\"ids\": [1]}", "--decode"),
    (["--chat", "/nonexistent/chat.json"], "", "/nonexistent/chat.json"),
])
def test_bad_input_exit_2(args, stdin, needle):
    r = run(args, stdin)
    assert r.returncode == 2
    assert r.stdout == b""
    assert needle in r.stderr.decode("utf-8")


def test_bad_chat_file_and_model_dir(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{\"msgs\": []}", "utf-8")
    r = run(["--chat", str(bad)])
    assert r.returncode == 2 and "messages" in r.stderr.decode("utf-8")
    r = subprocess.run([BIN, "tokenize", "--model", str(tmp_path / "none")], input=b"x",
                       capture_output=True, timeout=60)
    assert r.returncode == 2 and str(tmp_path / "none") in r.stderr.decode("utf-8")


# Character classes of HF tokenizers beyond the regexes: Digits (Rust's Unicode 16.0 numeric),
# Punctuation (ASCII and Unicode 8.0's P*: U+2E43 is not punctuation), StripAccents' combining
# marks (U+1AC0 stays) and BertNormalizer's clean_text (drops NUL, U+FFFD, Cc, Cf, Co; keeps
# U+1F970), on a WordPiece tokenizer over single characters (a merged piece is [UNK]; commas
# isolate a character).
CLASS_PROBES = ["a\U000116d0\U000116d1b", "x\u2e43y", "x\u2e42y", "x,y!", ",\u1ac0,", "e\u0301",
                ",\u0301,", ",\U0001f970,", ",\u00ad,", ",\ue000,", ",\x00,\ufffd,", "p\u1b4eq",
                "1\U0001123f1", "x\u05bey", "k\u061dl"]


def test_character_classes_match_hf(tmp_path):
    from tokenizers import Tokenizer as HfTokenizer, models, normalizers, pre_tokenizers
    chars = sorted(set("".join(CLASS_PROBES)))
    vocab = {"[UNK]": 0}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    tok = HfTokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                   strip_accents=False, lowercase=False),
        normalizers.NFD(), normalizers.StripAccents()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("isolated"),
        pre_tokenizers.Digits(individual_digits=True)])
    tok.save(str(tmp_path / "tokenizer.json"))
    for text in CLASS_PROBES:
        r = subprocess.run([BIN, "tokenize", "--model", str(tmp_path), "--no-special"],
                           input=text.encode("utf-8"), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"ids": tok.encode(text).ids}, ascii(text)


# The four normalization forms as HF's normalizers have them, on a byte-level BPE without merges
# (the ids spell the normalized text's bytes). HF's tables predate Unicode 13: U+11938 and
# U+32FF, U+A7F2, U+1E030 ... stay whole, U+11935 U+11930 does not compose; ordinary text
# decomposes and composes as usual (Hangul, U+212B, ligatures, reordered marks).
NORMALIZER_PROBES = ["\U00011938", "\U00011935\U00011930", "x\u32ffy", "\ua7f2\ua7f3\U0001e030",
                     "\U0001f16c\U0001fbf0", "e\u0301\u0323", "\u1100\u1161\u11a8", "\u212b",
                     "\ufb01", "a\u0323\u0301\U00011938\u0301", "\u304b\u3099\U00011935\U00011930"]


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
def test_normalizers_match_hf(tmp_path, form):
    from tokenizers import Tokenizer as HfTokenizer, models, normalizers, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel
    vocab = {c: i for i, c in enumerate(ByteLevel.alphabet())}
    tok = HfTokenizer(models.BPE(vocab, []))
    tok.normalizer = getattr(normalizers, form)()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.save(str(tmp_path / "tokenizer.json"))
    for text in NORMALIZER_PROBES:
        r = subprocess.run([BIN, "tokenize", "--model", str(tmp_path), "--no-special"],
                           input=text.encode("utf-8"), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"ids": tok.encode(text).ids}, (form, ascii(text))


# Template expressions against jinja2 (transformers' environment): number literals with an
# exponent, underscores or a 0x / 0o / 0b prefix, and printf-style formatting by the % operator and the format filter
# (conversions, flags, widths and precisions, *, %(key) lookups), and the filters sort, unique,
# dictsort, truncate, center, batch, slice, max, min and round. Where jinja2 raises, the CLI must fail too
# (exit 2).
EXPRESSIONS = [
    "{{ 1e20 }}|{{ 1e3 }}|{{ 1.5e-3 }}|{{ 2E+2 }}|{{ 1_000 + 1_0.5 }}",
    "{{ 0x_ff }}{{ 0XFF }}|{{ 0o17 }}|{{ 0b1_01 }}|{{ '%c' % 0x1F600 }}|{{ '100%% %s' % 'x' }}",
    "{{ '%s'|format('a') }}|{{ '%d'|format(3) }}|{{ '%s-%s'|format('a', 'b') }}",
    "{{ '%(x)s=%(y)05.1f'|format(x='k', y=2.25) }}|{{ 'a'|format(x=1) }}",
    "{{ '%s-%s' % ('a', 'b') }}|{{ '%s' % 'a' }}|{{ '%d items' % 3 }}",
    "{{ '%05.2f|%-4s|%x|%r|%%' % (3.14159, 'ab', 255, 'q') }}",
    "{{ '%+d|% d|%#o|%#X|%.3d|%5.1s|%c%c' % (5, 5, 8, 255, 7, 'h\u00e9llo', 72, '\u00e9') }}",
    "{{ '%e|%E|%g|%G|%10.3e' % (12345.678, 0.00012, 1e-5, 1e20, -3.5) }}",
    "{{ '%*d|%-*d|%.*f' % (5, 42, 4, 7, 2, 3.14159) }}",
    "{{ '%s' % {'a': 1} }}|{{ '%(a)s' % {'a': 1} }}|{{ 'hello' % {'a': 1} }}",
    "{{ '%d' % 3.99 }}{{ '%i' % true }}|{{ '%s'|format(none) }}{{ '%r'|format(none) }}",
    "{{ '%d|%d|%d|%i' % (1e30, -0.5, -2.7, -5) }}|{{ '%x|%o|%X' % (-255, -8, 3) }}",
    "{{ '%5s|%-5s|%05s' % ('ab', 'ab', 'ab') }}|{{ '%010.3f|%-10.2f|%+.0f' % (-3.14159, 2.5, 2.5) }}",
    "{% for m in messages %}{{ '[%d] %s: %.3s' % (loop.index, m.role, m.content) }}{% endfor %}",
    "{{ '%s %s' % ('a',) }}", "{{ 'hi' % 'a' }}", "{{ '%d' % 'a' }}", "{{ '%x' % 2.5 }}",
    "{{ '%z' % 1 }}", "{{ 'abc%' % () }}", "{{ '%(a)s' % ('x',) }}", "{{ '%(b)s' % {'a': 1} }}",
    "{{ '%s %s'|format('a') }}", "{{ '%5%|' % (1,) }}",
    # filters: dictsort, truncate, center, batch, slice, max, min, round
    "{% for k, v in {'b':1,'A':2,'c':0}|dictsort(by='value', reverse=true) %}{{ k }}{{ v }}"
    "{% endfor %}|{% for k, v in {'b':1,'A':2,'a':0}|dictsort(true) %}{{ k }}{% endfor %}",
    "{{ 'hello world'|truncate(8) }}|{{ 'hello big world'|truncate(9) }}|"
    "{{ 'hello big world'|truncate(9, true) }}|{{ 'hello big world'|truncate(9, false, '..', 0) }}",
    "{{ 'ab'|center(6) }}|{{ 'ab'|center(5) }}|{{ 'abc'|center(6) }}|{{ 'abc'|center(2) }}",
    "{{ [1,2,3,4,5]|batch(2)|list }}|{{ [1,2,3,4,5]|batch(2, 'x')|list }}|"
    "{% for row in [1,2,3]|batch(2) %}{{ row|join }};{% endfor %}",
    "{{ [1,2,3,4,5]|slice(3)|list }}|{{ [1,2,3,4,5]|slice(3, 0)|list }}|{{ []|slice(2)|list }}",
    "{{ [1,3,2]|max }}{{ [1,3,2]|min }}|{{ ['b','A','a']|max }}{{ ['b','A','a']|min }}|"
    "{{ ['b','A','a']|max(true) }}|{{ []|max }}|{{ messages|max(attribute='role') }}",
    # sort / unique / dictsort: case-insensitive by default, ties keep their order when reversed
    "{{ ['b','a','B']|sort }}|{{ ['b','a','B']|sort(case_sensitive=true) }}|"
    "{{ ['b','a','B']|sort(true) }}|{{ ['b','a','B','A']|unique|list }}|"
    "{{ ['b','B']|unique(true)|list }}|{{ messages|unique(attribute='role')|list|length }}|"
    "{% for k, v in {'b':1,'A':1,'c':0}|dictsort(by='value', reverse=true) %}{{ k }}{% endfor %}",
    "{{ [1,1]|unique|length }}",
    "{{ 1.55|round(1) }}|{{ 2.5|round }}|{{ 3.5|round }}|{{ 3.7|round(0,'floor') }}|"
    "{{ 3.2|round(0,'ceil') }}|{{ 5|round }}|{{ 1250|round(-2) }}|{{ 1350.0|round(-2) }}|"
    "{{ 2.675|round(2) }}|{{ true|round }}",
]


@pytest.mark.parametrize("template", EXPRESSIONS)
def test_expressions_match_jinja2(tmp_path, template):
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(os.path.join(MODEL, "tokenizer.json"), model / "tokenizer.json")
    (model / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}), "utf-8")
    messages = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]
    req = tmp_path / "chat.json"
    req.write_text(json.dumps({"messages": messages}), "utf-8")
    r = subprocess.run([BIN, "tokenize", "--model", str(model), "--chat", str(req)],
                       capture_output=True, timeout=60)
    try:
        want = make_env().from_string(template).render(messages=messages,
                                                       add_generation_prompt=False)
    except Exception as e:  # noqa: BLE001 - any jinja2 / Python error
        assert r.returncode == 2, f"jinja2 raised {e!r}, lightllm printed {r.stdout!r}"
        return
    assert r.returncode == 0, r.stderr.decode("utf-8")
    assert json.loads(r.stdout)["prompt"] == want
