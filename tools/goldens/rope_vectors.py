#!/usr/bin/env python3
"""Writes tests/data/kernels/rope_vectors.json: HF transformers' rotary embedding values.

For each RoPE scaling type (default, partial rotary, linear, dynamic NTK below and beyond the
original max, llama3) it records the config, the inv_freq HF ends up using for the given
position_ids, and cos/sin (first rotary_dim/2 columns; HF's emb = cat(freqs, freqs)) at a few
positions. Uses transformers' own LlamaRotaryEmbedding (which calls ROPE_INIT_FUNCTIONS and the
dynamic_rope_update decorator), so the C++ test (tests/kernels/rope_test.cpp) is compared with
the real thing. Run: python3 tools/goldens/rope_vectors.py  (transformers 4.57.1, torch CPU).
"""
import json
import os

import torch
import transformers
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

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
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
