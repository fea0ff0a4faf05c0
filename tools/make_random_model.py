#!/usr/bin/env python3
"""Writes a LLaMA-shaped HF model folder with random bf16 weights, for benchmarks only.

Default shape (~110M parameters, 210 MiB): hidden 768, 12 layers, 12 heads (head_dim 64),
intermediate 2048, vocab 32000, tied input/output embeddings -- so every weight byte is read
once per decoded token and `lightllm bench decode`'s bandwidth bound (weight bytes / copy
bandwidth) is the real limit. No tokenizer: use token-id prompts. Never commit the output.

    python3 tools/make_random_model.py /tmp/random-100m [--layers 12 --hidden 768 ...]

Needs numpy. Weights ~ N(0, 0.02) (norms = 1), rounded to bf16 (round to nearest even).
"""
import argparse
import json
import os
import struct

import numpy as np


def to_bf16(x: np.ndarray) -> np.ndarray:
    """f32 -> bf16 bit patterns (uint16), round to nearest even."""
    u = x.astype(np.float32).view(np.uint32)
    rounded = u + 0x7FFF + ((u >> 16) & 1)
    return (rounded >> 16).astype(np.uint16)


def tensors(args, rng):
    h, inter, v = args.hidden, args.intermediate, args.vocab
    kv = args.kv_heads * (h // args.heads)
    yield "model.embed_tokens.weight", (v, h), False
    for i in range(args.layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,), True
        yield p + "self_attn.q_proj.weight", (h, h), False
        yield p + "self_attn.k_proj.weight", (kv, h), False
        yield p + "self_attn.v_proj.weight", (kv, h), False
        yield p + "self_attn.o_proj.weight", (h, h), False
        yield p + "post_attention_layernorm.weight", (h,), True
        yield p + "mlp.gate_proj.weight", (inter, h), False
        yield p + "mlp.up_proj.weight", (inter, h), False
        yield p + "mlp.down_proj.weight", (h, inter), False
    yield "model.norm.weight", (h,), True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--kv-heads", type=int, default=12)
    ap.add_argument("--intermediate", type=int, default=2048)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--context", type=int, default=2048)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.hidden % args.heads or args.heads % args.kv_heads:
        ap.error("hidden must be a multiple of heads, heads a multiple of kv-heads")

    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    header, blobs, offset, n_params = {}, [], 0, 0
    for name, shape, is_norm in tensors(args, rng):
        data = np.ones(shape, np.float32) if is_norm else rng.standard_normal(shape, np.float32) * 0.02
        raw = to_bf16(data).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
        n_params += data.size
    header["__metadata__"] = {"format": "pt"}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(os.path.join(args.out_dir, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)

    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": args.vocab,
        "hidden_size": args.hidden,
        "intermediate_size": args.intermediate,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "hidden_act": "silu",
        "max_position_embeddings": args.context,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": True,
        "torch_dtype": "bfloat16",
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    with open(os.path.join(args.out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    print(f"{args.out_dir}: {n_params / 1e6:.1f}M parameters, {offset / 2**20:.1f} MiB bf16")


if __name__ == "__main__":
    main()
