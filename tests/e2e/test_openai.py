"""The official `openai` client against the real server and bundled model: completions and chat
(stream and not), n > 1, stop strings that really truncate, seed reproducibility, logprobs and
top_logprobs, logit_bias, prompt batches, usage equal to our tokenizer's counts (POST /tokens),
and the chat template rendered exactly as `lightllm tokenize --chat` renders it. Also the raw
`data: ...` framing."""

import json
import os
import subprocess

import openai
import pytest

from helpers import post_json, reference, request, sse_events

REF = reference()["greedy"]
MODEL = "lightllm-tiny-en"


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=120)


def ntokens(server, text):
    status, out = post_json(server.url, "/tokens", {"text": text})
    assert status == 200
    return out["ntokens"]


def test_completion_greedy_equals_reference_and_usage(client, server):
    r = client.completions.create(model=MODEL, prompt=REF["prompt"], max_tokens=32, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert r.object == "text_completion" and r.model == MODEL
    assert r.choices[0].text == REF["output_text"] and r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == ntokens(server, REF["prompt"]) == len(REF["prompt_ids"])
    assert r.usage.completion_tokens == 32 and r.usage.total_tokens == r.usage.prompt_tokens + 32


def test_completion_stream_equals_whole(client):
    kw = dict(model=MODEL, prompt=REF["prompt"], max_tokens=32, temperature=0,
              extra_body={"ignore_eos": True})
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == REF["output_text"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 32
    assert chunks[-1].usage.prompt_tokens == len(REF["prompt_ids"])


def test_raw_openai_stream_framing(server):
    status, headers, raw = request(server.url, "POST", "/v1/completions",
                                   {"prompt": REF["prompt"], "max_tokens": 4, "temperature": 0,
                                    "stream": True})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    payloads = sse_events(raw, "data: ")
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    text = "".join(c["choices"][0]["text"] for c in chunks)
    assert text and REF["output_text"].startswith(text)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_n_choices_and_usage(client, server):
    r = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=12, n=3,
                                  temperature=1.0, seed=7, extra_body={"ignore_eos": True})
    assert sorted(c.index for c in r.choices) == [0, 1, 2]
    assert r.usage.completion_tokens == 36
    assert r.usage.prompt_tokens == ntokens(server, "Once upon a time")
    assert len({c.text for c in r.choices}) > 1, "three samples were identical"
    chat = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}],
                                          max_tokens=5, n=2, seed=3,
                                          extra_body={"ignore_eos": True})
    assert sorted(c.index for c in chat.choices) == [0, 1] and chat.usage.completion_tokens == 10


def test_logit_bias(client):
    """-100 on the greedy first token changes it; +100 on a token makes every token that one."""
    kw = dict(model=MODEL, prompt=REF["prompt"], max_tokens=6, temperature=0, logprobs=0,
              extra_body={"ignore_eos": True})
    first = REF["output_ids"][0]
    banned = client.completions.create(logit_bias={str(first): -100}, **kw).choices[0]
    plain = client.completions.create(**kw).choices[0]
    assert plain.text == REF["output_text"][:len(plain.text)]
    assert banned.logprobs.tokens[0] != plain.logprobs.tokens[0]
    forced = client.completions.create(logit_bias={str(first): 100}, **kw).choices[0]
    assert len(set(forced.logprobs.tokens)) == 1 and forced.logprobs.tokens[0] == plain.logprobs.tokens[0]
    chat = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                          max_completion_tokens=4, temperature=0,
                                          logit_bias={str(first): 100}, logprobs=True)
    assert len({t.token for t in chat.choices[0].logprobs.content}) == 1


def test_prompt_batch_equals_each_prompt_alone(client):
    prompts = [REF["prompt"], "Once upon a time", "The weather today"]
    kw = dict(model=MODEL, max_tokens=12, temperature=0)
    alone = [client.completions.create(prompt=p, **kw) for p in prompts]
    batch = client.completions.create(prompt=prompts, **kw)
    assert [c.index for c in batch.choices] == [0, 1, 2]
    assert [c.text for c in batch.choices] == [a.choices[0].text for a in alone]
    assert batch.usage.prompt_tokens == sum(a.usage.prompt_tokens for a in alone)
    assert batch.usage.completion_tokens == sum(a.usage.completion_tokens for a in alone)


def test_stop_strings_truncate(client):
    full = REF["output_text"]
    stop = " The computer"  # first occurs after "... it is a computer."
    cut = full.index(stop)
    for stream in (False, True):
        kw = dict(model=MODEL, prompt=REF["prompt"], max_tokens=32, temperature=0, stop=[stop, "zzz"],
                  extra_body={"ignore_eos": True})
        if stream:
            chunks = list(client.completions.create(stream=True, **kw))
            text = "".join(c.choices[0].text for c in chunks)
            reason = chunks[-1].choices[0].finish_reason
        else:
            r = client.completions.create(**kw)
            text, reason = r.choices[0].text, r.choices[0].finish_reason
        assert text == full[:cut], (stream, text)
        assert reason == "stop"


