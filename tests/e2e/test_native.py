"""The LightLLM native API of the real server on the bundled model: greedy output equal to the
PyTorch reference (models/lightllm-tiny-en/reference.json), /generate vs /generate_stream vs
POST /, SSE bytes exactly as LightLLM writes them (`"data:" + json.dumps(ret,
ensure_ascii=False) + "\\n\\n"`), curl, our Python client, and the small service routes."""

import json
import os
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from helpers import post_json, reference, request, sse_events
from lightllm import Client

REF = reference()["greedy"]
GREEDY = {"max_new_tokens": 32, "do_sample": False, "ignore_eos": True}
TOKEN_KEYS = ["id", "text", "logprob", "special", "count_output_tokens", "prompt_tokens"]
EVENT_KEYS = ["token", "generated_text", "finished", "finish_reason", "details"]


def test_generate_greedy_equals_reference(server):
    status, out = post_json(server.url, "/generate", {"inputs": REF["prompt"], "parameters": GREEDY})
    assert status == 200
    assert out["generated_text"] == [REF["output_text"]]
    assert out["count_output_tokens"] == 32 and out["finish_reason"] == "length"
    assert out["prompt_tokens"] == len(REF["prompt_ids"])


def test_generate_stream_bytes_and_ids_equal_reference(server):
    status, headers, raw = request(server.url, "POST", "/generate_stream",
                                   {"inputs": REF["prompt"], "parameters": GREEDY})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = []
    for payload in sse_events(raw, "data:"):
        ev = json.loads(payload)  # dicts keep the server's key order
        assert list(ev) == EVENT_KEYS and list(ev["token"]) == TOKEN_KEYS
        # Byte for byte what LightLLM's api_lightllm.lightllm_generate_stream yields.
        assert "data:" + payload + "\n\n" == "data:" + json.dumps(ev, ensure_ascii=False) + "\n\n"
        events.append(ev)
    assert [e["token"]["id"] for e in events] == REF["output_ids"]
    assert "".join(e["token"]["text"] for e in events) == REF["output_text"]
    assert [e["token"]["count_output_tokens"] for e in events] == list(range(1, 33))
    assert all(e["token"]["prompt_tokens"] == len(REF["prompt_ids"]) for e in events)
    assert all(e["token"]["logprob"] <= 0 for e in events)
    assert [e["finished"] for e in events] == [False] * 31 + [True]
    assert [e["finish_reason"] for e in events] == [None] * 31 + ["length"]
    assert all(e["generated_text"] is None and e["details"] is None for e in events)


def test_post_root_routes_on_stream(server):
    body = {"inputs": REF["prompt"], "parameters": GREEDY}
    status, whole = post_json(server.url, "/", body)
    assert status == 200 and whole["generated_text"] == [REF["output_text"]]
    status, headers, raw = request(server.url, "POST", "/", dict(body, stream=True))
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    text = "".join(json.loads(p)["token"]["text"] for p in sse_events(raw, "data:"))
    assert text == REF["output_text"]


def test_return_details_tokens_match_stream(server):
    body = {"inputs": "The cat", "parameters": {"max_new_tokens": 8, "do_sample": False,
                                                "ignore_eos": True, "return_details": True}}
    status, out = post_json(server.url, "/generate", body)
    assert status == 200
    _, _, raw = request(server.url, "POST", "/generate_stream", body)
    streamed = [json.loads(p)["token"] for p in sse_events(raw, "data:")]
    assert [t["id"] for t in out["tokens"]] == [t["id"] for t in streamed]
    assert "".join(t["text"] for t in out["tokens"]) == out["generated_text"][0]
    for a, b in zip(out["tokens"], streamed):
        assert abs(a["logprob"] - b["logprob"]) < 1e-5


