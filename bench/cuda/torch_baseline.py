#!/usr/bin/env python3
"""bench/cuda/torch_baseline.py — PyTorch baselines for the shapes of kernel_bench, same GPU, same run.

prefill: torch SDPA, flash backend forced, causal, 32 heads / 8 kv heads / d128, 16x1k, 8x2k, 4x4k
         and 1x16k,
         bf16 and f16 (FLOPs counted as in kernel_bench: 4*D*H*sum(len^2)/2).
decode:  SDPA on contiguous KV, batch 1/32/128 x ctx 1k/4k: the 4 query heads of a kv head are
         folded into the query length (non-causal), so K/V are read once, as our kernel does;
         flash also timed after a clean-L2 flush (ms_clean). "torch decode-chain" lines: the
         engine's view, as kernel_bench's decode-chain lines: CHAIN_LAYERS flash calls back to
         back, each over its own K/V (the layers of a model; same q), captured in one
         torch.cuda.graph (no PDL: torch launches plainly), time per call = replay time /
         CHAIN_LAYERS, replayed after the zero_() flush and after the clean-L2 flush; every
         layer's graph output must equal its eager call exactly (the run fails otherwise).
gemm:    torch.matmul(x, w.T) on the Llama-7B shapes of kernel_bench.
Timing: triton.testing.do_bench (flushes L2 between runs), median. Run on the GPU machine.
Usage: torch_baseline.py [prefill] [decode] [gemm]   (no argument: all three)
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from triton.testing import do_bench


def ms_of(fn):
    return do_bench(fn, warmup=5, rep=50, return_mode="median")


_CLEAN_FLUSH = []


def ms_clean(fn, iters=20):
    """Median of CUDA-event timings, each after a read pass over 256 MiB: the L2 then holds clean
    lines (do_bench's flush, a zero_(), leaves ~50 MB of dirty lines for the timed kernel to write
    back; attention_tune times both ways)."""
    if not _CLEAN_FLUSH:
        _CLEAN_FLUSH.append(torch.ones((256 << 20) // 4, dtype=torch.int32, device="cuda"))
    fn()
    times = []
    for _ in range(iters):
        _CLEAN_FLUSH[0].sum()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


CHAIN_LAYERS = 8


def graph_ms(graph, flush, iters=10):
    """Median ms of `iters` replays of `graph` (after 2 untimed ones), each after `flush()`."""
    times = []
    for i in range(iters + 2):
        flush()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        b.synchronize()
        if i >= 2:
            times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


def decode_chain(q, k0, v0):
    """kernel_bench's decode-chain for SDPA flash: layer 0 reads k0/v0, the others their own K/V."""
    ks, vs = [k0], [v0]
    for _ in range(CHAIN_LAYERS - 1):
        ks.append(torch.randn_like(k0))
        vs.append(torch.randn_like(v0))
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        want = [F.scaled_dot_product_attention(q, k, v) for k, v in zip(ks, vs)]
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):  # warm-up on the capture stream, as torch advises
            for k, v in zip(ks, vs):
                F.scaled_dot_product_attention(q, k, v)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outs = [F.scaled_dot_product_attention(q, k, v) for k, v in zip(ks, vs)]
    if not _CLEAN_FLUSH:
        _CLEAN_FLUSH.append(torch.ones((256 << 20) // 4, dtype=torch.int32, device="cuda"))
    dirty = torch.empty((256 << 20) // 4, dtype=torch.int32, device="cuda")
    for o in outs:
        o.zero_()
    us_dirty = graph_ms(graph, dirty.zero_) * 1e3 / CHAIN_LAYERS
    us_clean = graph_ms(graph, _CLEAN_FLUSH[0].sum) * 1e3 / CHAIN_LAYERS
    torch.cuda.synchronize()
    bad = [i for i, (o, w) in enumerate(zip(outs, want)) if not torch.equal(o, w)]
    if bad:
        print(f"torch decode-chain: layers {bad} differ from their eager calls", flush=True)
        _FAILURES.append(bad)
    del graph
    return us_dirty, us_clean, not bad


_FAILURES = []


def prefill(dtype, name):
    H, KVH, D = 32, 8, 128
    for b, s in ((16, 1024), (8, 2048), (4, 4096), (1, 16384)):
        q = torch.randn(b, H, s, D, device="cuda", dtype=dtype)
        k = torch.randn(b, KVH, s, D, device="cuda", dtype=dtype)
        v = torch.randn_like(k)
        flops = 4.0 * D * H * b * s * s / 2
        try:
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
                fn()
                how = "flash, enable_gqa"
                ms = ms_of(fn)
        except Exception:  # older torch: expand kv heads (more bytes, same FLOPs)
            ke = k.repeat_interleave(H // KVH, dim=1)
            ve = v.repeat_interleave(H // KVH, dim=1)
            with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                fn = lambda: F.scaled_dot_product_attention(q, ke, ve, is_causal=True)
                fn()
                how = "flash, kv expanded"
                ms = ms_of(fn)
        print(f"torch prefill {name} {b:2d} x {s:4d} causal h32/kv8/d128: {ms:8.3f} ms "
              f"{flops / ms / 1e9:6.1f} TFLOP/s ({how})", flush=True)


def decode(dtype, name):
    H, KVH, D = 32, 8, 128
    g = H // KVH
    for b in (1, 32, 128):
        for ctx in (1024, 4096):
            q = torch.randn(b, KVH, g, D, device="cuda", dtype=dtype)
            k = torch.randn(b, KVH, ctx, D, device="cuda", dtype=dtype)
            v = torch.randn_like(k)
            res = {}
            for bk_name, bk in (("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)):
                try:
                    with sdpa_kernel(bk):
                        fn = lambda: F.scaled_dot_product_attention(q, k, v)
                        fn()
                        res[bk_name] = ms_of(fn)
                        if bk_name == "flash":
                            res["flash clean-L2"] = ms_clean(fn)
                except Exception as e:  # noqa: BLE001
                    res[bk_name] = None
            nbytes = 2 * b * ctx * KVH * D * 2
            parts = []
            for bk_name, ms in res.items():
                if ms is None:
                    parts.append(f"{bk_name}: n/a")
                else:
                    parts.append(f"{bk_name}: {ms * 1e3:8.1f} us {nbytes / ms / 1e6:6.0f} GB/s")
            print(f"torch decode  {name} batch {b:3d} ctx {ctx:4d}: " + "  ".join(parts), flush=True)
            if res.get("flash") is not None:
                us_d, us_c, ok = decode_chain(q, k, v)
                print(f"torch decode-chain {name} batch {b:3d} ctx {ctx:4d}: flash x{CHAIN_LAYERS} "
                      f"cuda graph {us_d:8.1f} us/call {nbytes / us_d / 1e3:6.0f} GB/s | "
                      f"clean L2 {us_c:8.1f} us/call {nbytes / us_c / 1e3:6.0f} GB/s | "
                      f"single call {res['flash'] * 1e3:.1f} us | "
                      f"{'outputs equal to eager calls' if ok else 'CHECK FAILED'}", flush=True)


def gemm(dtype, name):
    for m in (1, 32, 4096):
        for label, n, k in (("qkv", 12288, 4096), ("o", 4096, 4096), ("gate_up", 22016, 4096), ("down", 4096, 11008)):
            x = torch.randn(m, k, device="cuda", dtype=dtype)
            w = torch.randn(n, k, device="cuda", dtype=dtype)
            ms = ms_of(lambda: torch.matmul(x, w.t()))
            print(f"torch gemm {name} m {m:4d} {label:8s} n {n:5d} k {k:5d}: {ms * 1e3:8.1f} us "
                  f"{2 * m * n * k / ms / 1e9:6.1f} TFLOP/s {2 * (n * k + m * k + m * n) / ms / 1e6:6.0f} GB/s", flush=True)


def main():
    want = set(sys.argv[1:]) or {"prefill", "decode", "gemm"}
    print(f"GPU: {torch.cuda.get_device_name(0)}  torch {torch.__version__}", flush=True)
    if "prefill" in want:
        for dt, name in ((torch.bfloat16, "bf16"), (torch.float16, "f16 ")):
            prefill(dt, name)
    if "decode" in want:
        for dt, name in ((torch.bfloat16, "bf16"), (torch.float16, "f16 ")):
            decode(dt, name)
    if "gemm" in want:
        gemm(torch.bfloat16, "bf16")
    if _FAILURES:
        sys.exit(1)


if __name__ == "__main__":
    main()
