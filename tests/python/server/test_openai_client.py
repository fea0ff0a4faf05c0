"""The official `openai` package against our server: completions, chat, streaming, n, stop,
seed, logprobs, usage, models and errors in OpenAI's shape."""

import openai
import pytest


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused")


def test_models(client):
    models = client.models.list().data
    assert [m.id for m in models] == ["fake-model"]


def test_completion_and_usage(client):
    r = client.completions.create(model="fake-model", prompt="hello", max_tokens=5, temperature=0)
    assert r.object == "text_completion"
    assert len(r.choices) == 1 and len(r.choices[0].text) == 5
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == 6 and r.usage.completion_tokens == 5 and r.usage.total_tokens == 11


def test_completion_stream_matches_whole(client):
    whole = client.completions.create(model="m", prompt="same", max_tokens=8, temperature=0)
    chunks = list(client.completions.create(model="m", prompt="same", max_tokens=8, temperature=0,
                                            stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert chunks[-1].choices[0].finish_reason == "length"


def test_n_and_logprobs(client):
    r = client.completions.create(model="m", prompt="n", max_tokens=4, n=3, logprobs=2, seed=9)
    assert sorted(c.index for c in r.choices) == [0, 1, 2]
    for c in r.choices:
        assert "".join(c.logprobs.tokens) == c.text
        assert len(c.logprobs.token_logprobs) == 4
        assert all(len(t) == 2 for t in c.logprobs.top_logprobs)
    assert r.usage.completion_tokens == 12


def test_prompt_batch(client):
    """A list of prompts (strings, or token-id lists): choice p*n + i, each as the prompt alone."""
    alone = [client.completions.create(model="m", prompt=p, max_tokens=4, temperature=0).choices[0].text
             for p in ("first", "second")]
    r = client.completions.create(model="m", prompt=["first", "second"], max_tokens=4, temperature=0)
    assert [c.index for c in r.choices] == [0, 1]
    assert [c.text for c in r.choices] == alone
    assert r.usage.prompt_tokens == 6 + 7 and r.usage.completion_tokens == 8
    ids = client.completions.create(model="m", prompt=[[40, 41], [42]], max_tokens=2, n=2, temperature=0)
    assert sorted(c.index for c in ids.choices) == [0, 1, 2, 3]
    chunks = list(client.completions.create(model="m", prompt=["first", "second"], max_tokens=4,
                                            temperature=0, stream=True))
    streamed = ["", ""]
    for c in chunks:
        for ch in c.choices:
            streamed[ch.index] += ch.text
    assert streamed == alone


def test_stop_strings(client):
    full = client.completions.create(model="m", prompt="stops", max_tokens=30, temperature=0).choices[0].text
    stop = full[5:7]
    r = client.completions.create(model="m", prompt="stops", max_tokens=30, temperature=0, stop=[stop, "zz"])
    assert r.choices[0].text == full[: full.index(stop)]
    assert r.choices[0].finish_reason == "stop"


def test_seed_reproducible(client):
    a = client.completions.create(model="m", prompt="s", max_tokens=10, temperature=1.0, seed=42).choices[0].text
    b = client.completions.create(model="m", prompt="s", max_tokens=10, temperature=1.0, seed=42).choices[0].text
    c = client.completions.create(model="m", prompt="s", max_tokens=10, temperature=1.0, seed=43).choices[0].text
    assert a == b and a != c


def test_chat_with_logprobs(client):
    r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                       max_completion_tokens=4, logprobs=True, top_logprobs=2)
    msg = r.choices[0].message
    assert msg.role == "assistant" and len(msg.content) == 4
    lp = r.choices[0].logprobs.content
    assert "".join(t.token for t in lp) == msg.content
    assert all(len(t.top_logprobs) == 2 for t in lp)
    assert r.usage.completion_tokens == 4


def test_chat_stream_with_usage(client):
    stream = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                            max_tokens=6, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text) == 6
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6
    assert any(c.choices and c.choices[0].finish_reason == "length" for c in chunks)


def test_chat_n_stream(client):
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}],
                                                 max_tokens=3, n=2, stream=True, seed=1))
    texts = {0: "", 1: ""}
    for c in chunks:
        for ch in c.choices:
            texts[ch.index] += ch.delta.content or ""
    assert len(texts[0]) == 3 and len(texts[1]) == 3


def test_errors_in_openai_shape(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model="m", prompt="x", max_tokens=-1)
    assert e.value.status_code == 400
    assert e.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="m", messages=[])
    assert e.value.body["param"] == "messages"
    # Still serving.
    assert client.completions.create(model="m", prompt="ok", max_tokens=1).choices[0].text


def test_api_key(make_server):
    s = make_server("--api-key", "k1")
    bad = openai.OpenAI(base_url=s.url + "/v1", api_key="wrong")
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    good = openai.OpenAI(base_url=s.url + "/v1", api_key="k1")
    assert good.models.list().data[0].id == "fake-model"
