#!/usr/bin/env python3
"""Converts a llama2.c legacy export (e.g. stories260K.bin) into a HuggingFace LlamaForCausalLM
folder: config.json + model.safetensors (f32) + generation_config.json.

Standard library only (struct, json, array): it runs in CI, where tests convert the shared
stories260K weights into the build folder.

    python3 tools/convert_llama2c.py IN.bin OUT_DIR [--max-position-embeddings N]

llama2.c legacy format (karpathy/llama2.c export.py legacy_export): 7 int32 header
  dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
(vocab_size > 0: the classifier is shared with the token embeddings; < 0: a separate wcls
follows at the end), then f32 tensors, each torch Linear weight as [out, in] row-major:
  tok_embeddings [vocab, dim]; per layer (all layers of one kind, then the next kind):
  attention_norm [dim], wq [dim, dim], wk [kv_dim, dim], wv [kv_dim, dim], wo [dim, dim],
  ffn_norm [dim], w1 [hidden, dim], w2 [dim, hidden], w3 [hidden, dim];
  norm [dim]; freqs_cos, freqs_sin [seq_len, head_dim/2] (ignored); [wcls [vocab, dim]].

llama2.c rotates interleaved pairs (x0,x1),(x2,x3)...; HF Llama rotates halves
(x[i], x[i + head_dim/2]). Like transformers' convert_llama_weights_to_hf.py, the rows of wq
and wk are permuted per head so that HF's rotation computes the same attention.
"""
import argparse
import array
import json
import os
import struct
import sys

HEADER = struct.Struct("<7i")


def read_f32(f, n, what):
    a = array.array("f")
    try:
        a.fromfile(f, n)
    except EOFError:
        raise SystemExit(f"error: {f.name}: file ends inside {what} ({n} floats expected)")
    if sys.byteorder != "little":
        a.byteswap()
    return a


def permute_rotary(w, n_heads, rows, cols):
    """Reorders rows of a [rows, cols] matrix (rows = n_heads * head_dim): within each head,
    row 2*i + j moves to j * head_dim/2 + i (interleaved pairs -> halves)."""
    head_dim = rows // n_heads
    half = head_dim // 2
    out = array.array("f", bytes(4 * rows * cols))
    for h in range(n_heads):
        for i in range(half):
            for j in range(2):
                src = (h * head_dim + 2 * i + j) * cols
                dst = (h * head_dim + j * half + i) * cols
                out[dst:dst + cols] = w[src:src + cols]
    return out


def write_safetensors(path, tensors):
    """tensors: list of (name, shape, array('f')) written as F32, in order."""
    header, offset = {}, 0
    for name, shape, data in tensors:
        n = 1
        for d in shape:
            n *= d
        assert len(data) == n, (name, shape, len(data))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)  # data section 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, data in tensors:
            if sys.byteorder != "little":
                data = array.array("f", data)
                data.byteswap()
            data.tofile(f)


def convert(src, out_dir, max_pos=None):
    with open(src, "rb") as f:
        raw = f.read(HEADER.size)
        if len(raw) != HEADER.size:
            raise SystemExit(f"error: {src}: shorter than the 28-byte llama2.c header")
        dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = HEADER.unpack(raw)
        shared = vocab > 0
        vocab = abs(vocab)
        if min(dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len) <= 0 or \
                dim % n_heads or n_heads % n_kv_heads or (dim // n_heads) % 2:
            raise SystemExit(f"error: {src}: implausible header {dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len}")
        head_dim = dim // n_heads
        kv_dim = n_kv_heads * head_dim

        def per_layer(what, rows, cols=1):
            flat = read_f32(f, n_layers * rows * cols, what)
            return [flat[l * rows * cols:(l + 1) * rows * cols] for l in range(n_layers)]

        emb = read_f32(f, vocab * dim, "tok_embeddings")
        att_norm = per_layer("attention_norm", dim)
        wq = per_layer("wq", dim, dim)
        wk = per_layer("wk", kv_dim, dim)
        wv = per_layer("wv", kv_dim, dim)
        wo = per_layer("wo", dim, dim)
        ffn_norm = per_layer("ffn_norm", dim)
        w1 = per_layer("w1", hidden, dim)
        w2 = per_layer("w2", dim, hidden)
        w3 = per_layer("w3", hidden, dim)
        norm = read_f32(f, dim, "norm")
        read_f32(f, 2 * seq_len * head_dim // 2, "freqs_cos/freqs_sin")
        wcls = None if shared else read_f32(f, vocab * dim, "wcls")

    tensors = [("model.embed_tokens.weight", (vocab, dim), emb)]
    for l in range(n_layers):
        p = f"model.layers.{l}."
        tensors += [
            (p + "input_layernorm.weight", (dim,), att_norm[l]),
            (p + "self_attn.q_proj.weight", (dim, dim), permute_rotary(wq[l], n_heads, dim, dim)),
            (p + "self_attn.k_proj.weight", (kv_dim, dim),
             permute_rotary(wk[l], n_kv_heads, kv_dim, dim)),
            (p + "self_attn.v_proj.weight", (kv_dim, dim), wv[l]),
            (p + "self_attn.o_proj.weight", (dim, dim), wo[l]),
            (p + "post_attention_layernorm.weight", (dim,), ffn_norm[l]),
            (p + "mlp.gate_proj.weight", (hidden, dim), w1[l]),
            (p + "mlp.down_proj.weight", (dim, hidden), w2[l]),
            (p + "mlp.up_proj.weight", (hidden, dim), w3[l]),
        ]
    tensors.append(("model.norm.weight", (dim,), norm))
    if wcls is not None:
        tensors.append(("lm_head.weight", (vocab, dim), wcls))

    os.makedirs(out_dir, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab,
        "hidden_size": dim,
        "intermediate_size": hidden,
        "num_hidden_layers": n_layers,
        "num_attention_heads": n_heads,
        "num_key_value_heads": n_kv_heads,
        "max_position_embeddings": max_pos or seq_len,
        "rms_norm_eps": 1e-5,  # llama2.c run.c rmsnorm
        "rope_theta": 10000.0,  # llama2.c model.py precompute_freqs_cis default
        "hidden_act": "silu",
        "tie_word_embeddings": shared,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=2)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)
    return config


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src")
    ap.add_argument("out_dir")
    ap.add_argument("--max-position-embeddings", type=int, default=None)
    a = ap.parse_args()
    c = convert(a.src, a.out_dir, a.max_position_embeddings)
    print(f"wrote {a.out_dir}: {c['num_hidden_layers']} layers, dim {c['hidden_size']}, "
          f"vocab {c['vocab_size']}, tied {c['tie_word_embeddings']}")


if __name__ == "__main__":
    main()
