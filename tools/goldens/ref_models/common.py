"""Pieces shared by the reference models: RMSNorm as the published files write it, causal
attention over a KV cache, and a greedy decoder that mirrors HF generate() with a KV cache.

Every model's forward(ids [1, T], past=None, want_hidden=False) returns
(logits [1, T, vocab] f32, past, hidden) where hidden = {embeddings, layer_outputs, final_norm}
(each [T, hidden]) when want_hidden, else None. `past` is a list of (k, v) per layer,
k/v: [1, n_kv_heads, seq, head_dim] in the model dtype."""
import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) with the statistics in f32. Qwen and MiniCPM cast the
    normalized x back to the input dtype and then multiply by weight (in that dtype);
    ChatGLM (multiply_in_f32) multiplies in f32 and casts the product."""

    def __init__(self, dim, eps, multiply_in_f32=False):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps
        self.multiply_in_f32 = multiply_in_f32

    def forward(self, x):
        dt = x.dtype
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.multiply_in_f32:
            return (self.weight * h).to(dt)
        return h.to(dt) * self.weight


def causal_attention(q, k, v, scale):
    """q: [1, H, Tq, D]; k, v: [1, Hkv, Tk, D] (the last Tq keys are the queries' own
    positions). Causal softmax(q k^T * scale) v with the softmax in f32; returns [1, Tq, H*D]."""
    h, hkv = q.shape[1], k.shape[1]
    if hkv != h:
        k = k.repeat_interleave(h // hkv, dim=1)
        v = v.repeat_interleave(h // hkv, dim=1)
    tq, tk = q.shape[2], k.shape[2]
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    qpos = torch.arange(tk - tq, tk).view(-1, 1)
    kpos = torch.arange(tk).view(1, -1)
    scores = scores.masked_fill(kpos > qpos, torch.finfo(scores.dtype).min)
    probs = F.softmax(scores.float(), dim=-1).to(q.dtype)
    out = torch.matmul(probs, v)  # [1, H, Tq, D]
    return out.transpose(1, 2).reshape(1, tq, -1)


def randomize(model, gen, embed_std=0.1):
    """Unit-scale activations: Linear weights N(0, 1/fan_in), embeddings N(0, embed_std),
    norm weights 1 + N(0, 0.2), biases N(0, 0.1) (random norms/biases so forgetting one shows)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.Linear):
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) / mod.weight.shape[1] ** 0.5)
                if mod.bias is not None:
                    mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=gen))
            elif isinstance(mod, nn.Embedding):
                mod.weight.copy_(embed_std * torch.randn(mod.weight.shape, generator=gen))
            elif isinstance(mod, RMSNorm):
                mod.weight.copy_(1.0 + 0.2 * torch.randn(mod.weight.shape, generator=gen))


@torch.no_grad()
def greedy(model, ids, n_new):
    """KV-cached greedy decoding of one prompt (EOS ignored), as generate(do_sample=False):
    one prefill forward, then one forward per new token. Returns (tokens, top1-top2 margins)."""
    logits, past, _ = model(torch.tensor([ids]))
    out, margins = [], []
    for step in range(n_new):
        last = logits[0, -1].float()
        top = torch.topk(last, 2).values
        margins.append(float("%.4g" % (top[0] - top[1]).item()))
        nxt = int(torch.argmax(last))
        out.append(nxt)
        if step + 1 < n_new:
            logits, past, _ = model(torch.tensor([[nxt]]), past)
    return out, margins
