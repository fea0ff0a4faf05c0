#!/usr/bin/env python3
"""Trains the default LLaMA-architecture model on pre-tokenized uint16 token files.

Owns: the PyTorch model definition (LLaMA: RMSNorm, RoPE, SwiGLU, GQA, tied embeddings)
with parameter names identical to HF `LlamaForCausalLM`, the training loop and the
sharded bf16 safetensors it writes.

Invariants:
  * The math equals HF LlamaForCausalLM (rotate-half RoPE, RMSNorm in f32 then cast,
    no biases); `finalize.py` checks this against transformers on the CPU.
  * The learning-rate schedule is a function of elapsed wall-clock time (linear warm-up
    over --warmup steps, then cosine to --min-lr-ratio at --time-budget seconds), so the
    run always ends inside the device call's limit; the step count is recorded.
  * The saved weights are those with the lowest validation loss (checked every
    --eval-every steps and at the end), cast to bf16, split into shards <= 15 MiB.

Usage (GPU):  python3 train.py --data DIR --out DIR --time-budget 480
       (CPU smoke test): python3 train.py --data DIR --out DIR --tiny --max-steps 50
"""
import argparse
import csv
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_CONFIG = dict(vocab_size=8192, hidden_size=384, intermediate_size=1024,
                      num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2,
                      max_position_embeddings=512, rope_theta=10000.0, rms_norm_eps=1e-5)
TINY_CONFIG = dict(DEFAULT_CONFIG, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):  # [..., dim]
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rope_cos_sin(seq_len, head_dim, theta, device):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64, device=device)
                                .float() / head_dim))
    pos = torch.arange(seq_len, device=device).float()
    freqs = torch.outer(pos, inv_freq)  # [seq, head_dim/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [seq, head_dim]
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_heads, self.n_kv = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = c["hidden_size"] // self.n_heads
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(h, self.n_kv * self.head_dim, bias=False)
        self.v_proj = nn.Linear(h, self.n_kv * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, h, bias=False)

    def forward(self, x, cos, sin):  # x: [batch, seq, hidden]; cos/sin: [seq, head_dim]
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.n_heads // self.n_kv
        k = k.repeat_interleave(rep, dim=1)  # [b, n_heads, t, head_dim]
        v = v.repeat_interleave(rep, dim=1)
        y = F.scaled_dot_product_attention(q, k.to(q.dtype), v.to(q.dtype), is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, c, dropout):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, cos, sin):
        x = x + self.drop(self.self_attn(self.input_layernorm(x), cos, sin))
        return x + self.drop(self.mlp(self.post_attention_layernorm(x)))


class Inner(nn.Module):
    def __init__(self, c, dropout):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Block(c, dropout) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Llama(nn.Module):
    """LlamaForCausalLM-compatible: state_dict keys model.* and lm_head.weight (tied)."""

    def __init__(self, c, dropout=0.0):
        super().__init__()
        self.c = c
        self.model = Inner(c, dropout)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        self.lm_head.weight = self.model.embed_tokens.weight
        head_dim = c["hidden_size"] // c["num_attention_heads"]
        cos, sin = rope_cos_sin(c["max_position_embeddings"], head_dim, c["rope_theta"], "cpu")
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # scaled init of residual projections
            if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * c["num_hidden_layers"]))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids):  # ids: [batch, seq] -> logits [batch, seq, vocab]
        t = ids.shape[1]
        x = self.model.embed_tokens(ids)
        cos, sin = self.cos[:t].to(x.dtype), self.sin[:t].to(x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))


def n_params(model):
    return sum(p.numel() for p in model.parameters())  # tied weight counted once


def load_bin(path):
    return np.fromfile(path, dtype="<u2").astype(np.int64)


