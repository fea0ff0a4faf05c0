#!/usr/bin/env python3
"""Builds tiny random-weight HF models and their reference outputs for the C++ model tests.

For each variant and dtype (f32, bf16) it writes tests/data/models/<variant>-<dtype>/:
  config.json, generation_config.json, model.safetensors   (as save_pretrained writes them;
                                                           bf16 models are stored in bf16)
  golden.json   reference outputs computed by transformers on the CPU (see README.md)

Run from the repository root:  python3 tools/goldens/make_goldens.py [--out tests/data/models]
Deterministic: fixed seeds; rerunning with the same torch/transformers versions gives the same
files. Needs torch + transformers (see README.md for the versions used).
"""
import argparse
import copy
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file
from transformers import (BloomConfig, BloomForCausalLM, CohereConfig, CohereForCausalLM,
                          GPTBigCodeConfig, GPTBigCodeForCausalLM, LlamaConfig, LlamaForCausalLM,
                          MistralConfig, MistralForCausalLM, Phi3Config, Phi3ForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM, StableLmConfig, StableLmForCausalLM)

from transformers.models.stablelm.modeling_stablelm import StableLmPreTrainedModel

_stablelm_init = StableLmPreTrainedModel._init_weights


def _stablelm_init_no_bias(self, module):
    """transformers 4.57's StableLM init zeroes LayerNorm biases, which the bias-free per-head
    q/k norms (qk_layernorm) do not have; randomize() overwrites every weight anyway."""
    if isinstance(module, torch.nn.LayerNorm) and module.bias is None:
        module.weight.data.fill_(1.0)
        return
    _stablelm_init(self, module)


StableLmPreTrainedModel._init_weights = _stablelm_init_no_bias

PROMPT_LENGTHS = [5, 1, 17, 40]  # the first prompt also gets per-layer hidden states
HIDDEN_PROMPT = 0
NEW_TOKENS = 32
VOCAB = 512
BOS, EOS = 1, 2

# Shared tiny shapes: hidden 64, 2 layers, 4 query heads, 2 kv heads (GQA), head_dim 16.
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
              rms_norm_eps=1e-5, rope_theta=10000.0, bos_token_id=BOS, eos_token_id=EOS,
              tie_word_embeddings=False, initializer_range=0.08, hidden_act="silu")


def llama(**over):
    return LlamaForCausalLM(LlamaConfig(**{**COMMON, **over}))


