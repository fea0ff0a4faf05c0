"""Small HTTP helpers for the end-to-end tests: raw requests over http.client (so the exact
response bytes are visible), chunked-body decoding, and the bundled model's reference."""

import http.client
import json
import os
from urllib.parse import urlparse


def reference():
    with open(os.path.join(os.environ["LIGHTLLM_MODEL_DIR"], "reference.json")) as f:
        return json.load(f)


def request(url, method, path, body=None, headers=None, timeout=60):
    """Returns (status, headers dict (lower-case names), body bytes). body: dict/list -> JSON,
    str/bytes sent as is."""
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def post_json(url, path, body, **kw):
    status, headers, raw = request(url, "POST", path, body, **kw)
    return status, json.loads(raw)


def sse_events(raw, prefix):
    """Splits an SSE body into events; each must be `prefix` + payload + blank line."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n"), f"stream does not end with a blank line: {text[-40:]!r}"
    events = text[:-2].split("\n\n")
    for e in events:
        assert e.startswith(prefix), f"event {e!r} does not start with {prefix!r}"
        assert "\n" not in e, f"event {e!r} spans several lines"
    return [e[len(prefix):] for e in events]
