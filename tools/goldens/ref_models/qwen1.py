"""Qwen (v1) (QWenLMHeadModel, model_type qwen; the language half of Qwen-VL), re-written from
Qwen/Qwen-7B's modeling_qwen.py for inference:
  - transformer.wte -> per layer (transformer.h.N): ln_1 (RMSNorm) -> attn: c_attn (fused
    [q | k | v], each num_heads*kv_channels, with bias), RoPE rotate_half on the first
    kv_channels*rotary_pct dims (cos/sin and the rotation in f32), log-n scaling of q,
    softmax(q k^T / sqrt(head_dim)) causal, c_proj (bias unless no_bias) -> residual -> ln_2 ->
    mlp: c_proj(w1(x) * silu(w2(x)))  (w2 is the gate, w1 the up projection; each
    intermediate_size/2 wide) -> residual; transformer.ln_f; lm_head.
  - dynamic NTK (use_dynamic_ntk): at a forward without cache (the prompt), with T tokens,
    alpha = max(2^ceil(log2(T / seq_length) + 1) - 1, 1) and the RoPE base becomes
    rotary_emb_base * alpha^(d / (d - 2)) (d = rotary dims). Decoding steps keep the alpha of
    the prompt (HF caches it in rotary_emb._ntk_alpha_cached_list), so the keys in the cache
    and the new queries share one base per sequence.
  - log-n attention (use_logn_attn): the query at position p (0-based) is multiplied by
    log(p + 1) / log(seq_length) when p + 1 > seq_length (else 1); keys are not scaled.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .common import RMSNorm, causal_attention


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def ntk_alpha(true_seq_len, seq_length):
    context_value = math.log(true_seq_len / seq_length, 2) + 1
    return max(2 ** math.ceil(context_value) - 1, 1)


def logn_factors(start, t, seq_length):
    """[t] factors for positions start..start+t-1."""
    return torch.tensor([math.log(p + 1, seq_length) if p + 1 > seq_length else 1.0
                         for p in range(start, start + t)])


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh = c["num_attention_heads"]
        self.hd = c["kv_channels"]
        proj = self.nh * self.hd
        self.c_attn = nn.Linear(c["hidden_size"], 3 * proj, bias=True)
        self.c_proj = nn.Linear(proj, c["hidden_size"], bias=not c["no_bias"])
        self.rot = int(self.hd * c["rotary_pct"])
        self.base = c["rotary_emb_base"]
        self.seq_length = c["seq_length"]
        self.use_logn = c["use_logn_attn"]

    def forward(self, x, start, alpha, past):
        t = x.shape[1]
        q, k, v = self.c_attn(x).split(self.nh * self.hd, dim=-1)
        q, k, v = (z.view(1, t, self.nh, self.hd) for z in (q, k, v))  # [1, t, h, d]
        d = self.rot
        base = self.base * alpha ** (d / (d - 2))
        inv_freq = 1.0 / (base ** (torch.arange(0, d, 2).float() / d))
        freqs = torch.outer(torch.arange(start, start + t).float(), inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1).view(1, t, 1, d)
        cos, sin = emb.cos(), emb.sin()

        def rope(z):
            zf = z.float()
            zr, zp = zf[..., :d], zf[..., d:]
            return torch.cat([zr * cos + rotate_half(zr) * sin, zp], dim=-1).type_as(z)

        q, k = rope(q), rope(k)
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # [1, h, t, d]
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        if self.use_logn and k.shape[2] > self.seq_length:
            q = q * logn_factors(start, t, self.seq_length).view(1, t, 1, 1).type_as(q)
        ctx = causal_attention(q.transpose(1, 2), k, v, 1.0 / math.sqrt(self.hd))
        return self.c_proj(ctx), (k, v)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        f = c["intermediate_size"] // 2
        self.w1 = nn.Linear(c["hidden_size"], f, bias=not c["no_bias"])
        self.w2 = nn.Linear(c["hidden_size"], f, bias=not c["no_bias"])
        self.c_proj = nn.Linear(f, c["hidden_size"], bias=not c["no_bias"])

    def forward(self, x):
        return self.c_proj(self.w1(x) * F.silu(self.w2(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = RMSNorm(c["hidden_size"], c["layer_norm_epsilon"])
        self.attn = Attention(c)
        self.ln_2 = RMSNorm(c["hidden_size"], c["layer_norm_epsilon"])
        self.mlp = MLP(c)

    def forward(self, x, start, alpha, past):
        a, present = self.attn(self.ln_1(x), start, alpha, past)
        x = x + a
        return x + self.mlp(self.ln_2(x)), present


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.h = nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.ln_f = RMSNorm(c["hidden_size"], c["layer_norm_epsilon"])


class QWen(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config["hidden_size"], config["vocab_size"], bias=False)
        self._alpha = 1.0  # the prompt's NTK alpha, kept for decoding steps (as HF does)

    def forward(self, ids, past=None, want_hidden=False):
        c = self.config
        t = ids.shape[1]
        start = 0 if past is None else past[0][0].shape[2]
        if past is None:
            self._alpha = ntk_alpha(t, c["seq_length"]) if c["use_dynamic_ntk"] else 1.0
        x = self.transformer.wte(ids)
        hidden = {"embeddings": x[0], "layer_outputs": []} if want_hidden else None
        presents = []
        for i, block in enumerate(self.transformer.h):
            x, pr = block(x, start, self._alpha, None if past is None else past[i])
            presents.append(pr)
            if want_hidden:
                hidden["layer_outputs"].append(x[0])
        x = self.transformer.ln_f(x)
        if want_hidden:
            hidden["final_norm"] = x[0]
        return self.lm_head(x).float(), presents, hidden
