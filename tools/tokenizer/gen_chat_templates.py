#!/usr/bin/env python3
"""Renders every chat template with jinja2 exactly as transformers does and writes the results.

Templates: tests/data/tokenizer/templates/*.jinja (model templates written from their public
definitions, plus stress.jinja) and ../shared/testdata/chat-templates/**/*.jinja (real files,
referenced, never copied). Output: tests/data/tokenizer/templates/expected.json, a list of
{"template", "conversation", "add_generation_prompt", "output"} or {..., "error": true} when
jinja2 raises (our renderer must then fail too). The C++ test (chat_template_test.cpp) must
reproduce every output character for character.
"""
import glob, json, os

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TEMPLATES = os.path.join(ROOT, "tests", "data", "tokenizer", "templates")
SHARED = os.path.abspath(os.path.join(ROOT, "..", "shared", "testdata", "chat-templates"))

CONVERSATIONS = {
    "system_multi_turn": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hi there! What is 2+2?"},
        {"role": "assistant", "content": "  2+2 is 4.  "},
        {"role": "user", "content": "And 3*3? 中文 and emoji 🚀\n\nThanks."},
    ],
    "no_system": [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    "single_user": [{"role": "user", "content": "  Write a haiku about the sea.  "}],
    # Python's notion of whitespace (str.strip / split, the trim filter) and of printable
    # characters (repr of a list), and what json.dumps(ensure_ascii=False) escapes.
    "unicode_edges": [
        {"role": "system", "content": "\u3000 Be brief.\xa0\x1c"},
        {"role": "user", "content": "  hi\u3000\u2028 there\x85 del\x7f zw\u200b nbsp\xa0 \u180e "},
        {"role": "assistant", "content": "o'neil 1st élan (x-ray) [y]<z>{w} ǆ\r\nnext\x0bline\u2003"},
        {"role": "user", "content": [{"type": "text", "text": "part\u200b\xa0\U000e0001\x7f end"}]},
    ],
    # A tool call with non-string arguments and its result (mistral-common's templates mark the
    # JSON arguments |safe, and jinja2's Markup then escapes what is added to it).
    "tool_call": [
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "abcdefghi", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "name": "get_weather", "content": "22 C & sunny"},
        {"role": "assistant", "content": "It's 22 °C <and> sunny."},
    ],
    # Python's full case mappings (ß -> SS, ﬁ -> Fi), the final sigma of lower(), and which
    # characters are cased (ª, ʰ, ⓐ, 🄰) or case-ignorable (' . U+0301) for title() and the
    # islower / isupper tests.
    "case_edges": [
        {"role": "system", "content": "STRASSE straße ﬁx ŉ ǰ ΐ ﬀ ᾳ İstanbul ǅemal ǆ Ǆ"},
        {"role": "user", "content": "ΌΣΟΣ ΣΑΣ. Σ ΑΣ\u0301 ΑΣ'Β ΑΣa σς ΑΣ1 123 ABC abc"},
        {"role": "assistant", "content": "ªb 1st ⓐ Ⓐ 🄰x ʰa o'neil x-ray(y)[z]{w}<v> MiXeD"},
        {"role": "user", "content": "123"},
        {"role": "assistant", "content": "ⓐⓑ"},
    ],
    "bad_roles": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
}


def make_env():
    # Mirrors transformers.utils.chat_template_utils._compile_jinja_template.
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        raise RuntimeError("tests pass date_string; strftime_now must not be reached")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                       extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    env = make_env()
    files = sorted(glob.glob(os.path.join(TEMPLATES, "*.jinja")))
    shared = sorted(glob.glob(os.path.join(SHARED, "**", "*.jinja"), recursive=True))
    out = []
    for path in files + shared:
        name = ("shared:" + os.path.relpath(path, SHARED)) if path in shared else os.path.basename(path)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        tmpl = env.from_string(source)
        for conv_name, messages in CONVERSATIONS.items():
            for gen in (True, False):
                ctx = {"messages": messages, "add_generation_prompt": gen, "bos_token": "<s>",
                       "eos_token": "</s>", "date_string": "26 Jul 2024"}
                row = {"template": name, "conversation": conv_name, "add_generation_prompt": gen}
                try:
                    row["output"] = tmpl.render(**ctx)
                except Exception as e:  # noqa: BLE001 - any failure must be a failure in C++ too
                    row["error"] = True
                    row["message"] = f"{type(e).__name__}: {e}"
                out.append(row)
    with open(os.path.join(TEMPLATES, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"jinja2_version": jinja2.__version__, "conversations": CONVERSATIONS, "rows": out},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(len(out), "rows;", sum(1 for r in out if r.get("error")), "errors")


if __name__ == "__main__":
    main()