def test_curl_stream(server):
    body = json.dumps({"inputs": REF["prompt"], "parameters": GREEDY})
    r = subprocess.run(["curl", "-sS", "-N", "--fail", "-H", "Content-Type: application/json",
                        "-d", body, server.url + "/generate_stream"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    events = [json.loads(p) for p in sse_events(r.stdout, "data:")]
    assert "".join(e["token"]["text"] for e in events) == REF["output_text"]
    assert events[-1]["finished"] is True


def test_python_client(server):
    c = Client(server.url)
    assert c.health()
    assert c.generate_text(REF["prompt"], **GREEDY) == REF["output_text"]
    events = list(c.generate_stream(REF["prompt"], **GREEDY))
    assert "".join(e["token"]["text"] for e in events) == REF["output_text"]
    assert c.count_tokens(REF["prompt"]) == len(REF["prompt_ids"])
    assert c.model_name() == "lightllm-tiny-en"
    assert [m["id"] for m in c.models()] == ["lightllm-tiny-en"]


def test_python_m_client_streams_reference(server):
    env = dict(os.environ)
    want = Client(server.url).generate_text("The cat", max_new_tokens=6, do_sample=False)
    for extra in ([], ["--stream"]):
        r = subprocess.run([sys.executable, "-m", "lightllm.client", "--url", server.url, "--text",
                            "The cat", "--max-new-tokens", "6", "--temperature", "0", *extra],
                           capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout == want + "\n"


def test_tokens_route_counts_like_our_tokenizer(server):
    binary = os.environ["LIGHTLLM_BIN"]
    for text in [REF["prompt"], "Hello, world! ünïcode ✓", "a" * 50]:
        r = subprocess.run([binary, "tokenize", "--model", os.environ["LIGHTLLM_MODEL_DIR"]],
                           input=text, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        ids = json.loads(r.stdout)["ids"]
        status, out = post_json(server.url, "/tokens", {"text": text})
        assert status == 200 and out["ntokens"] == len(ids)
    status, out = post_json(server.url, "/tokens", {"text": REF["prompt"]})
    assert out["ntokens"] == len(REF["prompt_ids"])


def test_service_routes(server):
    status, _, raw = request(server.url, "GET", "/get_model_name")
    assert status == 200 and json.loads(raw) == {"model_name": "lightllm-tiny-en"}
    status, _, raw = request(server.url, "GET", "/v1/models")
    models = json.loads(raw)
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["lightllm-tiny-en"]
    assert models["data"][0]["max_model_len"] == 512
    for path in ("/liveness", "/readiness", "/health"):
        status, _, _ = request(server.url, "GET", path)
        assert status == 200, path
    status, headers, raw = request(server.url, "HEAD", "/health")
    assert status == 200 and raw == b""
    status, _, raw = request(server.url, "GET", "/token_load")
    load = json.loads(raw)
    assert status == 200 and load["current_load"] == 0.0


def test_metrics_parse_and_count(server):
    def samples():
        _, _, raw = request(server.url, "GET", "/metrics")
        fams = {f.name: f for f in text_string_to_metric_families(raw.decode())}
        return fams, {s.name: s.value for f in fams.values() for s in f.samples if not s.labels}

    fams0, before = samples()
    post_json(server.url, "/generate", {"inputs": "metrics", "parameters": {"max_new_tokens": 5,
                                                                           "ignore_eos": True}})
    fams, after = samples()
    assert fams["lightllm_request_count"].type == "counter"
    assert fams["lightllm_request_duration"].type == "histogram"
    assert fams["lightllm_request_first_token_duration"].type == "histogram"
    for g in ("lightllm_queue_size", "lightllm_batch_current_size", "lightllm_kv_used_tokens",
              "lightllm_kv_cached_tokens", "lightllm_kv_total_tokens"):
        assert fams[g].type == "gauge", g
    assert after["lightllm_request_count_total"] == before["lightllm_request_count_total"] + 1
    assert after["lightllm_request_success_total"] == before["lightllm_request_success_total"] + 1
    assert after["lightllm_generation_tokens_total"] >= before["lightllm_generation_tokens_total"] + 5
    assert after["lightllm_request_generated_tokens_sum"] == before["lightllm_request_generated_tokens_sum"] + 5
    assert after["lightllm_kv_total_tokens"] == 8192
    buckets = [s for s in fams["lightllm_request_duration"].samples if s.name.endswith("_bucket")]
    assert buckets[-1].labels["le"] == "+Inf"
    assert buckets[-1].value == after["lightllm_request_duration_count"]


def test_health_probe_is_not_counted_as_a_request(server):
    """/health runs a real one-token generation when idle, but like LightLLM's health check it
    is not a user request: the request counters stay consistent (success <= count)."""
    def counts():
        _, _, raw = request(server.url, "GET", "/metrics")
        fams = text_string_to_metric_families(raw.decode())
        return {s.name: s.value for f in fams for s in f.samples if not s.labels}

    before = counts()
    for _ in range(3):
        assert request(server.url, "GET", "/health")[0] == 200
    after = counts()
    for k in ("lightllm_request_count_total", "lightllm_request_success_total",
              "lightllm_request_failure_total", "lightllm_request_duration_count"):
        assert after[k] == before[k], k
    assert after["lightllm_request_success_total"] + after["lightllm_request_failure_total"] <= \
        after["lightllm_request_count_total"]


def test_many_requests_on_one_keep_alive_connection(server):
    """Regression: the server's disconnect watch (async_wait + available()) sometimes woke up
    with nothing to read and closed healthy connections without a response (~1.5% of
    requests). 600 requests, whole and streamed, over one connection must all be answered."""
    from urllib.parse import urlparse
    import http.client

    u = urlparse(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    bodies = [("/v1/completions", {"prompt": "Once", "max_tokens": 3, "temperature": 0}),
              ("/generate", {"inputs": "Once", "parameters": {"max_new_tokens": 3}}),
              ("/generate_stream", {"inputs": "Once", "parameters": {"max_new_tokens": 3}})]
    try:
        for i in range(600):
            path, body = bodies[i % 3]
            conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            assert r.status == 200 and data, (i, r.status, data)
            assert r.getheader("Connection") == "keep-alive"
    finally:
        conn.close()
