"""HTTP client for the LightLLM server (native and OpenAI routes), standard library only.

Streaming responses are Server-Sent Events; `iter_sse` yields the payload of each `data:` event
(with or without the space after the colon, multi-line data joined by newlines) and stops at
OpenAI's `[DONE]`. Errors (HTTP status >= 400) raise LightLLMError with the server's message and
the offending field (`param`).

Command line:  python -m lightllm.client --url http://127.0.0.1:8000 --text "Hello" [--stream]
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any, Dict, Iterator, List, Optional


class LightLLMError(Exception):
    def __init__(self, status: int, message: str, param: Optional[str] = None):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.param = param


def iter_sse(lines) -> Iterator[str]:
    """Yields the data payload of each SSE event read from an iterable of byte lines."""
    data: List[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                payload = "\n".join(data)
                data = []
                if payload == "[DONE]":
                    return
                yield payload
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data and "\n".join(data) != "[DONE]":
        yield "\n".join(data)


class Client:
    def __init__(self, url: str = "http://127.0.0.1:8000", api_key: Optional[str] = None,
                 timeout: float = 600.0):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    # -- plumbing -------------------------------------------------------------------------
    def _open(self, method: str, path: str, body: Optional[Dict[str, Any]] = None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.api_key:
            req.add_header("Authorization", "Bearer " + self.api_key)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                err = json.loads(text)
                inner = err.get("error", {}) if isinstance(err, dict) else {}
                raise LightLLMError(e.code, inner.get("message") or err.get("message", text),
                                    inner.get("param")) from None
            except ValueError:
                raise LightLLMError(e.code, text) from None

    def _json(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        with self._open(method, path, body) as r:
            return json.loads(r.read().decode("utf-8"))

    def _stream(self, path: str, body: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
        with self._open("POST", path, body) as r:
            for payload in iter_sse(r):
                yield json.loads(payload)

    # -- LightLLM native --------------------------------------------------------------------
    def generate(self, inputs: str, **parameters: Any) -> Dict[str, Any]:
        """POST /generate; parameters use LightLLM's names (max_new_tokens, temperature, ...)."""
        return self._json("POST", "/generate", {"inputs": inputs, "parameters": parameters})

    def generate_stream(self, inputs: str, **parameters: Any) -> Iterator[Dict[str, Any]]:
        """POST /generate_stream; yields one event per token ({"token": {...}, "finished", ...})."""
        return self._stream("/generate_stream", {"inputs": inputs, "parameters": parameters})

    def generate_text(self, inputs: str, **parameters: Any) -> str:
        return self.generate(inputs, **parameters)["generated_text"][0]

    # -- OpenAI-compatible ------------------------------------------------------------------
    def completions(self, prompt: str, stream: bool = False, **kw: Any):
        body = dict(kw, prompt=prompt, stream=stream)
        return self._stream("/v1/completions", body) if stream else self._json("POST", "/v1/completions", body)

    def chat(self, messages: List[Dict[str, Any]], stream: bool = False, **kw: Any):
        body = dict(kw, messages=messages, stream=stream)
        if stream:
            return self._stream("/v1/chat/completions", body)
        return self._json("POST", "/v1/chat/completions", body)

    # -- service ----------------------------------------------------------------------------
    def health(self) -> bool:
        try:
            with self._open("GET", "/health") as r:
                return r.status == 200
        except (LightLLMError, OSError):
            return False

    def model_name(self) -> str:
        return self._json("GET", "/get_model_name")["model_name"]

    def models(self) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/models")["data"]

    def count_tokens(self, text: str) -> int:
        return self._json("POST", "/tokens", {"text": text})["ntokens"]

    def metrics(self) -> str:
        with self._open("GET", "/metrics") as r:
            return r.read().decode("utf-8")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lightllm.client", description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000", help="server URL (default %(default)s)")
    ap.add_argument("--text", required=True, help="prompt text")
    ap.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    ap.add_argument("--max-new-tokens", type=int, default=64, help="default %(default)s")
    ap.add_argument("--temperature", type=float, default=None,
                    help="sample with this temperature; 0 = greedy (default: the model's generation config)")
    ap.add_argument("--api-key", default=None, help="Bearer key, when the server requires one")
    a = ap.parse_args(argv)
    c = Client(a.url, api_key=a.api_key)
    params: Dict[str, Any] = {"max_new_tokens": a.max_new_tokens}
    if a.temperature == 0:
        params.update(do_sample=False)
    elif a.temperature is not None:
        params.update(do_sample=True, temperature=a.temperature)
    try:
        if a.stream:
            for ev in c.generate_stream(a.text, **params):
                sys.stdout.write(ev["token"]["text"])
                sys.stdout.flush()
            sys.stdout.write("\n")
        else:
            print(c.generate_text(a.text, **params))
    except LightLLMError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot reach {a.url}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
