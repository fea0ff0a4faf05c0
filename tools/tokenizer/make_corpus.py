#!/usr/bin/env python3
"""Writes tests/data/tokenizer/corpus.json: the differential-test corpus.

Each entry is {"name": ..., "hex": <utf-8 bytes as hex>} so invalid UTF-8 survives JSON.
Covers ASCII, code, CJK, emoji + ZWJ sequences, combining marks, whitespace runs,
special-token look-alikes and invalid UTF-8. Run once; the output is committed.
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "tokenizer", "corpus.json")

texts = [
    ("empty", ""),
    ("space", " "),
    ("spaces3", "   "),
    ("tab", "\t"),
    ("newline", "\n"),
    ("ascii", "Hello world"),
    ("ascii_lead_space", " Hello world"),
    ("sentence", "The quick brown fox jumps over the lazy dog. It's 3:45pm, isn't it?"),
    ("contractions", "I'm sure they'll say we've done what you'd DO, they'RE wrong."),
    ("numbers", "1 12 123 1234 12345 3.14159 1e-9 0x7f 1,000,000"),
    ("code_py", "def add(a, b):\n    return a + b\n\nif __name__ == '__main__':\n\tprint(add(1, 2))\n"),
    ("code_cpp", "int main() {\n  std::vector<int> v{1,2,3};\n  for (auto& x : v) x *= 2; // double\n  return 0;\n}"),
    ("json", "{\"key\": [1, 2, {\"nested\": null}], \"s\": \"a\\nb\"}"),
    ("cjk_zh", "我们今天去公园散步，天气很好。"),
    ("cjk_ja", "こんにちは、世界！カタカナとひらがな。"),
    ("cjk_ko", "안녕하세요 세계"),
    ("mixed_lang", "Hello 世界! Привет мир! مرحبا بالعالم ¡Hola!"),
    ("emoji", "I love 🍕 and 🚀!"),
    ("emoji_zwj", "Family: 👨‍👩‍👧‍👦 and 🏳️‍🌈 and 👍🏽"),
    ("combining", "e\u0301 a\u0300 n\u0303 Z\u0351\u0352\u0353 cafe\u0301"),
    ("precomposed", "café naïve résumé"),
    ("fullwidth", "ＡＢＣ１２３ ﬁ ㎏ ①"),
    ("ws_runs", "a  b   c    d\n\n\ne\t\t f \r\n g      "),
    ("trailing_ws", "end with spaces   "),
    ("leading_ws", "     start with spaces"),
    ("only_newlines", "\n\n\n\n"),
    ("special_lookalike", "<|endoftext|> <|im_start|>user<|im_end|> <s> </s> <unk>"),
    ("special_partial", "<|endoftext| <|im_start <s </ s> << >> <|"),
    ("special_glued", "hello<|endoftext|>world<s>foo</s>bar"),
    ("special_spaced", "  <|endoftext|>  after  <|user|>  x <|end|>\n"),
    ("chat_markup", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"),
    ("punct", "!!! ??? ... --- ((())) [[]] {{}} @#$%^&*_+=~`|\\/"),
    ("url", "https://example.com/path?query=1&b=two#frag"),
    ("long_word", "supercalifragilisticexpialidocious" * 3),
    ("digits_long", "31415926535897932384626433832795028841971693993751"),
    ("math", "∀x∈ℝ: x² ≥ 0 ∧ √4 = 2, α+β=γ"),
    ("arabic_hebrew", "שלום עולם مرحبا"),
    ("hindi", "नमस्ते दुनिया"),
    ("thai", "สวัสดีชาวโลก"),
    ("rare_chars", "\u00a0nbsp\u2009thin\u200bzwsp\ufeffbom"),
    ("control", "a\x00b\x01c\x7f"),
    ("sentencepiece_marker", "▁already ▁has ▁markers"),
    ("byte_tokens_text", "<0x41> <0xFF> <0x0A>"),
    ("apostrophes", "'s 't 're 've 'm 'll 'd 'S 'T"),
    ("repeat_chars", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    ("mixed_case", "HeLLo WoRLD ThIs Is MiXeD"),
    ("newline_code", "x = 1\n\n\n    y = 2\n\t\tz = 3"),
    ("paragraph", "Large language models are trained on vast amounts of text. "
                  "They learn statistical patterns, which lets them generate fluent continuations. "
                  "Tokenization splits raw text into units called tokens."),
]
invalid = [
    ("invalid_lone_cont", b"abc\x80def"),
    ("invalid_truncated", b"caf\xc3"),
    ("invalid_overlong", b"x\xc0\xafy"),
    ("invalid_surrogate", b"a\xed\xa0\x80b"),
    ("invalid_ff", b"\xff\xfe hello \xfe"),
    ("invalid_truncated_4", b"emoji \xf0\x9f\x98 end"),
]
# Added after the first vectors were committed: appended, so that expected files grow at the end
# (tools/tokenizer/extend_vectors.py).
later = [
    # \s is Unicode White_Space in Oniguruma and Rust regex: U+180E is not in it, these are.
    ("white_space_180e", "a \u180e b\u180e\u180ec  \u180e\n\u180e"),
    ("white_space_unicode", "x\u3000y\u2028z\u0085w \u1680v\u202fu\u205ft\u2000\u200as\u00a0\u00a0r  \u3000\n"),
    # A single_word added token ("hello" in gpt2_single_word) beside what Rust regex's \w counts
    # as a word character (marks, U+200C / U+200D, Nd, _, circled letters) and what it does not
    # (U+00B2 is No).
    ("single_word_edges", "\u200dhello x\u0301hello \u00b2hello hello\u00b2 hello\u200c _hello hello_ "
                          "\u0663hello \u24d0hello \u4e2dhello hello, hello"),
    # Letters and digits new in Unicode 15.0-16.0 (\p{L} / \p{N} of the references, not of
    # PCRE2 10.42's Unicode 14.0 tables) and one new in 17.0 (U+088F: no letter for them yet).
    ("unicode16_letters_digits", "a\U0001123fb x\u1c89y \U000116d0\U000116d1\U000116d2\U000116d3 "
                                 "z\U000116d0 \U00011f50\U00011f51 \U000105c0\U000105c1 q\u088fr \U0001e5d0"),
]
entries = [{"name": n, "hex": t.encode("utf-8").hex()} for n, t in texts]
entries += [{"name": n, "hex": b.hex()} for n, b in invalid]
entries += [{"name": n, "hex": t.encode("utf-8").hex()} for n, t in later]
with open(OUT, "w", encoding="utf-8") as f:
    json.dump(entries, f, indent=0, ensure_ascii=True)
    f.write("\n")
print(f"wrote {len(entries)} entries to {OUT}")
