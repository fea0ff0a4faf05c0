"""End-to-end fixtures: the real `lightllm serve` (real Engine, bundled model
models/lightllm-tiny-en) on an ephemeral loopback port with small limits.

ctest (tests/e2e/CMakeLists.txt) sets LIGHTLLM_BIN to the binary, LIGHTLLM_MODEL_DIR to the
bundled model and PYTHONPATH to python/. One server is shared by the whole session; tests that
need other flags start their own through `make_server`. Every server is always stopped (SIGTERM,
then SIGKILL) and must exit 0 after SIGTERM.

Invariant checked after EVERY test (autouse `kv_pool_free`): once in-flight work has drained,
no KV slot is held by a request (lightllm_kv_used_tokens == 0; slots kept by the prefix cache
are allowed, lightllm_kv_cached_tokens), nothing runs or waits, and no HTTP generation is open.
"""

import os
import signal
import subprocess
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

# Small limits so a leak shows quickly and the CPU box stays responsive.
DEFAULT_FLAGS = ["--max-total-token-num", "8192", "--running-max-req-size", "64", "--cpu-threads", "1"]


def model_dir():
    d = os.environ.get("LIGHTLLM_MODEL_DIR")
    assert d, "LIGHTLLM_MODEL_DIR is not set: run these tests through ctest"
    return d


def metrics(url):
    """{sample name: value} for unlabelled samples of /metrics, parsed by prometheus_client."""
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if not s.labels:
                out[s.name] = s.value
    return out


def wait_kv_free(url, timeout=10.0):
    """Polls /metrics until no request holds KV slots; returns the last sample dict."""
    deadline = time.monotonic() + timeout
    while True:
        m = metrics(url)
        idle = (m["lightllm_kv_used_tokens"] == 0 and m["lightllm_batch_current_size"] == 0
                and m["lightllm_queue_size"] == 0 and m["lightllm_http_requests_in_flight"] == 0)
        if idle or time.monotonic() > deadline:
            return m
        time.sleep(0.02)


class RealServer:
    def __init__(self, *args, flags=None):
        binary = os.environ.get("LIGHTLLM_BIN")
        assert binary, "LIGHTLLM_BIN is not set: run these tests through ctest"
        env = dict(os.environ, OMP_WAIT_POLICY="passive")
        cmd = [binary, "serve", "--model", model_dir(), "--host", "127.0.0.1", "--port", "0",
               *(DEFAULT_FLAGS if flags is None else flags), *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.banner = []
        self.url = None
        try:
            for line in self.proc.stdout:
                self.banner.append(line)
                if line.startswith("listening on "):
                    self.url = line.split()[-1]
                    break
            assert self.url, f"server did not start: {self.banner!r} {self.proc.stderr.read()!r}"
            assert self.url.startswith("http://127.0.0.1:")
            self.port = int(self.url.rsplit(":", 1)[1])
            self._wait_healthy()
        except BaseException:
            self.kill()
            raise

    def _wait_healthy(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=10) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("server never became healthy")

    def pid(self):
        return self.proc.pid

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def server():
    s = RealServer()
    yield s
    assert s.stop() == 0, "lightllm serve did not exit cleanly on SIGTERM"


@pytest.fixture
def make_server():
    started = []

    def make(*args, **kw):
        s = RealServer(*args, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        assert s.stop() == 0


@pytest.fixture(autouse=True)
def kv_pool_free(request):
    """After every test the shared server's KV pool holds no request's slots."""
    yield
    if "server" not in request.fixturenames:
        return
    s = request.getfixturevalue("server")
    m = wait_kv_free(s.url)
    assert m["lightllm_kv_used_tokens"] == 0, f"KV slots still held by requests: {m}"
    assert m["lightllm_batch_current_size"] == 0 and m["lightllm_queue_size"] == 0
    assert m["lightllm_http_requests_in_flight"] == 0
    assert 0 <= m["lightllm_kv_cached_tokens"] <= m["lightllm_kv_total_tokens"] == 8192