def test_partial_stop_match_at_the_end_is_released(client):
    """The text's tail matches the start of a stop string that never completes: the held-back
    tail must still reach the client when the request ends by length."""
    full = REF["output_text"]
    stop = full[-9:] + "XYZ"
    for stream in (False, True):
        kw = dict(model=MODEL, prompt=REF["prompt"], max_tokens=32, temperature=0, stop=[stop],
                  extra_body={"ignore_eos": True})
        if stream:
            chunks = list(client.completions.create(stream=True, **kw))
            text = "".join(c.choices[0].text for c in chunks)
            reason = chunks[-1].choices[0].finish_reason
        else:
            r = client.completions.create(**kw)
            text, reason = r.choices[0].text, r.choices[0].finish_reason
        assert text == full and reason == "length", (stream, text)


def test_seed_reproducible_with_sampling(client, server):
    def run(seed):
        return client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=24,
                                         temperature=1.0, seed=seed,
                                         extra_body={"ignore_eos": True}).choices[0].text

    a, b, c = run(1234), run(1234), run(999)
    assert a == b and a != c
    body = {"inputs": "Once upon a time",
            "parameters": {"do_sample": True, "temperature": 1.0, "seed": 5, "max_new_tokens": 24,
                           "ignore_eos": True}}
    assert post_json(server.url, "/generate", body)[1] == post_json(server.url, "/generate", body)[1]


def check_top(alts):
    lps = [a for a in alts]
    assert lps == sorted(lps, reverse=True), f"top_logprobs not sorted: {lps}"
    assert all(x <= 0 for x in lps)


def test_completion_logprobs(client):
    r = client.completions.create(model=MODEL, prompt=REF["prompt"], max_tokens=10, temperature=0,
                                  logprobs=3, extra_body={"ignore_eos": True})
    c = r.choices[0]
    lp = c.logprobs
    assert "".join(lp.tokens) == c.text and len(lp.tokens) == 10
    assert all(x <= 0 for x in lp.token_logprobs)
    for tok, x, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert len(top) == 3
        check_top(list(top.values()))
        # Greedy: the chosen token is the most likely one, with the same logprob.
        best = max(top.items(), key=lambda kv: kv[1])
        assert best[0] == tok and abs(best[1] - x) < 1e-6
    assert lp.text_offset == [sum(len(t) for t in lp.tokens[:i]) for i in range(10)]


def test_chat_logprobs_sampled(client):
    r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hello"}],
                                       max_completion_tokens=12, logprobs=True, top_logprobs=4,
                                       seed=11, temperature=0.9, extra_body={"ignore_eos": True})
    msg = r.choices[0].message
    content = r.choices[0].logprobs.content
    assert msg.role == "assistant" and "".join(t.token for t in content) == msg.content
    assert len(content) == 12 == r.usage.completion_tokens
    for t in content:
        assert t.logprob <= 0 and len(t.top_logprobs) == 4
        check_top([a.logprob for a in t.top_logprobs])
        assert bytes(t.bytes) == t.token.encode()
        # The sampled token, when among the top 4, carries the same logprob there.
        for a in t.top_logprobs:
            if a.token == t.token:
                assert abs(a.logprob - t.logprob) < 1e-6
        assert t.logprob <= t.top_logprobs[0].logprob + 1e-6


def rendered_chat(messages, tmp_path):
    f = tmp_path / "chat.json"
    f.write_text(json.dumps({"messages": messages}))
    r = subprocess.run([os.environ["LIGHTLLM_BIN"], "tokenize", "--model", os.environ["LIGHTLLM_MODEL_DIR"],
                        "--chat", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_chat_uses_the_models_template(client, server, tmp_path):
    messages = [{"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Tell me about computers."}]
    want = rendered_chat(messages, tmp_path)
    assert want["prompt"].startswith("<|bos|><|system|>\nYou are terse.<|end|>\n<|user|>\n")
    assert want["prompt"].endswith("<|assistant|>\n")
    r = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, temperature=0,
                                       extra_body={"ignore_eos": True})
    assert r.object == "chat.completion"
    assert r.usage.prompt_tokens == len(want["ids"])
    # The same ids through the native API (token ids as inputs) give the same greedy text.
    status, native = post_json(server.url, "/generate",
                               {"inputs": want["ids"],
                                "parameters": {"max_new_tokens": 16, "do_sample": False, "ignore_eos": True}})
    assert status == 200 and native["generated_text"] == [r.choices[0].message.content]


def test_chat_stream_with_usage(client, tmp_path):
    messages = [{"role": "user", "content": "Hi there"}]
    kw = dict(model=MODEL, messages=messages, max_tokens=10, temperature=0,
              extra_body={"ignore_eos": True})
    whole = client.chat.completions.create(**kw)
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kw))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert any(c.choices and c.choices[0].finish_reason == "length" for c in chunks)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == len(rendered_chat(messages, tmp_path)["ids"])
    assert chunks[-1].usage.completion_tokens == 10


def test_models_list(client):
    assert [m.id for m in client.models.list().data] == [MODEL]


def test_error_shape_through_openai_client(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=MODEL, prompt="x", max_tokens=10**6)
    assert e.value.status_code == 400
    assert e.value.body["param"] == "max_tokens"
