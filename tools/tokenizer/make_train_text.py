#!/usr/bin/env python3
"""Writes tests/data/tokenizer/train.txt: the small text the test tokenizers are trained on.

The text is the corpus (valid entries) plus hand-written prose and code, repeated a little so
that BPE learns a few hundred merges. Run once; the output is committed.
"""
import json, os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "tokenizer")

PROSE = """
The tokenizer turns text into integer ids, and the model turns ids into probabilities.
A good tokenizer keeps common words whole and splits rare words into smaller pieces.
In the beginning the vocabulary holds only single bytes; training merges frequent pairs.
When the model streams its answer, the detokenizer must never emit half of a character.
Stop strings end a generation when they appear in the text, even across token boundaries.
Servers batch many requests together so that the accelerator stays busy all the time.
The cache stores keys and values for every token that the model has already processed.
Attention lets every position look at the positions before it, weighted by similarity.
She said: "It's not what they'd expected, but we'll see." They're going home now.
Numbers like 2024, 3.14 and 1,000,000 appear in text, and so do dates such as 12/05/1999.
今天的天气很好，我们一起去公园散步吧。机器学习是人工智能的一个分支。
東京は日本の首都です。私は毎朝コーヒーを飲みます。
서울은 한국의 수도입니다. 감사합니다.
Привет, как дела? Всё хорошо, спасибо.
Les modèles de langage sont entraînés sur de grandes quantités de texte.
Emoji are common in chat: 😀 😂 👍 ❤️ 🎉 🍕 🚀 👨‍💻 and flags 🇫🇷 🇯🇵.
"""
CODE = """
def fibonacci(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

class Tokenizer:
    def __init__(self, vocab):
        self.vocab = vocab

    def encode(self, text):
        return [self.vocab[t] for t in text.split()]

#include <vector>
#include <string>
int count_words(const std::string& s) {
    int n = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == ' ') ++n;
    }
    return n + 1;
}
{"messages": [{"role": "user", "content": "Hello!"}, {"role": "assistant", "content": "Hi."}]}
"""

def main():
    corpus = json.load(open(os.path.join(DATA, "corpus.json")))
    lines = []
    for e in corpus:
        b = bytes.fromhex(e["hex"])
        try:
            lines.append(b.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    text = "\n".join(lines) + (PROSE + CODE) * 4
    with open(os.path.join(DATA, "train.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    print("train.txt:", len(text.encode()), "bytes")

main()
