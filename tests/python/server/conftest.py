"""Fixtures: the real HTTP server over the FakeEngine (tests/server/fake_server_main.cpp) on an
ephemeral loopback port. ctest sets LIGHTLLM_FAKE_SERVER to the binary and PYTHONPATH to python/."""

import os
import signal
import subprocess

import pytest


class FakeServer:
    def __init__(self, *args):
        binary = os.environ.get("LIGHTLLM_FAKE_SERVER")
        assert binary, "LIGHTLLM_FAKE_SERVER is not set: run these tests through ctest"
        self.proc = subprocess.Popen([binary, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), f"fake server did not start: {line!r}"
        self.url = line.split()[-1]

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


@pytest.fixture(scope="module")
def server():
    s = FakeServer()
    yield s
    assert s.stop() == 0


@pytest.fixture
def make_server():
    started = []

    def make(*args):
        s = FakeServer(*args)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