def variants():
    """name -> (builder of the f32 model, note[, overrides]); overrides: {"prompt_lengths"}."""
    return {
        "llama": (lambda: llama(), "Llama GQA 4/2 heads"),
        # The RoPE variants (and Qwen2, like Qwen2-0.5B) tie lm_head to the embeddings: it keeps
        # tests/data small and covers tie_word_embeddings.
        "llama-rope-linear": (
            lambda: llama(tie_word_embeddings=True,
                          rope_scaling={"rope_type": "linear", "factor": 2.0}),
            "linear RoPE scaling, factor 2 (positions divided by 2)"),
        "llama-rope-dynamic": (
            lambda: llama(max_position_embeddings=16, tie_word_embeddings=True,
                          rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
            "dynamic NTK RoPE, factor 2, max_position_embeddings 16: prompts longer than 16 "
            "recompute the base from the current length (see README)"),
        "llama-rope-llama3": (
            lambda: llama(tie_word_embeddings=True,
                          rope_scaling={"rope_type": "llama3", "factor": 4.0,
                                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 16}),
            "Llama-3 RoPE scaling, factor 4, low 1, high 4, original_max 16"),
        "mistral": (
            lambda: MistralForCausalLM(MistralConfig(**{**COMMON, "sliding_window": 6})),
            "Mistral, sliding_window 6: position i attends to positions (i-6, i]"),
        "qwen2": (
            lambda: Qwen2ForCausalLM(
                Qwen2Config(**{**COMMON, "tie_word_embeddings": True}, use_sliding_window=False)),
            "Qwen2: q/k/v bias, no o bias, tied embeddings"),
        "internlm": (build_internlm_as_llama,
                     "InternLM v1 (bias: true): q/k/v/o bias, MHA (4 heads); built as "
                     "LlamaForCausalLM(attention_bias=True), saved with InternLM's config keys"),
        **family_variants(),
        # Last, so that the seeds (by position) of the variants above stay as they were.
        # Tensor parallelism up to 8 ranks (tests/models/tp_test.cpp): 8 query heads of 16 (the
        # smallest head_dim the CUDA attention kernels take), KV heads split at 2 ranks and
        # replicated beyond.
        "llama-tp8": (lambda: llama(num_attention_heads=8, num_key_value_heads=2, hidden_size=128,
                                    head_dim=16),
                      "Llama GQA 8/2 heads of head_dim 16 (tensor-parallel tests up to 8 ranks)"),
    }


# Families transformers has natively (issue 9). Same tiny scale; each variant turns on the
# features its family is known for, and check_feature_matters proves each one changes logits.
LONGROPE_ORIG = 48  # phi3-longrope: prompts of 49 and 60 run beyond it (long factors)


def family_variants():
    common = dict(vocab_size=VOCAB, bos_token_id=BOS, eos_token_id=EOS, initializer_range=0.08)
    decoder = dict(COMMON, pad_token_id=0)
    del decoder["rms_norm_eps"]
    g = torch.Generator().manual_seed(77)
    half = 8  # rotary_dim / 2 for head_dim 16
    short = [float("%.4g" % v) for v in (1.0 + 0.5 * torch.rand(half, generator=g))]
    long = [float("%.4g" % v) for v in (1.0 + 8.0 * torch.rand(half, generator=g))]
    return {
        "bloom": (
            lambda: BloomForCausalLM(BloomConfig(**common, hidden_size=96, n_layer=2, n_head=6,
                                                 layer_norm_epsilon=1e-5)),
            "BLOOM: hidden 96, ALiBi (6 heads of 16: the non-power-of-two slopes, a head_dim the "
            "CUDA attention kernels take), embedding LayerNorm, fused query_key_value per head, "
            "GELU (tanh), biases everywhere, tied lm_head"),
        "starcoder": (
            lambda: GPTBigCodeForCausalLM(GPTBigCodeConfig(
                **common, n_embd=64, n_layer=2, n_head=4, n_inner=128, n_positions=128,
                multi_query=True, activation_function="gelu_pytorch_tanh",
                layer_norm_epsilon=1e-5)),
            "GPTBigCode (StarCoder): multi-query attention, learned positions, fused c_attn, "
            "GELU (tanh), tied lm_head"),
        "starcoder-mha": (
            lambda: GPTBigCodeForCausalLM(GPTBigCodeConfig(
                **common, n_embd=64, n_layer=2, n_head=4, n_inner=128, n_positions=128,
                multi_query=False, activation_function="gelu", layer_norm_epsilon=1e-5,
                tie_word_embeddings=False)),
            "GPTBigCode without multi_query: c_attn per head [q, k, v], exact GELU, untied"),
        "phi3": (
            lambda: Phi3ForCausalLM(Phi3Config(**decoder, rms_norm_eps=1e-5, sliding_window=6,
                                               original_max_position_embeddings=128)),
            "Phi-3: fused qkv_proj and gate_up_proj, sliding_window 6"),
        "phi3-longrope": (
            lambda: Phi3ForCausalLM(Phi3Config(
                **decoder, rms_norm_eps=1e-5, partial_rotary_factor=1.0,
                original_max_position_embeddings=LONGROPE_ORIG,
                rope_scaling={"type": "longrope", "short_factor": short, "long_factor": long})),
            f"Phi-3 longrope: original_max {LONGROPE_ORIG}, max 128 (attention factor "
            "sqrt(1+ln(128/48)/ln 48)); prompts 5 and 1 stay within (short factors, also through "
            "greedy), prompts 49 and 60 start beyond it (long factors)",
            {"prompt_lengths": [5, 1, 49, 60]}),
        "stablelm": (
            lambda: StableLmForCausalLM(StableLmConfig(
                **decoder, layer_norm_eps=1e-5, partial_rotary_factor=0.25, use_qkv_bias=True)),
            "StableLM (as stablelm-2-1.6b): LayerNorm with bias, q/k/v bias, rotary on the first "
            "quarter of each head"),
        "stablelm-parallel": (
            lambda: StableLmForCausalLM(StableLmConfig(
                **decoder, layer_norm_eps=1e-5, partial_rotary_factor=0.5,
                use_parallel_residual=True, qk_layernorm=True)),
            "StableLM: parallel residual (no post_attention_layernorm), per-head q/k LayerNorm, "
            "rotary on half of each head"),
        "cohere": (
            lambda: CohereForCausalLM(CohereConfig(
                **{**decoder, "tie_word_embeddings": True}, layer_norm_eps=1e-5,
                use_qk_norm=True, logit_scale=0.5, attention_bias=True)),
            "Cohere (Command-R): parallel attention + MLP, bias-free LayerNorm, interleaved "
            "rotary, q/k norm per head, q/k/v/o bias, logit_scale 0.5, tied embeddings"),
    }


def build_internlm_as_llama():
    # InternLM v1 has no GQA: num_key_value_heads = num_attention_heads.
    return llama(num_key_value_heads=4, attention_bias=True, rms_norm_eps=1e-6)


def internlm_config(model):
    """config.json in the shape internlm/internlm-7b publishes (InternLMConfig keys)."""
    c = model.config
    return {
        "architectures": ["InternLMForCausalLM"],
        "bias": True,
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "hidden_act": "silu",
        "hidden_size": c.hidden_size,
        "initializer_range": c.initializer_range,
        "intermediate_size": c.intermediate_size,
        "max_position_embeddings": c.max_position_embeddings,
        "model_type": "internlm",
        "num_attention_heads": c.num_attention_heads,
        "num_hidden_layers": c.num_hidden_layers,
        "pad_token_id": 0,
        "rms_norm_eps": c.rms_norm_eps,
        "tie_word_embeddings": False,
        "torch_dtype": "float32" if model.dtype == torch.float32 else "bfloat16",
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "vocab_size": c.vocab_size,
    }


def randomize(model, gen):
    """Weights with unit-scale activations: projections ~ N(0, 1/fan_in), embeddings N(0, 0.1)
    (so the residual stream is not dominated by the input token, which would make greedy
    continuations repeat one token). HF initialises norms to 1 and biases to 0; they get random
    values too, so a wrong norm or a missing bias shows up in the logits."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("word_embeddings_layernorm.weight"):
                # BLOOM normalises the embeddings: at unit scale the input token would
                # dominate the residual stream (greedy repeating one token).
                p.copy_(0.2 * (1.0 + 0.2 * torch.randn(p.shape, generator=gen)))
            elif name.endswith("embed_tokens.weight"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("lm_head.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
            elif name.endswith("proj.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
            elif name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            # Other families' names (after the rules above, so Llama's weights stay the same).
            elif p.dim() == 2 and any(k in name for k in ("word_embeddings", "wte", "wpe")):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
            elif p.dim() == 1 and name.endswith(".weight"):  # LayerNorm scales
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))


def prompts(lengths=PROMPT_LENGTHS):
    g = torch.Generator().manual_seed(1234)
    return [torch.randint(3, VOCAB, (n,), generator=g).tolist() for n in lengths]


def decoder_layers(m):
    return m.model.layers if hasattr(m, "model") else m.transformer.h


def r(x, digits):
    """Floats rounded to `digits` significant digits (4 is exact for bf16 values; 6 is within
    5e-7 relative of the f32 value)."""
    fmt = "%." + str(digits) + "g"
    return [float(fmt % v) for v in x]


def nested(t, digits):
    t = t.float()
    if t.dim() == 1:
        return r(t.tolist(), digits)
    return [nested(row, digits) for row in t]


def fresh(model):
    # Dynamic RoPE keeps state between calls (max_seq_len_cached): use a fresh copy per prompt.
    return copy.deepcopy(model)


def run_prompt(model, ids, digits, want_hidden):
    m = fresh(model)
    x = torch.tensor([ids])
    layer_outs = []
    hooks = []
    if want_hidden:
        for layer in decoder_layers(m):
            hooks.append(layer.register_forward_hook(
                lambda mod, inp, out: layer_outs.append(out[0] if isinstance(out, tuple) else out)))
    with torch.no_grad():
        out = m(x, output_hidden_states=want_hidden, use_cache=False)
    for h in hooks:
        h.remove()
    res = {"input_ids": ids, "logits": nested(out.logits[0], digits)}
    if want_hidden:
        res["hidden"] = {
            "embeddings": nested(out.hidden_states[0][0], digits),
            "layer_outputs": [nested(t[0], digits) for t in layer_outs],  # before the final norm
            "final_norm": nested(out.hidden_states[-1][0], digits),
        }
    m = fresh(model)
    with torch.no_grad():
        gen = m.generate(x, attention_mask=torch.ones_like(x), do_sample=False,
                         max_new_tokens=NEW_TOKENS, min_new_tokens=0, eos_token_id=None,
                         pad_token_id=0, output_scores=True, return_dict_in_generate=True)
    res["greedy"] = gen.sequences[0, len(ids):].tolist()
    # Gap between the best and second-best logit at each greedy step: a C++ run in another
    # summation order may legitimately pick differently where this is tiny (bf16 especially).
    margins = []
    for s in gen.scores:
        top = torch.topk(s[0].float(), 2).values
        margins.append(float("%.4g" % (top[0] - top[1]).item()))
    res["greedy_margins"] = margins
    return res


def save_model(model, out_dir, name, dtype_name, note):
    os.makedirs(out_dir, exist_ok=True)
    if name == "internlm":
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(internlm_config(model), f, indent=2)
        gen_cfg = {"bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": 0}
        with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
            json.dump(gen_cfg, f, indent=2)
        state = {k: v.contiguous() for k, v in model.state_dict().items()
                 if not k.endswith("rotary_emb.inv_freq")}
        save_file(state, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    else:
        model.save_pretrained(out_dir, safe_serialization=True)


FEATURES = {  # variant -> [config overrides that remove one feature each]
    "llama-rope-linear": [{"rope_scaling": None}], "llama-rope-dynamic": [{"rope_scaling": None}],
    "llama-rope-llama3": [{"rope_scaling": None}], "mistral": [{"sliding_window": None}],
    "phi3": [{"sliding_window": None}],
    "phi3-longrope": [{"rope_scaling": None}],
    "stablelm": [{"partial_rotary_factor": 1.0}],
    "stablelm-parallel": [{"use_parallel_residual": False}, {"qk_layernorm": False},
                          {"partial_rotary_factor": 1.0}],
    "cohere": [{"use_qk_norm": False}, {"logit_scale": 1.0}],
}
WINDOWED = {"mistral", "phi3"}  # sliding_window 6


def check_feature_matters(name, model, lengths):
    """The variant's special features must each change the logits of the longest prompt (else
    the golden would not test them). Compares against the same weights without the feature
    (modules the feature adds are dropped; ones it removes keep HF's initial values)."""
    for over in FEATURES.get(name, []):
        cfg = copy.deepcopy(model.config)
        for k, v in over.items():
            setattr(cfg, k, v)
        cfg._attn_implementation = "eager"
        plain = type(model)(cfg).eval()
        plain.load_state_dict(model.state_dict(), strict=False)
        x = torch.tensor([prompts(lengths)[-1]])  # the longest prompt
        with torch.no_grad():
            a = fresh(model)(x, use_cache=False).logits[0]
            b = plain(x, use_cache=False).logits[0]
        diff = (a - b).abs().max(dim=-1).values
        assert diff[-1] > 1e-3, f"{name}: {over} does not change the logits ({diff[-1]})"
        if name in WINDOWED:  # inside the window nothing may change
            assert diff[:6].max() < 1e-5, f"{name}: positions < window differ ({diff[:6]})"
        print(f"  {name}: removing {over} changes last-position logits by {diff[-1]:.3g}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/models")
    ap.add_argument("--only", default="", help="comma-separated variant names")
    args = ap.parse_args()
    torch.set_num_threads(2)
    only = set(filter(None, args.only.split(",")))
    make_ref_goldens(args.out, only, prompts(PROMPT_LENGTHS))
    for vi, (name, (build, note, *extra)) in enumerate(variants().items()):
        if only and name not in only:
            continue
        lengths = (extra[0] if extra else {}).get("prompt_lengths", PROMPT_LENGTHS)
        ps = prompts(lengths)
        torch.manual_seed(100 + vi)
        base = build()
        randomize(base, torch.Generator().manual_seed(200 + vi))
        base.eval()
        check_feature_matters(name, base, lengths)
        for dtype_name, dtype, digits in (("f32", torch.float32, 6), ("bf16", torch.bfloat16, 4)):
            model = copy.deepcopy(base).to(dtype)
            model.config._attn_implementation = "eager"
            out_dir = os.path.join(args.out, f"{name}-{dtype_name}")
            shutil.rmtree(out_dir, ignore_errors=True)
            save_model(model, out_dir, name, dtype_name, note)
            golden = {
                "_source": "tools/goldens/make_goldens.py",
                "model": name,
                "dtype": dtype_name,
                "note": note,
                "torch_version": torch.__version__,
                "transformers_version": transformers.__version__,
                "attn_implementation": "eager",
                "digits": digits,
                "greedy_new_tokens": NEW_TOKENS,
                "greedy_ignores_eos": True,
                "hidden_prompt_index": HIDDEN_PROMPT,
                "prompts": [run_prompt(model, ids, digits, i == HIDDEN_PROMPT)
                            for i, ids in enumerate(ps)],
            }
            with open(os.path.join(out_dir, "golden.json"), "w") as f:
                json.dump(golden, f, separators=(",", ":"))
            size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
            print(f"{out_dir}: {size / 1024:.0f} KiB, greedy[0]={golden['prompts'][0]['greedy'][:8]}")


# --- Families whose modeling code lives only in model repositories (trust_remote_code) ------
# Built from the reference forwards in tools/goldens/ref_models/ (see their docstrings and
# test_ref_models.py); config.json is written with the keys the published repositories use.

def ref_variants():
    """name -> (reference class, config.json dict (published keys), note, feature-off overrides)."""
    from ref_models.chatglm2 import ChatGLM
    from ref_models.minicpm import MiniCPM
    from ref_models.qwen1 import QWen
    glm = {"architectures": ["ChatGLMModel"], "model_type": "chatglm", "num_layers": 2,
           "padded_vocab_size": VOCAB, "hidden_size": 64, "kv_channels": 16,
           "num_attention_heads": 4, "multi_query_attention": True, "multi_query_group_num": 2,
           "ffn_hidden_size": 128, "layernorm_epsilon": 1e-5, "seq_length": 128,
           "add_qkv_bias": True, "add_bias_linear": False, "rmsnorm": True,
           "post_layer_norm": True, "original_rope": True,
           "apply_residual_connection_post_layernorm": False, "apply_query_key_layer_scaling": True,
           "attention_softmax_in_fp32": True, "fp32_residual_connection": False,
           "tie_word_embeddings": False, "eos_token_id": EOS, "pad_token_id": 0}
    cpm = {"architectures": ["MiniCPMForCausalLM"], "model_type": "minicpm", "vocab_size": VOCAB,
           "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None, "hidden_act": "silu",
           "scale_emb": 4.0, "scale_depth": 1.4, "dim_model_base": 128,
           "tie_word_embeddings": True, "bos_token_id": BOS, "eos_token_id": EOS}
    qwen = {"architectures": ["QWenLMHeadModel"], "model_type": "qwen", "vocab_size": VOCAB,
            "hidden_size": 64, "kv_channels": 16, "num_attention_heads": 4,
            "intermediate_size": 256, "num_hidden_layers": 2, "layer_norm_epsilon": 1e-6,
            "rotary_pct": 1.0, "rotary_emb_base": 10000, "seq_length": 16,
            "max_position_embeddings": 128, "no_bias": True, "use_dynamic_ntk": True,
            "use_logn_attn": True, "use_flash_attn": "auto", "tie_word_embeddings": False,
            "bf16": False, "fp16": False, "fp32": False}
    return {
        "chatglm2": (ChatGLM, glm, "ChatGLM2/3: MQA 4 heads / 2 groups, fused qkv with bias, "
                     "rotary on half of each head in interleaved pairs, fused SwiGLU", None),
        "chatglm3-rope-ratio": (ChatGLM, {**glm, "rope_ratio": 50.0},
                                "ChatGLM3 (-32k style) rope_ratio 50: RoPE base 10000*50",
                                {"rope_ratio": 1.0}),
        "minicpm": (MiniCPM, cpm, "MiniCPM: scale_emb 4, scale_depth 1.4 (residual x 1.4/sqrt(2)), "
                    "logits / (64/128), tied embeddings",
                    {"scale_emb": 1.0, "scale_depth": 2 ** 0.5, "dim_model_base": 64}),
        "qwen1": (QWen, qwen, "Qwen v1: fused c_attn with bias, w1*silu(w2), seq_length 16 with "
                  "dynamic NTK (alpha from the prompt length, kept while decoding) and log-n "
                  "query scaling beyond position 16",
                  {"use_dynamic_ntk": False, "use_logn_attn": False}),
    }


def ref_feature_matters(name, cls, cfg, model, off):
    """The variant's features must change the 40-token prompt's last logits, and (Qwen) each
    of dynamic NTK and log-n must matter on its own; positions < seq_length see no log-n."""
    if off is None:
        return
    x = torch.tensor([prompts(PROMPT_LENGTHS)[3]])
    with torch.no_grad():
        a = model(x)[0][0]
        for key, val in off.items() if name == "qwen1" else [(None, None)]:
            over = {key: val} if key else off
            plain = cls({**cfg, **over}).eval()
            plain.load_state_dict(model.state_dict())
            d = (a - plain(x)[0][0]).abs().amax(-1)
            assert d[-1] > 1e-3, f"{name}: {over} does not change the logits ({d[-1]})"
            print(f"  {name}: {over} changes last-position logits by {d[-1]:.3g}")


def make_ref_goldens(out_root, only, ps):
    from ref_models.common import greedy as ref_greedy, randomize as ref_randomize
    for vi, (name, (cls, cfg, note, off)) in enumerate(ref_variants().items()):
        if only and name not in only:
            continue
        torch.manual_seed(500 + vi)
        base = cls(cfg)
        ref_randomize(base, torch.Generator().manual_seed(600 + vi),
                      embed_std=0.1)
        base.eval()
        ref_feature_matters(name, cls, cfg, base, off)
        for dtype_name, dtype, digits in (("f32", torch.float32, 6), ("bf16", torch.bfloat16, 4)):
            model = copy.deepcopy(base).to(dtype)
            out_dir = os.path.join(out_root, f"{name}-{dtype_name}")
            shutil.rmtree(out_dir, ignore_errors=True)
            os.makedirs(out_dir)
            torch_dtype = "float32" if dtype == torch.float32 else "bfloat16"
            with open(os.path.join(out_dir, "config.json"), "w") as f:
                json.dump({**cfg, "torch_dtype": torch_dtype}, f, indent=2)
            with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
                json.dump({"bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": 0}, f, indent=2)
            state = model.state_dict()
            if cfg.get("tie_word_embeddings", False):
                state.pop("lm_head.weight", None)
            save_file({k: v.contiguous() for k, v in state.items()},
                      os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
            runs = []
            for i, ids in enumerate(ps):
                m = copy.deepcopy(model)
                with torch.no_grad():
                    logits, _, hid = m(torch.tensor([ids]), want_hidden=(i == HIDDEN_PROMPT))
                res = {"input_ids": ids, "logits": nested(logits[0], digits)}
                if hid is not None:
                    res["hidden"] = {"embeddings": nested(hid["embeddings"], digits),
                                     "layer_outputs": [nested(t, digits) for t in hid["layer_outputs"]],
                                     "final_norm": nested(hid["final_norm"], digits)}
                res["greedy"], res["greedy_margins"] = ref_greedy(m, ids, NEW_TOKENS)
                runs.append(res)
            golden = {"_source": "tools/goldens/make_goldens.py", "model": name,
                      "dtype": dtype_name, "note": note, "torch_version": torch.__version__,
                      "reference": f"tools/goldens/ref_models/{cls.__module__.split('.')[-1]}.py",
                      "digits": digits, "greedy_new_tokens": NEW_TOKENS,
                      "greedy_ignores_eos": True, "hidden_prompt_index": HIDDEN_PROMPT,
                      "prompts": runs}
            with open(os.path.join(out_dir, "golden.json"), "w") as f:
                json.dump(golden, f, separators=(",", ":"))
            size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
            print(f"{out_dir}: {size / 1024:.0f} KiB, greedy[0]={runs[0]['greedy'][:8]}")


if __name__ == "__main__":
    main()
