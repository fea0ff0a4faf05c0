"""Serve flags from a YAML config (flags win, unknown keys fail), `lightllm client`, and
`python -m lightllm.server` forwarding to the binary."""

import os
import subprocess
import sys

import pytest

from lightllm import Client, LightLLMError


def test_yaml_config_sets_flags_and_command_line_wins(make_server, tmp_path):
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("served-model-name: from-yaml\napi_key: yamlkey\nmax_body_bytes: 100000\n")
    s = make_server("--config", str(cfg))
    assert Client(s.url, api_key="yamlkey").model_name() == "from-yaml"
    with pytest.raises(LightLLMError) as e:
        Client(s.url).model_name()
    assert e.value.status == 401
    s2 = make_server("--config", str(cfg), "--served-model-name", "from-flag")
    assert Client(s2.url, api_key="yamlkey").model_name() == "from-flag"


def test_yaml_unknown_key_and_bad_syntax_fail(tmp_path):
    binary = os.environ["LIGHTLLM_FAKE_SERVER"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("no-such-flag: 1\n")
    r = subprocess.run([binary, "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "no-such-flag" in r.stderr
    bad.write_text("port: [1, 2\n")
    r = subprocess.run([binary, "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "YAML" in r.stderr


def test_lightllm_client_command(server):
    want = Client(server.url).generate_text("hi there", max_new_tokens=6)
    binary = os.environ["LIGHTLLM_BIN"]
    for extra in ([], ["--stream"]):
        r = subprocess.run([binary, "client", "--url", server.url, "--text", "hi there",
                            "--max-new-tokens", "6", *extra], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout == want + "\n"


def test_serve_help_lists_every_engine_flag():
    r = subprocess.run([os.environ["LIGHTLLM_BIN"], "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for flag in ("--model", "--tp", "--max-total-token-num", "--mem-fraction", "--batch-max-tokens",
                 "--running-max-req-size", "--max-req-total-len", "--router-token-ratio",
                 "--router-max-new-token-len", "--chunked-prefill-size", "--kv-cache-dtype", "--host",
                 "--port", "--api-key", "--config"):
        assert flag in r.stdout, flag


def test_python_m_server_forwards_flags():
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-m", "lightllm.server", "--help"], capture_output=True, text=True,
                       env=env, timeout=30)
    assert r.returncode == 0 and "--max-total-token-num" in r.stdout
