"""Starts the `lightllm serve` binary with the same flags: `python -m lightllm.server --port 8000 ...`.

The binary is found in this order: $LIGHTLLM_BIN, `lightllm` on PATH, <repo>/build/lightllm
(relative to this package in a source checkout). `launch()` starts it as a child process and
waits until /health answers, for scripts and tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import List, Optional


def find_binary() -> str:
    env = os.environ.get("LIGHTLLM_BIN")
    if env:
        return env
    on_path = shutil.which("lightllm")
    if on_path:
        return on_path
    repo_build = Path(__file__).resolve().parents[2] / "build" / "lightllm"
    if repo_build.exists():
        return str(repo_build)
    raise FileNotFoundError("cannot find the lightllm binary: set LIGHTLLM_BIN, put it on PATH "
                            "or build it into <repo>/build")


def launch(args: List[str], host: str = "127.0.0.1", port: int = 8000,
           timeout: float = 120.0, binary: Optional[str] = None) -> subprocess.Popen:
    """Starts `lightllm serve --host H --port P ARGS...` and waits for GET /health == 200."""
    cmd = [binary or find_binary(), "serve", "--host", host, "--port", str(port), *args]
    proc = subprocess.Popen(cmd)
    deadline = time.time() + timeout
    url = f"http://{host}:{port}/health"
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lightllm serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        binary = find_binary()
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    os.execv(binary, [binary, "serve", *argv])  # replaces this process; signals go to the server
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
