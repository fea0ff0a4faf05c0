#!/usr/bin/env python3
"""Build the English training corpus of the default model from Debian packages.

Owns: turning the .deb files named in PACKAGES into plain-English documents and
splitting them into train / val / test JSON-lines files.

Invariants:
  * Reproducible: the same .deb files give byte-identical output (no randomness
    except a seeded RNG; documents are assigned to a split by a hash of their text).
  * Every document is plain text (markup stripped), UTF-8, and at least MIN_CHARS long.
  * Split: sha1(text) % 1000 < 5 -> val, < 10 -> test, else train (about 0.5% / 0.5%).

Usage (run where apt reaches Debian 12 "bookworm"):
  python3 tools/train_default_model/prepare_corpus.py --debs /tmp/train_debs \
      --out /work/main/.train_carry/corpus [--download]
"""
import argparse
import gzip
import hashlib
import html.parser
import json
import os
import random
import re
import subprocess
import sys
import tempfile

# Package -> licence as stated in its debian/copyright.
PACKAGES = {
    "fortunes-min": "BSD-4-Clause (fortune-mod); cookie texts collected quotations",
    "fortunes": "BSD-4-Clause (fortune-mod); cookie texts collected quotations",
    "jargon-text": "public domain (the Jargon File)",
    "wordnet-base": "WordNet 3.0 licence (Princeton, permissive)",
    "dict-gcide": "GPL-3+ (GCIDE, GNU Collaborative International Dictionary of English)",
    "python3.11-doc": "PSF-2.0 (Python documentation)",
    "perl-doc": "GPL-1+ or Artistic (Perl documentation)",
    "debian-reference-en": "GPL-2+ (Debian Reference)",
}
MIN_CHARS = 40
GCIDE_MAX_BYTES = 12_000_000  # keep the dictionary from dominating the mix

# Chat-format documents teach the model the template of tokenizer_config.json.
CHAT_USER, CHAT_ASSISTANT, CHAT_END = "<|user|>", "<|assistant|>", "<|end|>"


def chat_doc(question, answer):
    return f"{CHAT_USER}\n{question}{CHAT_END}\n{CHAT_ASSISTANT}\n{answer}{CHAT_END}"


