"""A client that disconnects mid-stream cancels its request: its KV slots are freed within a
step or so. Measured through /metrics, polled without the prometheus parser: the
generated-token counter may advance only by the steps that fit in the poll's own round trip
after the socket closes (a step of the tiny model on the CPU is ~0.4 ms), and
lightllm_kv_used_tokens drops to 0 long before the request's max_new_tokens is reached."""

import json
import socket
import time
from urllib.parse import urlparse

import pytest

from conftest import metrics

import urllib.request


def raw_metrics(url):
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        return r.read().decode()


def sample(text, name):
    """The value of an unlabelled sample, without the (slower) prometheus parser: the loop
    below must not add its own latency to what it measures."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise KeyError(name)


def open_stream(url, path, body):
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    data = json.dumps(body)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n{data}".encode())
    return s


def read_events(s, want):
    buf = b""
    while buf.count(b"\n\n") < want:
        chunk = s.recv(65536)
        assert chunk, "server closed the stream early"
        buf += chunk
    return buf


@pytest.mark.parametrize("path,body,prefix", [
    ("/generate_stream", {"inputs": "Once upon a time",
                          "parameters": {"max_new_tokens": 450, "ignore_eos": True}}, b"data:"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Tell a story"}],
                              "max_tokens": 450, "ignore_eos": True, "stream": True}, b"data: "),
])
def test_disconnect_frees_kv_within_a_step(server, path, body, prefix):
    s = open_stream(server.url, path, body)
    assert prefix in read_events(s, 5)
    m = metrics(server.url)
    assert m["lightllm_batch_current_size"] == 1 and m["lightllm_kv_used_tokens"] > 0
    failures = m["lightllm_request_failure_total"]
    text = raw_metrics(server.url)  # the baseline, taken right before the close
    t0 = time.monotonic()
    s.close()
    gen_before = sample(text, "lightllm_generation_tokens_total")
    while True:
        text = raw_metrics(server.url)
        if sample(text, "lightllm_kv_used_tokens") == 0:
            break
        assert time.monotonic() - t0 < 10, f"KV not freed after disconnect: {text}"
        time.sleep(0.001)
    freed_after = time.monotonic() - t0
    m = metrics(server.url)
    extra = sample(text, "lightllm_generation_tokens_total") - gen_before
    print(f"{path}: KV freed {freed_after * 1e3:.1f} ms after close; {extra:.0f} tokens after close")
    # A CPU step of the tiny model is ~0.4 ms, about the time one /metrics round trip takes,
    # so the bound allows the poll's own latency: far below the 445 tokens left to generate.
    assert extra <= 24, f"{extra} tokens were generated after the client left"
    assert freed_after < 0.5
    assert m["lightllm_batch_current_size"] == 0
    # The aborted request is counted as a failure once its handler has run.
    deadline = time.monotonic() + 5
    while metrics(server.url)["lightllm_request_failure_total"] != failures + 1:
        assert time.monotonic() < deadline, "the aborted request was not counted as failed"
        time.sleep(0.01)
