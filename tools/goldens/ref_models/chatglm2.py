"""ChatGLM2-6B / ChatGLM3-6B (architectures: ChatGLMModel, model_type chatglm), re-written from
THUDM's modeling_chatglm.py (ChatGLMForConditionalGeneration) for inference:
  - embedding: transformer.embedding.word_embeddings
  - per layer (transformer.encoder.layers.N): input_layernorm (RMSNorm) -> self_attention:
    query_key_value (fused, bias when add_qkv_bias) split as [q: heads*kv_channels |
    k: groups*kv_channels | v: groups*kv_channels] (multi-query groups), rotary on the first
    half of each head in interleaved pairs (x[2i], x[2i+1]), base 10000 * rope_ratio, the
    frequencies of a head_dim/2 rotary (theta_i = base^(-2i/(head_dim/2))), cos/sin cached in the
    model dtype; softmax(q k^T / sqrt(kv_channels)) causal; dense (no bias unless
    add_bias_linear) -> residual -> post_attention_layernorm -> mlp: dense_h_to_4h (fused
    [gate | up], 2*ffn_hidden_size rows) -> silu(gate) * up -> dense_4h_to_h -> residual
  - transformer.encoder.final_layernorm (post_layer_norm) -> transformer.output_layer.
Positions are 0..T-1 (no 2D GLM positions in v2/v3). rmsnorm: false (LayerNorm) and
apply_residual_connection_post_layernorm: true are not modelled (no published v2/v3 uses them).
The checkpoint also holds transformer.rotary_pos_emb.inv_freq (a buffer, unused by forward)."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .common import RMSNorm, causal_attention


def rope_cache(seq_len, rot_dim, base, dtype):
    """[seq_len, rot_dim/2, 2] (cos, sin), as RotaryEmbedding.forward_impl builds it."""
    theta = 1.0 / (base ** (torch.arange(0, rot_dim, 2, dtype=torch.float) / rot_dim))
    idx_theta = torch.outer(torch.arange(seq_len, dtype=torch.float), theta).float()
    cache = torch.stack([torch.cos(idx_theta), torch.sin(idx_theta)], dim=-1)
    if dtype in (torch.float16, torch.bfloat16):
        cache = cache.to(dtype)
    return cache


def apply_rope(x, cache):
    """x: [T, heads, head_dim]; cache: [T, rot/2, 2]. Rotates the first `rot` dims of each head
    in adjacent pairs; the rest pass through."""
    t, nh, _ = x.shape
    rot = cache.shape[-2] * 2
    xr, xpass = x[..., :rot], x[..., rot:]
    xs = xr.reshape(t, nh, rot // 2, 2)
    c = cache.view(t, 1, rot // 2, 2)
    out = torch.stack([xs[..., 0] * c[..., 0] - xs[..., 1] * c[..., 1],
                       xs[..., 1] * c[..., 0] + xs[..., 0] * c[..., 1]], dim=-1)
    return torch.cat([out.flatten(2), xpass], dim=-1)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.ng, self.hd = c["num_attention_heads"], c["multi_query_group_num"], c["kv_channels"]
        qkv = (self.nh + 2 * self.ng) * self.hd
        self.query_key_value = nn.Linear(c["hidden_size"], qkv,
                                         bias=c["add_bias_linear"] or c["add_qkv_bias"])
        self.dense = nn.Linear(self.nh * self.hd, c["hidden_size"], bias=c["add_bias_linear"])

    def forward(self, x, cache, past):
        t = x.shape[1]
        mixed = self.query_key_value(x)[0]
        q, k, v = mixed.split([self.nh * self.hd, self.ng * self.hd, self.ng * self.hd], dim=-1)
        q = apply_rope(q.view(t, self.nh, self.hd), cache)
        k = apply_rope(k.view(t, self.ng, self.hd), cache)
        v = v.view(t, self.ng, self.hd)
        k, v = k.transpose(0, 1)[None], v.transpose(0, 1)[None]  # [1, ng, t, hd]
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        ctx = causal_attention(q.transpose(0, 1)[None], k, v, 1.0 / math.sqrt(self.hd))
        return self.dense(ctx), (k, v)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        f = c["ffn_hidden_size"]
        self.dense_h_to_4h = nn.Linear(c["hidden_size"], 2 * f, bias=c["add_bias_linear"])
        self.dense_4h_to_h = nn.Linear(f, c["hidden_size"], bias=c["add_bias_linear"])

    def forward(self, x):
        gate, up = torch.chunk(self.dense_h_to_4h(x), 2, dim=-1)
        return self.dense_4h_to_h(F.silu(gate) * up)


class GLMBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        eps = c["layernorm_epsilon"]
        self.input_layernorm = RMSNorm(c["hidden_size"], eps, multiply_in_f32=True)
        self.self_attention = SelfAttention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], eps, multiply_in_f32=True)
        self.mlp = MLP(c)

    def forward(self, x, cache, past):
        a, present = self.self_attention(self.input_layernorm(x), cache, past)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class Embedding(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["padded_vocab_size"], c["hidden_size"])


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([GLMBlock(c) for _ in range(c["num_layers"])])
        self.final_layernorm = RMSNorm(c["hidden_size"], c["layernorm_epsilon"], multiply_in_f32=True)


class RotaryBuffer(nn.Module):
    def __init__(self, c):
        super().__init__()
        dim = c["kv_channels"] // 2
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, dim, 2).float() / dim)))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embedding = Embedding(c)
        self.rotary_pos_emb = RotaryBuffer(c)
        self.encoder = Encoder(c)
        self.output_layer = nn.Linear(c["hidden_size"], c["padded_vocab_size"], bias=False)


class ChatGLM(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.get("rmsnorm", True) and config.get("post_layer_norm", True)
        assert not config.get("apply_residual_connection_post_layernorm", False)
        self.config = config
        self.transformer = Transformer(config)

    def forward(self, ids, past=None, want_hidden=False):
        c, tr = self.config, self.transformer
        t = ids.shape[1]
        start = 0 if past is None else past[0][0].shape[2]
        base = 10000.0 * c.get("rope_ratio", 1.0)
        x = tr.embedding.word_embeddings(ids)
        dtype = x.dtype
        cache = rope_cache(c["seq_length"], c["kv_channels"] // 2, base, dtype)[start:start + t]
        hidden = {"embeddings": x[0], "layer_outputs": []} if want_hidden else None
        presents = []
        for i, layer in enumerate(tr.encoder.layers):
            x, pr = layer(x, cache, None if past is None else past[i])
            presents.append(pr)
            if want_hidden:
                hidden["layer_outputs"].append(x[0])
        x = tr.encoder.final_layernorm(x)
        if want_hidden:
            hidden["final_norm"] = x[0]
        return tr.output_layer(x).float(), presents, hidden
