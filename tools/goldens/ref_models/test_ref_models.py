"""Invariants of the reference models (run: python3 -m pytest tools/goldens/ref_models -q).
Needs torch + transformers (dev machines only, like make_goldens.py)."""
import math

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from .chatglm2 import ChatGLM, apply_rope, rope_cache
from .common import randomize
from .minicpm import MiniCPM
from .qwen1 import QWen

torch.manual_seed(0)
IDS = torch.randint(0, 100, (1, 23))

GLM = dict(num_layers=2, padded_vocab_size=100, hidden_size=64, kv_channels=16,
           num_attention_heads=4, multi_query_group_num=2, ffn_hidden_size=96,
           layernorm_epsilon=1e-5, seq_length=64, add_qkv_bias=True, add_bias_linear=False)
CPM = dict(vocab_size=100, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
           num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=10000.0,
           tie_word_embeddings=True)
QW = dict(vocab_size=100, hidden_size=64, kv_channels=16, num_attention_heads=4,
          intermediate_size=192, num_hidden_layers=2, layer_norm_epsilon=1e-6, rotary_pct=1.0,
          rotary_emb_base=10000.0, seq_length=8, no_bias=True, use_dynamic_ntk=False,
          use_logn_attn=False)


def build(cls, cfg, seed=1):
    m = cls(cfg)
    randomize(m, torch.Generator().manual_seed(seed))
    return m.eval()


def test_chatglm_rope_matches_explicit_pair_rotation():
    hd, t, nh = 16, 7, 3
    x = torch.randn(t, nh, hd)
    out = apply_rope(x, rope_cache(32, hd // 2, 10000.0, torch.float32)[:t])
    want = x.clone()
    for p in range(t):
        for i in range(hd // 4):  # hd/2 rotated dims = hd/4 pairs
            ang = p * 10000.0 ** (-2 * i / (hd // 2))
            a, b = x[p, :, 2 * i], x[p, :, 2 * i + 1]
            want[p, :, 2 * i] = a * math.cos(ang) - b * math.sin(ang)
            want[p, :, 2 * i + 1] = b * math.cos(ang) + a * math.sin(ang)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    assert torch.equal(out[..., hd // 2:], x[..., hd // 2:])  # second half untouched


def llama_from(cfg_kwargs, mapping):
    lm = LlamaForCausalLM(LlamaConfig(**cfg_kwargs)).eval()
    with torch.no_grad():
        sd = lm.state_dict()
        for k in sd:
            if k.endswith("rotary_emb.inv_freq"):
                continue
            sd[k].copy_(mapping(k, sd[k]))
    return lm


def test_minicpm_with_neutral_scales_is_llama():
    cfg = dict(CPM, scale_emb=1.0, scale_depth=math.sqrt(2), dim_model_base=64)
    m = build(MiniCPM, cfg)
    msd = m.state_dict()
    lm = llama_from(dict(CPM, max_position_embeddings=64), lambda k, v: msd[k])
    with torch.no_grad():
        torch.testing.assert_close(m(IDS)[0], lm(IDS).logits, rtol=1e-5, atol=1e-5)
        # and the scales do matter
        m2 = MiniCPM(dict(cfg, scale_emb=12.0, scale_depth=1.4, dim_model_base=16)).eval()
        m2.load_state_dict(msd)
        assert (m2(IDS)[0] - lm(IDS).logits).abs().max() > 1e-2


def test_qwen1_without_ntk_and_logn_is_llama_with_qkv_bias():
    m = build(QWen, QW)
    sd = m.state_dict()
    p = 64

    def mapping(k, v):
        if k == "model.embed_tokens.weight":
            return sd["transformer.wte.weight"]
        if k == "model.norm.weight":
            return sd["transformer.ln_f.weight"]
        if k == "lm_head.weight":
            return sd["lm_head.weight"]
        i = k.split(".")[2]
        pre = f"transformer.h.{i}."
        for j, n in enumerate("qkv"):
            if k.endswith(f"{n}_proj.weight"):
                return sd[pre + "attn.c_attn.weight"][j * p:(j + 1) * p]
            if k.endswith(f"{n}_proj.bias"):
                return sd[pre + "attn.c_attn.bias"][j * p:(j + 1) * p]
        table = {"self_attn.o_proj.weight": "attn.c_proj.weight", "mlp.gate_proj.weight": "mlp.w2.weight",
                 "mlp.up_proj.weight": "mlp.w1.weight", "mlp.down_proj.weight": "mlp.c_proj.weight",
                 "input_layernorm.weight": "ln_1.weight", "post_attention_layernorm.weight": "ln_2.weight"}
        for suffix, name in table.items():
            if k.endswith(suffix):
                return sd[pre + name]
        if k.endswith("o_proj.bias"):
            return torch.zeros_like(v)
        raise KeyError(k)

    lm = llama_from(dict(vocab_size=100, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, rms_norm_eps=1e-6,
                         max_position_embeddings=64, attention_bias=True), mapping)
    with torch.no_grad():
        torch.testing.assert_close(m(IDS)[0], lm(IDS).logits, rtol=1e-5, atol=1e-5)


def test_qwen1_logn_only_changes_positions_beyond_seq_length():
    m = build(QWen, QW)
    m2 = QWen(dict(QW, use_logn_attn=True)).eval()
    m2.load_state_dict(m.state_dict())
    with torch.no_grad():
        d = (m(IDS)[0] - m2(IDS)[0]).abs().amax(-1)[0]
    assert d[:8].max() == 0 and d[8:].min() > 1e-4


def test_qwen1_ntk_alpha_from_prompt_length():
    from .qwen1 import ntk_alpha
    assert [ntk_alpha(n, 16) for n in (1, 16, 17, 32, 33, 40, 64, 65)] == [1, 1, 3, 3, 7, 7, 7, 15]


def cached_equals_full(model):
    with torch.no_grad():
        full = model(IDS)[0]
        logits, past, _ = model(IDS[:, :10])
        rows = [logits[0]]
        for j in range(10, IDS.shape[1]):
            logits, past, _ = model(IDS[:, j:j + 1], past)
            rows.append(logits[0])
    torch.testing.assert_close(torch.cat(rows), full[0], rtol=1e-5, atol=1e-5)


def test_kv_cached_decoding_equals_full_forward():
    cached_equals_full(build(ChatGLM, GLM))
    cached_equals_full(build(MiniCPM, dict(CPM, scale_emb=12.0, scale_depth=1.4, dim_model_base=16)))
    cached_equals_full(build(QWen, dict(QW, use_logn_attn=True)))