@torch.no_grad()
def evaluate(model, data, ctx, device, max_windows=None, bf16=True):
    """Mean NLL over non-overlapping windows of ctx tokens (each predicts ctx-1 tokens)."""
    model.eval()
    n_win = len(data) // ctx
    if max_windows:
        n_win = min(n_win, max_windows)
    total, count = 0.0, 0
    for start in range(0, n_win, 32):
        idx = torch.arange(start, min(start + 32, n_win))
        x = torch.stack([data[i * ctx:(i + 1) * ctx] for i in idx.tolist()]).to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                            enabled=bf16 and device.type == "cuda"):
            logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                               x[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += x[:, 1:].numel()
    model.train()
    return total / count


def save_sharded(state, out_dir, max_bytes=15 * 1024 * 1024):
    from safetensors.torch import save_file
    shards, cur, size = [], {}, 0
    for k, v in state.items():
        nbytes = v.numel() * v.element_size()
        if cur and size + nbytes > max_bytes:
            shards.append(cur)
            cur, size = {}, 0
        cur[k] = v.contiguous()
        size += nbytes
    shards.append(cur)
    names = []
    for i, sh in enumerate(shards):
        name = f"shard-{i:02d}.safetensors"
        save_file(sh, os.path.join(out_dir, name), metadata={"format": "pt"})
        names.append(name)
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiny", action="store_true", help="tiny config for the CPU smoke test")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--time-budget", type=float, default=480.0, help="seconds of training")
    ap.add_argument("--deadline", type=float, default=0.0,
                    help="seconds since start by which training must end (0: none)")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: none)")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    script_start = time.time()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    cfg = dict(TINY_CONFIG if args.tiny else DEFAULT_CONFIG)
    ctx = cfg["max_position_embeddings"]
    os.makedirs(args.out, exist_ok=True)

    train = torch.from_numpy(load_bin(os.path.join(args.data, "train.bin"))).to(device)
    val = torch.from_numpy(load_bin(os.path.join(args.data, "val.bin")))
    assert int(train.max()) < cfg["vocab_size"], "token id beyond vocab"
    model = Llama(cfg, dropout=args.dropout).to(device)
    print(f"device {device} params {n_params(model)} train tokens {len(train)}", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                            fused=device.type == "cuda")
    fwd = torch.compile(model) if args.compile else model

    def loss_fn(x):
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                            enabled=device.type == "cuda"):
            logits = fwd(x[:, :-1])
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))

    offsets = torch.arange(ctx + 1, device=device)
    log_rows, best = [], (float("inf"), None, 0)
    step, tokens, t0, train_time = 0, 0, None, 0.0
    smoothed = None
    while True:
        idx = torch.randint(0, len(train) - ctx - 1, (args.batch,), device=device)
        x = train[idx[:, None] + offsets]
        if t0 is None:
            t_first = time.time()
        frac = 0.0 if t0 is None else min(1.0, (time.time() - t0) / args.time_budget)
        if args.max_steps:
            frac = max(frac, step / args.max_steps)
        lr_scale = args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac))
        lr_scale *= min(1.0, (step + 1) / args.warmup)
        for g in opt.param_groups:
            g["lr"] = args.lr * lr_scale
        try:
            loss = loss_fn(x)
        except Exception as e:  # torch.compile trouble: fall back to eager, once
            if fwd is model:
                raise
            print(f"torch.compile failed ({type(e).__name__}: {e}); running eager", flush=True)
            fwd = model
            loss = loss_fn(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x[:, 1:].numel()
        if t0 is None:  # start the clock after the first (compiling) step
            loss.item()
            t0 = time.time()
            print(f"first step took {t0 - t_first:.1f}s", flush=True)
            if args.deadline:  # leave ~40 s for the final eval, save and cross-check
                args.time_budget = min(args.time_budget, args.deadline - (t0 - script_start) - 40)
                print(f"time budget {args.time_budget:.0f}s", flush=True)
        done = frac >= 1.0 or (args.max_steps and step >= args.max_steps)
        if step % args.log_every == 0 or done:
            lv = loss.item()
            smoothed = lv if smoothed is None else 0.9 * smoothed + 0.1 * lv
            row = {"step": step, "tokens": tokens, "train_loss": round(lv, 4),
                   "val_loss": "", "lr": round(args.lr * lr_scale, 6),
                   "elapsed_s": round(time.time() - t0, 1)}
            if step % args.eval_every == 0 or done:
                vl = evaluate(model, val, ctx, device)
                row["val_loss"] = round(vl, 4)
                if vl < best[0]:
                    best = (vl, {k: v.detach().to("cpu", torch.bfloat16).clone()
                                 for k, v in model.state_dict().items()}, step)
            log_rows.append(row)
            print(row, flush=True)
        if done:
            break
    train_time = time.time() - t0

    with open(os.path.join(args.out, "train_log.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(log_rows[0].keys()))
        w.writeheader()
        w.writerows(log_rows)
    state = best[1]
    state.pop("lm_head.weight", None)  # tied to model.embed_tokens.weight
    shards = save_sharded(state, args.out)
    # Cross-check: val/test loss of the saved bf16 weights, f32 compute.
    torch.backends.cuda.matmul.allow_tf32 = False  # true f32 for the cross-check
    torch.backends.cudnn.allow_tf32 = False
    ref = Llama(cfg).to(device).float()
    ref.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    ref.lm_head.weight = ref.model.embed_tokens.weight
    test = torch.from_numpy(load_bin(os.path.join(args.data, "test.bin")))
    test_nll = evaluate(ref, test, ctx, device, max_windows=32, bf16=False)
    summary = {"config": cfg, "params": n_params(model), "steps": step, "tokens_seen": tokens,
               "train_time_s": round(train_time, 1), "best_step": best[2],
               "best_val_loss": best[0], "final_train_loss": log_rows[-1]["train_loss"],
               "test_nll_32x512_f32": test_nll, "test_ppl_32x512_f32": math.exp(test_nll),
               "shards": shards, "args": vars(args), "torch": torch.__version__,
               "device_name": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
