"""MiniCPM (MiniCPMForCausalLM, model_type minicpm), re-written from openbmb's
modeling_minicpm.py for inference. It is LLaMA (RMSNorm, RoPE rotate_half, GQA, SwiGLU with
gate_proj/up_proj/down_proj, tensor names model.layers.N...) with three scalings:
  - embeddings:  h0 = embed_tokens(ids) * scale_emb
  - residuals:   h = h + sublayer(norm(h)) * (scale_depth / sqrt(num_hidden_layers))
  - logits:      lm_head(final_norm(h) / (hidden_size / dim_model_base))
and tie_word_embeddings (MiniCPM-2B ties lm_head to embed_tokens). Only the default RoPE is
modelled (no rope_scaling)."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .common import RMSNorm, causal_attention


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.hd = c["hidden_size"] // self.nh
        self.theta = c.get("rope_theta", 10000.0)
        bias = c.get("attention_bias", False)
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.nh * self.hd, bias=bias)
        self.k_proj = nn.Linear(h, self.nkv * self.hd, bias=bias)
        self.v_proj = nn.Linear(h, self.nkv * self.hd, bias=bias)
        self.o_proj = nn.Linear(self.nh * self.hd, h, bias=bias)

    def forward(self, x, start, past):
        t = x.shape[1]
        q = self.q_proj(x).view(1, t, self.nh, self.hd).transpose(1, 2)
        k = self.k_proj(x).view(1, t, self.nkv, self.hd).transpose(1, 2)
        v = self.v_proj(x).view(1, t, self.nkv, self.hd).transpose(1, 2)
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2).float() / self.hd))
        freqs = torch.outer(torch.arange(start, start + t).float(), inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        return self.o_proj(causal_attention(q, k, v, 1.0 / math.sqrt(self.hd))), (k, v)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.depth_scale = c["scale_depth"] / math.sqrt(c["num_hidden_layers"])

    def forward(self, x, start, past):
        a, present = self.self_attn(self.input_layernorm(x), start, past)
        x = x + a * self.depth_scale
        x = x + self.mlp(self.post_attention_layernorm(x)) * self.depth_scale
        return x, present


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class MiniCPM(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.get("rope_scaling") is None, "rope_scaling is not modelled"
        self.config = config
        self.model = Inner(config)
        self.lm_head = nn.Linear(config["hidden_size"], config["vocab_size"], bias=False)
        if config.get("tie_word_embeddings", True):
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids, past=None, want_hidden=False):
        c = self.config
        start = 0 if past is None else past[0][0].shape[2]
        x = self.model.embed_tokens(ids) * c["scale_emb"]
        hidden = {"embeddings": x[0], "layer_outputs": []} if want_hidden else None
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, pr = layer(x, start, None if past is None else past[i])
            presents.append(pr)
            if want_hidden:
                hidden["layer_outputs"].append(x[0])
        x = self.model.norm(x)
        if want_hidden:
            hidden["final_norm"] = x[0]
        logits = self.lm_head(x / (c["hidden_size"] / c["dim_model_base"]))
        return logits.float(), presents, hidden
