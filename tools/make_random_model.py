#!/usr/bin/env python3
"""Writes an HF-style model folder with random weights, for benchmarks (not tests).

    tools/make_random_model.py --shape llama2-7b --out /tmp/llama2-7b-random [--dtype bf16]

Shapes: llama2-7b (32 layers, hidden 4096, 32 heads, MHA, inter 11008, vocab 32000),
llama3-8b (32 layers, hidden 4096, 32/8 heads, inter 14336, vocab 128256, theta 5e5) and
llama-100m (the CPU benchmark model: 12 layers, hidden 768, 12 heads, inter 2048, vocab 32000,
tied embeddings so every weight byte is read once per decoded token; 109.5M parameters,
209 MiB bf16; `lightllm bench decode|offline`) are LlamaForCausalLM; phi3-mini (Phi-3-mini-4k:
32 layers, hidden 3072, 32 heads, MHA, inter 8192, vocab 32064, no sliding window so decode
takes the decode-attention kernel) is Phi3ForCausalLM with fused qkv_proj and gate_up_proj, a
family of the generic decoder (src/models/layers/decoder.cpp).
Weights are N(0, 0.02) (norm weights 1.0), written as one model.safetensors. Generating
billions of independent values would dominate the run, so each tensor is cut from one 64 MiB
random block at a random offset (values repeat across tensors; the GPU reads every byte
anyway, which is all a bandwidth benchmark needs). Needs numpy only.
"""
import argparse
import json
import os
import struct

import numpy as np

SHAPES = {
    "llama2-7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                      rope_theta=10000.0, max_position_embeddings=4096),
    "llama3-8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=8, vocab_size=128256,
                      rope_theta=500000.0, max_position_embeddings=8192),
    "llama-100m": dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                       num_attention_heads=12, num_key_value_heads=12, vocab_size=32000,
                       rope_theta=10000.0, max_position_embeddings=2048,
                       tie_word_embeddings=True),
    "phi3-mini": dict(hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                      num_attention_heads=32, num_key_value_heads=32, vocab_size=32064,
                      rope_theta=10000.0, max_position_embeddings=4096, arch="phi3"),
}

ARCHS = {"llama": ("LlamaForCausalLM", "llama"), "phi3": ("Phi3ForCausalLM", "phi3")}


def tensor_list(c):
    h, i, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    d = h // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * d
    fused = c.get("arch", "llama") == "phi3"  # qkv_proj [q | k | v], gate_up_proj [gate | up]
    out = [("model.embed_tokens.weight", (v, h), False)]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        out += [(p + "input_layernorm.weight", (h,), True),
                (p + "post_attention_layernorm.weight", (h,), True)]
        if fused:
            out += [(p + "self_attn.qkv_proj.weight", (h + 2 * kv, h), False),
                    (p + "self_attn.o_proj.weight", (h, h), False),
                    (p + "mlp.gate_up_proj.weight", (2 * i, h), False),
                    (p + "mlp.down_proj.weight", (h, i), False)]
            continue
        out += [(p + "self_attn.q_proj.weight", (h, h), False),
                (p + "self_attn.k_proj.weight", (kv, h), False),
                (p + "self_attn.v_proj.weight", (kv, h), False),
                (p + "self_attn.o_proj.weight", (h, h), False),
                (p + "mlp.gate_proj.weight", (i, h), False),
                (p + "mlp.up_proj.weight", (i, h), False),
                (p + "mlp.down_proj.weight", (h, i), False)]
    out += [("model.norm.weight", (h,), True)]
    if not c.get("tie_word_embeddings", False):
        out += [("lm_head.weight", (v, h), False)]
    return out


def to_half_bits(x, dtype):
    if dtype == "f16":
        return x.astype(np.float16).view(np.uint16)
    u = x.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["bf16", "f16"], default="bf16")
    ap.add_argument("--layers", type=int, default=0, help="override num_hidden_layers")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    c = dict(SHAPES[a.shape])
    if a.layers > 0:
        c["num_hidden_layers"] = a.layers
    os.makedirs(a.out, exist_ok=True)
    c.setdefault("tie_word_embeddings", False)
    arch, model_type = ARCHS[c.pop("arch", "llama")]
    cfg = dict(architectures=[arch], model_type=model_type, rms_norm_eps=1e-5,
               hidden_act="silu", torch_dtype="bfloat16" if a.dtype == "bf16" else "float16", **c)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)

    rng = np.random.default_rng(a.seed)
    block = to_half_bits(rng.normal(0.0, 0.02, 32 << 20).astype(np.float32), a.dtype)
    one = to_half_bits(np.ones(1, np.float32), a.dtype)[0]
    tensors = tensor_list(dict(c, arch=SHAPES[a.shape].get("arch", "llama")))
    header, off = {}, 0
    for name, shape, _ in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16" if a.dtype == "bf16" else "F16", "shape": list(shape),
                        "data_offsets": [off, off + n]}
        off += n
    hb = json.dumps(header).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for name, shape, is_norm in tensors:
            n = int(np.prod(shape))
            if is_norm:
                f.write(np.full(n, one, np.uint16).tobytes())
                continue
            start = int(rng.integers(0, block.size))
            while n > 0:
                take = min(n, block.size - start)
                f.write(memoryview(block[start:start + take]))  # no copy
                n -= take
                start = 0
    print(f"{a.out}: {a.shape} {a.dtype}, {off / 2**30:.2f} GiB of weights")


if __name__ == "__main__":
    main()