def reflow(text, code_indent=None):
    """Joins hard-wrapped lines of each blank-line separated paragraph into one line.

    Paragraphs indented by >= code_indent (when given) are treated as code and dropped;
    paragraphs drawn with box characters (tables) are dropped too."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = [l for l in para.split("\n") if l.strip()]
        if not lines:
            continue
        if any(ch in para for ch in "│─┼├┤┌┐└┘"):
            continue
        indent = len(lines[0]) - len(lines[0].lstrip())
        if code_indent is not None and indent >= code_indent:
            continue
        out.append(" ".join(l.strip() for l in lines))
    return "\n\n".join(out)


def clean_spaces(text):
    text = text.replace("\t", " ")
    text = re.sub(r"[ \u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# ----------------------------------------------------------------------------- sources


def fortunes(root):
    docs = []
    base = os.path.join(root, "usr/share/games/fortunes")
    if not os.path.isdir(base):
        return docs
    for name in sorted(os.listdir(base)):
        path = os.path.join(base, name)
        if not os.path.isfile(path) or "." in name:
            continue  # skip .dat indexes and .u8 links; off/ is a directory
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        for cookie in raw.split("\n%\n"):
            cookie = "\n".join(l.rstrip() for l in cookie.strip("%\n").split("\n"))
            if any(ch in cookie for ch in "\x08\x1b") or cookie.count("\n") > 25:
                continue  # overstrike art / long ascii art
            cookie = re.sub(r"\n[ \t]+(--|-- )", r"\n\t\t-- ", cookie)
            cookie = cookie.replace("\t", " ").strip()
            if len(cookie) >= MIN_CHARS and re.search(r"[a-z]{3}", cookie):
                docs.append(cookie)
    return docs


def jargon(root):
    path = os.path.join(root, "usr/share/doc/jargon-text/jargon.txt.gz")
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    # Entries start with "Word: definition..." after a title line; reflow paragraphs and
    # group consecutive paragraphs into documents of a few KB.
    body = reflow(text)
    docs, cur = [], []
    for para in body.split("\n\n"):
        if len(para) < 25 and not para.endswith("."):
            continue  # index lines ("suitable win") and headings
        cur.append(re.sub(r"[{}]", "", para))  # {cross-reference} braces
        if sum(len(p) for p in cur) > 3000:
            docs.append("\n\n".join(cur))
            cur = []
    if cur:
        docs.append("\n\n".join(cur))
    return docs


WN_POS = {"noun": "noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}


def wordnet(root, rng):
    docs = []
    for pos in ("noun", "verb", "adj", "adv"):
        path = os.path.join(root, "usr/share/wordnet/data." + pos)
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or " | " not in line:
                    continue  # licence header
                head, gloss = line.split(" | ", 1)
                fields = head.split()
                n_words = int(fields[3], 16)
                words = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
                words = [re.sub(r"\(\w+\)$", "", w) for w in words]
                parts = [p.strip() for p in gloss.strip().split(";") if p.strip()]
                defs = [p for p in parts if not p.startswith('"')]
                examples = [p.strip('"') for p in parts if p.startswith('"')]
                if not defs:
                    continue
                definition = "; ".join(defs)
                word = words[0]
                if rng.random() < 0.15:
                    answer = f'The {WN_POS[pos]} "{word}" means {definition}.'
                    if examples:
                        answer += f' For example: "{examples[0]}".'
                    docs.append(chat_doc(f'What does "{word}" mean?', answer))
                    continue
                text = f"{word} ({WN_POS[pos]}): {definition}."
                if len(words) > 1:
                    text += " Also called " + ", ".join(words[1:]) + "."
                for ex in examples:
                    text += f' "{ex[0].upper() + ex[1:]}."' if ex else ""
                docs.append(text)
    # Glosses are short: bundle 8 consecutive ones into one document.
    bundled, cur = [], []
    for d in docs:
        if d.startswith(CHAT_USER):
            bundled.append(d)
            continue
        cur.append(d)
        if len(cur) == 8:
            bundled.append("\n".join(cur))
            cur = []
    if cur:
        bundled.append("\n".join(cur))
    return bundled


def gcide(root):
    path = os.path.join(root, "usr/share/dictd/gcide.dict.dz")
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    docs, total = [], 0
    for entry in re.split(r"\n\s*\n(?=\S)", text):
        entry = re.sub(r"\[[^\]\n]{0,40}\]", "", entry)  # [1913 Webster], [PJC], [R.]
        entry = re.sub(r"\\[^\\\n]*\\", "", entry)  # \Ab*jure"\ pronunciations
        entry = re.sub(r"[{}]", "", entry)
        entry = re.sub(r"--[A-Z][\w.& ]{0,30}\.", "", entry)  # --Shak. citations
        entry = clean_spaces(reflow(entry))
        entry = re.sub(r"\s+,", ",", entry)
        if len(entry) < MIN_CHARS or entry.startswith("00-database"):
            continue
        docs.append(entry)
    # Deterministic subsample to GCIDE_MAX_BYTES: keep a hash-chosen fraction.
    size = sum(len(d) for d in docs)
    keep = min(1.0, GCIDE_MAX_BYTES / max(size, 1))
    out = []
    for d in docs:
        h = int(hashlib.sha1(d.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        if h < keep:
            out.append(d)
            total += len(d)
    return out


RST_ROLE = re.compile(r":[\w:.-]+:`~?([^`<]*?)(?:\s*<[^`>]*>)?`")


def rst_to_text(text):
    lines, out, skip_indent = text.split("\n"), [], None
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if stripped and indent <= skip_indent:
                skip_indent = None
            else:
                continue
        if re.fullmatch(r"([=\-~^*#+\"'`.])\1{2,}", stripped):
            continue  # section underline
        if stripped.startswith(".. "):
            m = re.match(r"\.\. (\w[\w-]*)::\s*(.*)", stripped)
            if m and m.group(1) in ("note", "warning", "seealso", "versionadded",
                                    "versionchanged", "deprecated", "impl-detail",
                                    "attention", "tip", "important"):
                rest = m.group(2)
                if rest:
                    out.append(" " * indent + rest)
                continue
            if m and m.group(1) in ("function", "method", "class", "attribute", "data",
                                    "exception", "decorator", "module", "classmethod",
                                    "staticmethod", "opcode", "describe", "option"):
                out.append("")
                continue  # the signature itself is code
            skip_indent = indent  # comments, code-blocks, tables, toctrees, ...
            continue
        if stripped.startswith(":") and re.match(r":\w[\w -]*:", stripped) and not out:
            continue
        if stripped.startswith(">>>") or stripped.startswith("..."):
            continue
        if stripped.endswith("::"):
            line = line.rstrip()[:-1]  # "Example::" -> "Example:" + literal block
            out.append(line)
            skip_indent = indent
            continue
        out.append(line)
    text = "\n".join(out)
    text = RST_ROLE.sub(lambda m: m.group(1).strip().split(".")[-1] if "(" not in m.group(1)
                        else m.group(1), text)
    text = re.sub(r"`([^`<]+?)\s*<[^`>]+>`_+", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`_*", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\1", text)
    text = re.sub(r"\|(\w+)\|", r"\1", text)
    return reflow(text)


def python_docs(root):
    base = os.path.join(root, "usr/share/doc/python3.11/html/_sources")
    docs = []
    for d, _, files in sorted(os.walk(base)):
        if "whatsnew" in d or "c-api" in d:
            continue  # changelogs and C API listings are mostly identifiers
        for name in sorted(files):
            if not name.endswith(".rst.txt"):
                continue
            with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
                docs.extend(split_long(clean_spaces(rst_to_text(f.read()))))
    return docs


def perl_docs(root):
    base = os.path.join(root, "usr/share/perl/5.36.0/pod")
    docs = []
    for name in sorted(os.listdir(base)):
        if not name.endswith(".pod") or re.match(r"perl5\d+delta|perl\d+delta|perltoc", name):
            continue
        res = subprocess.run(["pod2text", "-w", "1000", os.path.join(base, name)],
                             capture_output=True, text=True, errors="replace")
        text = reflow(res.stdout, code_indent=8)
        docs.extend(split_long(clean_spaces(text)))
    return docs


class _HtmlText(html.parser.HTMLParser):
    BLOCK = {"p", "li", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "title", "td"}
    SKIP = {"pre", "script", "style", "table", "code"}

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skip += 1
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        if tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data.replace("\n", " "))


def debian_reference(root):
    base = os.path.join(root, "usr/share/debian-reference")
    docs = []
    for name in sorted(os.listdir(base)):
        if not name.endswith(".en.html") or name.startswith("index"):
            continue
        p = _HtmlText()
        with open(os.path.join(base, name), encoding="utf-8", errors="replace") as f:
            p.feed(f.read())
        paras = [re.sub(r"\s+", " ", x).strip() for x in "".join(p.parts).split("\n\n")]
        paras = [x for x in paras if len(x) > 30]
        docs.extend(split_long("\n\n".join(paras)))
    return docs


def split_long(text, limit=4000):
    """Splits a long text at paragraph boundaries into documents of about `limit` chars."""
    docs, cur, n = [], [], 0
    for para in text.split("\n\n"):
        cur.append(para)
        n += len(para)
        if n > limit:
            docs.append("\n\n".join(cur))
            cur, n = [], 0
    if cur:
        docs.append("\n\n".join(cur))
    return [d for d in docs if len(d) >= MIN_CHARS]


def fortune_chats(docs, rng):
    prompts = ["Tell me something.", "Say something wise.", "Tell me a quote.",
               "Give me a fortune cookie.", "Tell me something funny.",
               "Can you tell me a saying?"]
    return [chat_doc(rng.choice(prompts), d) for d in docs if len(d) < 400 and rng.random() < 0.3]


# ----------------------------------------------------------------------------- main


def deb_version(path):
    return subprocess.run(["dpkg-deb", "-f", path, "Version"], capture_output=True,
                          text=True, check=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--debs", required=True, help="folder holding the .deb files")
    ap.add_argument("--out", required=True, help="output folder for train/val/test .jsonl")
    ap.add_argument("--download", action="store_true", help="apt-get download the packages first")
    args = ap.parse_args()
    os.makedirs(args.debs, exist_ok=True)
    if args.download:
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=args.debs, check=True)
    rng = random.Random(1234)
    sources, manifest = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for pkg, licence in PACKAGES.items():
            debs = sorted(f for f in os.listdir(args.debs) if f.startswith(pkg + "_") and f.endswith(".deb"))
            if not debs:
                sys.exit(f"error: no {pkg}_*.deb in {args.debs} (run with --download)")
            deb = os.path.join(args.debs, debs[-1])
            root = os.path.join(tmp, pkg)
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
            manifest.append({"package": pkg, "version": deb_version(deb), "licence": licence})
            if pkg.startswith("fortunes"):
                sources.setdefault("fortunes", []).extend(fortunes(root))
            elif pkg == "jargon-text":
                sources["jargon"] = jargon(root)
            elif pkg == "wordnet-base":
                sources["wordnet"] = wordnet(root, rng)
            elif pkg == "dict-gcide":
                sources["gcide"] = gcide(root)
            elif pkg == "python3.11-doc":
                sources["python-doc"] = python_docs(root)
            elif pkg == "perl-doc":
                sources["perl-doc"] = perl_docs(root)
            elif pkg == "debian-reference-en":
                sources["debian-reference"] = debian_reference(root)
    sources["fortunes"] = list(dict.fromkeys(sources["fortunes"]))  # fortunes-min is a subset
    sources["fortune-chat"] = fortune_chats(sources["fortunes"], rng)

    os.makedirs(args.out, exist_ok=True)
    files = {s: open(os.path.join(args.out, s + ".jsonl"), "w", encoding="utf-8")
             for s in ("train", "val", "test")}
    stats = {}
    for src in sorted(sources):
        for doc in sources[src]:
            h = int(hashlib.sha1(doc.encode()).hexdigest()[:8], 16) % 1000
            split = "val" if h < 5 else "test" if h < 10 else "train"
            files[split].write(json.dumps({"source": src, "text": doc}, ensure_ascii=False) + "\n")
            st = stats.setdefault(src, {"docs": 0, "chars": 0})
            st["docs"] += 1
            st["chars"] += len(doc)
    for f in files.values():
        f.close()
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump({"packages": manifest, "sources": stats}, f, indent=1)
    for src, st in stats.items():
        print(f"{src:18s} {st['docs']:8d} docs {st['chars'] / 1e6:8.2f} M chars")
    print(f"total {sum(s['chars'] for s in stats.values()) / 1e6:.2f} M chars")


if __name__ == "__main__":
    main()
