#!/usr/bin/env python3
"""Writes tests/data/kernels/rope_vectors.json: HF transformers' rotary embedding values.

For each RoPE scaling type (default, partial rotary, linear, dynamic NTK below and beyond the
original max, llama3; Phi-3 longrope short/long with its attention factor) it records the config, the inv_freq HF ends up using for the given
position_ids, and cos/sin (first rotary_dim/2 columns; HF's emb = cat(freqs, freqs)) at a few
positions. Uses transformers' own LlamaRotaryEmbedding (which calls ROPE_INIT_FUNCTIONS and the
dynamic_rope_update decorator), so the C++ test (tests/kernels/rope_test.cpp) is compared with
the real thing. Run: python3 tools/goldens/rope_vectors.py  (transformers 4.57.1, torch CPU).
"""
import json
import os

import torch
import transformers
from transformers import LlamaConfig, Phi3Config
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.models.phi3.modeling_phi3 import Phi3RotaryEmbedding

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "kernels", "rope_vectors.json")

CASES = [
    # name, head_dim, partial_rotary_factor, theta, max_pos, rope_scaling, positions
    ("default", 64, 1.0, 10000.0, 2048, None, [0, 1, 7, 100, 2047]),
    ("default_partial", 80, 0.5, 500000.0, 4096, None, [0, 3, 999, 4095]),
    ("linear", 64, 1.0, 10000.0, 2048, {"rope_type": "linear", "factor": 4.0}, [0, 5, 4000, 8191]),
    ("dynamic_within", 64, 1.0, 10000.0, 2048, {"rope_type": "dynamic", "factor": 2.0}, [0, 10, 2000]),
    ("dynamic_beyond", 64, 1.0, 10000.0, 2048, {"rope_type": "dynamic", "factor": 2.0}, [0, 1, 2047, 3000, 5000]),
    ("dynamic_beyond_partial", 128, 0.25, 1000000.0, 4096, {"rope_type": "dynamic", "factor": 3.0},
     [0, 4096, 12000]),
    ("llama3", 128, 1.0, 500000.0, 131072,
     {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192}, [0, 1, 8191, 20000, 131071]),
]

# Phi-3 longrope ("su"): Phi3RotaryEmbedding picks short_factor while max(position)+1 <=
# original_max_position_embeddings, long_factor beyond, and scales cos/sin by
# sqrt(1 + ln(max_pos / original_max) / ln(original_max)).
# name, head_dim, partial_rotary_factor, theta, max_pos, original_max, positions
LONGROPE_CASES = [
    ("longrope_short", 32, 1.0, 10000.0, 131072, 4096, [0, 1, 100, 4095]),
    ("longrope_long", 32, 1.0, 10000.0, 131072, 4096, [0, 5, 4096, 70000]),
    ("longrope_long_partial", 64, 0.5, 250000.0, 16384, 2048, [0, 3, 2047, 9000]),
]


def longrope_factors(n, seed):
    g = torch.Generator().manual_seed(seed)
    short = (1.0 + 0.5 * torch.rand(n, generator=g)).tolist()
    long = (1.0 + 30.0 * torch.rand(n, generator=g)).tolist()
    return [float("%.6g" % v) for v in short], [float("%.6g" % v) for v in long]


def longrope_cases():
    out = []
    for i, (name, head_dim, partial, theta, max_pos, orig, positions) in enumerate(LONGROPE_CASES):
        rotary_dim = int(head_dim * partial)
        half = rotary_dim // 2
        short, long = longrope_factors(half, 50 + i)
        n_heads = 4
        cfg = Phi3Config(hidden_size=head_dim * n_heads, num_attention_heads=n_heads,
                         num_key_value_heads=n_heads, rope_theta=theta,
                         max_position_embeddings=max_pos, original_max_position_embeddings=orig,
                         partial_rotary_factor=partial,
                         rope_scaling={"type": "longrope", "short_factor": short,
                                       "long_factor": long})
        rot = Phi3RotaryEmbedding(cfg)
        pos = torch.tensor([positions], dtype=torch.int64)
        with torch.no_grad():
            cos, sin = rot(torch.zeros(1, dtype=torch.float32), pos)
        out.append({
            "name": name, "head_dim": head_dim, "rotary_dim": rotary_dim, "theta": theta,
            "scaling": "longrope", "factor": 1.0, "original_max_position": orig,
            "max_position": max_pos, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "short_factor": short, "long_factor": long,
            "seq_len": max(positions) + 1, "positions": positions,
            "attention_scaling": float(rot.attention_scaling),
            "inv_freq": [float(v) for v in rot.inv_freq.tolist()],
            "cos": [[float(v) for v in row[:half]] for row in cos[0].tolist()],
            "sin": [[float(v) for v in row[:half]] for row in sin[0].tolist()],
        })
    return out


def main():
    out = {"transformers": transformers.__version__, "torch": torch.__version__, "cases": []}
    for name, head_dim, partial, theta, max_pos, scaling, positions in CASES:
        n_heads = 4
        cfg = LlamaConfig(hidden_size=head_dim * n_heads, num_attention_heads=n_heads, head_dim=head_dim,
                          rope_theta=theta, max_position_embeddings=max_pos, rope_scaling=scaling)
        if partial != 1.0:
            cfg.partial_rotary_factor = partial
        rot = LlamaRotaryEmbedding(cfg)
        pos = torch.tensor([positions], dtype=torch.int64)
        x = torch.zeros(1, dtype=torch.float32)
        with torch.no_grad():
            cos, sin = rot(x, pos)
        rotary_dim = int(head_dim * partial)
        half = rotary_dim // 2
        sc = scaling or {}
        out["cases"].append({
            "name": name,
            "head_dim": head_dim,
            "rotary_dim": rotary_dim,
            "theta": theta,
            "scaling": sc.get("rope_type", "none"),
            "factor": sc.get("factor", 1.0),
            "original_max_position": sc.get("original_max_position_embeddings", max_pos),
            "low_freq_factor": sc.get("low_freq_factor", 1.0),
            "high_freq_factor": sc.get("high_freq_factor", 4.0),
            "seq_len": max(positions) + 1,
            "positions": positions,
            "attention_scaling": float(rot.attention_scaling),
            "inv_freq": [float(v) for v in rot.inv_freq.tolist()],
            "cos": [[float(v) for v in row[:half]] for row in cos[0].tolist()],
            "sin": [[float(v) for v in row[:half]] for row in sin[0].tolist()],
        })
    out["cases"] += longrope_cases()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
