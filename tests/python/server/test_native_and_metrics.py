"""Our standard-library client (python/lightllm), the native routes, metrics parsed by
prometheus-client's parser, SIGTERM during a stream, and `python -m lightllm.client`."""

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lightllm import Client, LightLLMError, iter_sse


def test_generate_and_stream_agree(server):
    c = Client(server.url)
    whole = c.generate("hello", max_new_tokens=6)
    assert whole["count_output_tokens"] == 6 and whole["finish_reason"] == "length"
    events = list(c.generate_stream("hello", max_new_tokens=6))
    assert len(events) == 6
    assert "".join(e["token"]["text"] for e in events) == whole["generated_text"][0]
    assert [e["finished"] for e in events] == [False] * 5 + [True]
    assert events[-1]["finish_reason"] == "length"


def test_client_errors_name_the_field(server):
    with pytest.raises(LightLLMError) as e:
        Client(server.url).generate("x", top_p=2.0)
    assert e.value.status == 400 and e.value.param == "parameters.top_p"


def test_small_routes(server):
    c = Client(server.url)
    assert c.health()
    assert c.model_name() == "fake-model"
    assert c.count_tokens("abc") == 4
    assert c.models()[0]["id"] == "fake-model"


def test_iter_sse_parser():
    raw = [b"data:{\"a\":1}\n", b"\n", b": comment\n", b"data: {\"b\":2}\r\n", b"\r\n",
           b"data: [DONE]\n", b"\n", b"data: after\n", b"\n"]
    assert list(iter_sse(raw)) == ['{"a":1}', '{"b":2}']


def test_metrics_parse_with_prometheus_client(server):
    c = Client(server.url)
    c.generate("m", max_new_tokens=3)
    fams = {f.name: f for f in text_string_to_metric_families(c.metrics())}
    assert fams["lightllm_request_count"].type == "counter"
    total = [s for s in fams["lightllm_request_count"].samples if s.name == "lightllm_request_count_total"]
    assert total and total[0].value >= 1
    dur = fams["lightllm_request_duration"]
    assert dur.type == "histogram"
    buckets = [s for s in dur.samples if s.name.endswith("_bucket")]
    assert buckets[-1].labels["le"] == "+Inf"
    assert [s.value for s in buckets] == sorted(s.value for s in buckets)  # cumulative
    for g in ("lightllm_queue_size", "lightllm_batch_current_size", "lightllm_kv_used_tokens"):
        assert fams[g].type == "gauge"


def test_sigterm_ends_streams_cleanly(make_server):
    s = make_server("--step-ms", "20")
    events = []

    def consume():
        events.extend(Client(s.url).generate_stream("long", max_new_tokens=200))

    t = threading.Thread(target=consume)
    t.start()
    while not events:
        pass
    assert s.stop(signal.SIGTERM) == 0
    t.join(10)
    assert events[-1]["finished"] is True
    assert events[-1]["finish_reason"] in ("abort", "length")


def test_python_m_client(server):
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-m", "lightllm.client", "--url", server.url, "--text", "hi",
                          "--max-new-tokens", "5"], capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    want = Client(server.url).generate_text("hi", max_new_tokens=5)
    assert out.stdout == want + "\n"
    out = subprocess.run([sys.executable, "-m", "lightllm.client", "--url", server.url, "--text", "hi",
                          "--max-new-tokens", "5", "--stream"], capture_output=True, text=True, env=env,
                         timeout=30)
    assert out.returncode == 0 and out.stdout == want + "\n"


def test_curl_like_raw_sse_bytes(server):
    req = urllib.request.Request(server.url + "/v1/completions", method="POST",
                                 data=json.dumps({"prompt": "r", "max_tokens": 2, "stream": True}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        body = r.read().decode()
    events = body.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: {") for e in events[:-2])
