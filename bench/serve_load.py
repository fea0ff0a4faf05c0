#!/usr/bin/env python3
"""Bounded serving load test (loopback only, stops by itself): a burst of N concurrent streaming
requests, then a soak at a steady request rate. Reports request throughput, output tokens/s,
TTFT and inter-token latency p50/p99, failures, and (with --server-pid or --server-bin) the
server's RSS and open file descriptors before and after, so leaks show up; at the end it reads
/metrics and checks that no KV slot is held by a request. Standard library only.

    python3 bench/serve_load.py --url http://127.0.0.1:8000 --concurrency 500 \
        --soak-seconds 120 --soak-rate 20 --max-new-tokens 32 [--server-pid PID]
    python3 bench/serve_load.py --server-bin build/lightllm [--server-args "--max-total-token-num 32768"]
        (starts `lightllm serve` on a free loopback port with the bundled model, stops it after)

Benchmark, not a pass/fail test: it exits 1 when requests failed, the KV pool was not free at
the end, or the open file descriptors (or RSS, by over 10%) grew during the soak.
"""

import argparse
import asyncio
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlparse


class Stats:
    def __init__(self):
        self.ttft, self.itl, self.ok, self.failed, self.tokens = [], [], 0, 0, 0
        self.errors = {}

    def fail(self, why):
        self.failed += 1
        self.errors[why] = self.errors.get(why, 0) + 1


async def one_request(host, port, path, body, stats):
    t0 = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as e:
        stats.fail(f"connect: {e.__class__.__name__}")
        return
    try:
        data = json.dumps(body).encode()
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            stats.fail(status.decode(errors="replace").strip())
            return
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        last, n, buf, finished = None, 0, b"", False
        while not finished:
            size_line = await reader.readline()
            if not size_line:
                break
            size = int(size_line.strip(), 16)
            if size == 0:
                break
            buf += await reader.readexactly(size + 2)
            buf = buf[:-2] if buf.endswith(b"\r\n") else buf
            while b"\n\n" in buf:
                ev, buf = buf.split(b"\n\n", 1)
                payload = json.loads(ev[5:])
                now = time.perf_counter()
                if payload["token"]["id"] is not None:
                    if last is None:
                        stats.ttft.append(now - t0)
                    else:
                        stats.itl.append(now - last)
                    last = now
                    n += 1
                finished = finished or payload["finished"]
        if finished:
            stats.ok += 1
            stats.tokens += n
        else:
            stats.fail("stream ended without a finished event")
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        stats.fail(e.__class__.__name__)
    finally:
        writer.close()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def proc_usage(pid):
    if not pid:
        return None
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def kv_state(url):
    """(kv_used, kv_cached, running, waiting) from the server's /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    vals = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            vals[name] = float(value)
    return (vals["lightllm_kv_used_tokens"], vals["lightllm_kv_cached_tokens"],
            vals["lightllm_batch_current_size"], vals["lightllm_queue_size"])


def start_server(binary, extra):
    cmd = [binary, "serve", "--host", "127.0.0.1", "--port", "0", *shlex.split(extra)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_WAIT_POLICY="passive"))
    for line in proc.stdout:
        print(f"[server] {line.rstrip()}")
        if line.startswith("listening on "):
            return proc, line.split()[-1]
    proc.wait()
    sys.exit(f"serve_load: the server did not start ({' '.join(cmd)})")


def report(name, stats, seconds):
    print(f"[{name}] ok={stats.ok} failed={stats.failed} in {seconds:.1f} s: "
          f"{stats.ok / seconds:.1f} req/s, {stats.tokens / seconds:.0f} output tok/s")
    print(f"[{name}] TTFT p50={pct(stats.ttft, 50) * 1e3:.1f} ms p99={pct(stats.ttft, 99) * 1e3:.1f} ms; "
          f"inter-token p50={pct(stats.itl, 50) * 1e3:.2f} ms p99={pct(stats.itl, 99) * 1e3:.2f} ms")
    if stats.errors:
        print(f"[{name}] errors: {stats.errors}")


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--concurrency", type=int, default=500, help="burst size (default %(default)s)")
    ap.add_argument("--soak-seconds", type=float, default=120.0, help="default %(default)s")
    ap.add_argument("--soak-rate", type=float, default=20.0, help="requests/s in the soak (default %(default)s)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--server-pid", type=int, default=0, help="report this process's RSS and open fds")
    ap.add_argument("--server-bin", default="", help="start this `lightllm` binary's serve (and stop it)")
    ap.add_argument("--server-args", default="", help="extra flags for --server-bin's serve")
    a = ap.parse_args()
    proc = None
    if a.server_bin:
        proc, a.url = start_server(a.server_bin, a.server_args)
        a.server_pid = proc.pid
    try:
        return await run(a)
    finally:
        if proc:
            proc.terminate()
            print(f"[server] exit status {proc.wait(timeout=60)}")


async def run(a):
    u = urlparse(a.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("serve_load: loopback URLs only")
    host, port = u.hostname, u.port or 80
    body = {"inputs": "load test prompt", "parameters": {"max_new_tokens": a.max_new_tokens, "ignore_eos": True}}
    before = proc_usage(a.server_pid)

    burst = Stats()
    t = time.perf_counter()
    await asyncio.gather(*(one_request(host, port, "/generate_stream", body, burst) for _ in range(a.concurrency)))
    report(f"burst x{a.concurrency}", burst, time.perf_counter() - t)
    mid = proc_usage(a.server_pid)

    soak = Stats()
    t = time.perf_counter()
    tasks = []
    k = 0
    while time.perf_counter() - t < a.soak_seconds:
        tasks.append(asyncio.create_task(one_request(host, port, "/generate_stream", body, soak)))
        k += 1
        await asyncio.sleep(max(0.0, t + k / a.soak_rate - time.perf_counter()))
    await asyncio.gather(*tasks)
    report(f"soak {a.soak_rate}/s", soak, time.perf_counter() - t)
    await asyncio.sleep(0.5)
    after = proc_usage(a.server_pid)
    bad = bool(burst.failed or soak.failed)
    if before:
        print(f"server RSS kB / open fds: before {before}, after burst {mid}, after soak {after}")
        # The burst is the warm-up (lazily created threads, pools, allocator arenas); the soak
        # must not grow what the burst left behind.
        print(f"soak growth: RSS {after[0] - mid[0]:+d} kB, open fds {after[1] - mid[1]:+d}")
        if after[1] > mid[1]:
            print("FAIL: open file descriptors grew during the soak")
            bad = True
        if after[0] > mid[0] * 1.10:
            print("FAIL: RSS grew by more than 10% during the soak")
            bad = True
    used, cached, running, waiting = kv_state(a.url)
    print(f"KV at the end: {used:.0f} slots held by requests, {cached:.0f} by the prefix cache; "
          f"running {running:.0f}, waiting {waiting:.0f}")
    if used or running or waiting:
        print("FAIL: the KV pool is not free at the end")
        bad = True
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
