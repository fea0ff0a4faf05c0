#!/usr/bin/env python3
"""Turns the GPU run's output into the shipped HF model folder and its references.

Owns: models/<name>/{config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
special_tokens_map.json, generation_config.json, reference.json, heldout.bin, heldout.txt,
README.md}. Runs on the CPU with torch + transformers.

Invariants:
  * model.safetensors holds the bf16 weights exactly as train.py saved them (tied
    embeddings: no lm_head.weight tensor; config.tie_word_embeddings = true).
  * train.py's model and transformers' LlamaForCausalLM give the same logits (checked).
  * reference.json is computed by transformers' LlamaForCausalLM loaded from the folder,
    weights upcast to f32, f32 compute:
      - held-out NLL: heldout.bin (uint16 LE token ids, the first N_WINDOWS*CTX tokens of
        test.bin) cut into N_WINDOWS non-overlapping windows of CTX tokens (stride CTX);
        each window is an independent sequence starting at position 0; the loss is the
        mean over all windows of -log p(token[i] | token[<i]) for i = 1..CTX-1;
        ppl = exp(mean NLL).
      - greedy: 32 argmax steps from the prompt ids (tokenizer adds <|bos|>), never
        stopping at an end token, full-sequence forward each step.
"""
import argparse
import csv
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as train_mod  # noqa: E402

N_WINDOWS, CTX = 32, 512
GREEDY_PROMPT = "A computer is a machine that"
GREEDY_STEPS = 32
SAMPLE_PROMPTS = [
    "The old man walked",
    "A dictionary is",
    "Python is a programming language that",
    "In the morning, the",
    "The best way to learn",
    "Love is",
    "When the computer crashed,",
    ("chat", "What does \"river\" mean?"),
    ("chat", "Say something wise."),
    ("chat", "Tell me something funny."),
]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}")
SPECIAL_TOKENS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>",
                  "<|end|>"]


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def build_folder(run_dir, data_dir, out):
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    cfg = summary["config"]
    state = {}
    for shard in summary["shards"]:
        state.update(load_file(os.path.join(run_dir, shard)))
    assert all(v.dtype == torch.bfloat16 for v in state.values())
    os.makedirs(out, exist_ok=True)
    save_file(dict(sorted(state.items())), os.path.join(out, "model.safetensors"),
              metadata={"format": "pt"})
    head_dim = cfg["hidden_size"] // cfg["num_attention_heads"]
    write_json(os.path.join(out, "config.json"), {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": cfg["vocab_size"], "hidden_size": cfg["hidden_size"],
        "intermediate_size": cfg["intermediate_size"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "num_attention_heads": cfg["num_attention_heads"],
        "num_key_value_heads": cfg["num_key_value_heads"], "head_dim": head_dim,
        "hidden_act": "silu", "max_position_embeddings": cfg["max_position_embeddings"],
        "rms_norm_eps": cfg["rms_norm_eps"], "rope_theta": cfg["rope_theta"],
        "rope_scaling": None, "attention_bias": False, "attention_dropout": 0.0,
        "mlp_bias": False, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 2, "initializer_range": 0.02,
        "use_cache": True})
    write_json(os.path.join(out, "generation_config.json"), {
        "bos_token_id": 0, "eos_token_id": [1, 6], "pad_token_id": 2, "do_sample": True,
        "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 128})
    shutil.copy(os.path.join(data_dir, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|bos|>",
        "eos_token": "<|eos|>", "pad_token": "<|pad|>", "add_bos_token": True,
        "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "model_max_length": cfg["max_position_embeddings"], "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {str(i): {"content": t, "special": True, "lstrip": False,
                                          "rstrip": False, "normalized": False,
                                          "single_word": False}
                                 for i, t in enumerate(SPECIAL_TOKENS)}})
    write_json(os.path.join(out, "special_tokens_map.json"), {
        "bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>",
        "additional_special_tokens": ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]})
    return summary, cfg, state


def check_same_logits(cfg, state, hf_model):
    ours = train_mod.Llama(cfg).float()
    missing = ours.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    assert set(missing.missing_keys) <= {"lm_head.weight"}, missing
    ours.lm_head.weight = ours.model.embed_tokens.weight
    ours.eval()
    ids = torch.randint(0, cfg["vocab_size"], (2, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        diff = (ours(ids) - hf_model(ids).logits).abs().max().item()
    print(f"train.py model vs LlamaForCausalLM max |logit diff| = {diff:.2e}")
    assert diff < 1e-3, diff
    return diff


@torch.no_grad()
def heldout_nll(model, ids):
    per_window = []
    for w in range(len(ids) // CTX):
        x = torch.tensor(ids[w * CTX:(w + 1) * CTX], dtype=torch.long)[None]
        logits = model(x).logits[0, :-1].float()
        per_window.append(F.cross_entropy(logits, x[0, 1:]).item())
    return per_window


@torch.no_grad()
def greedy(model, ids, steps):
    ids = list(ids)
    out = []
    for _ in range(steps):
        nxt = int(model(torch.tensor([ids])).logits[0, -1].argmax())
        ids.append(nxt)
        out.append(nxt)
    return out


@torch.no_grad()
def greedy_margins(model, prompt_ids, out_ids):
    """Top-1 minus top-2 logit at each greedy step (one teacher-forced pass): a runtime with
    other rounding (bf16) may pick the runner-up where this is small."""
    logits = model(torch.tensor([list(prompt_ids) + list(out_ids)])).logits[0].float()
    n = len(prompt_ids)
    top2 = logits[n - 1:n - 1 + len(out_ids)].topk(2, dim=-1).values
    return [round(float(a - b), 6) for a, b in top2.tolist()]


def loss_table(run_dir, max_rows=16):
    rows = list(csv.DictReader(open(os.path.join(run_dir, "train_log.csv"))))
    evals = [r for r in rows if r["val_loss"]]
    if len(evals) > max_rows:
        step = len(evals) / max_rows
        evals = [evals[int(i * step)] for i in range(max_rows)] + [evals[-1]]
    lines = ["| step | tokens seen | train loss | val loss | lr | elapsed (s) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in evals:
        lines.append(f"| {r['step']} | {int(r['tokens']):,} | {r['train_loss']} | {r['val_loss']}"
                     f" | {r['lr']} | {r['elapsed_s']} |")
    return "\n".join(lines)


def main():
    global CTX
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", required=True, help="train.py output folder (summary + shards)")
    ap.add_argument("--data", required=True, help="folder with tokenizer.json and test.bin")
    ap.add_argument("--corpus", required=True, help="folder with manifest.json")
    ap.add_argument("--out", required=True, help="model folder to write, e.g. models/lightllm-tiny-en")
    ap.add_argument("--ctx", type=int, default=CTX)
    args = ap.parse_args()
    CTX = args.ctx
    torch.manual_seed(0)
    summary, cfg, state = build_folder(args.run, args.data, args.out)

    from transformers import AutoTokenizer, LlamaForCausalLM
    tok = AutoTokenizer.from_pretrained(args.out)
    model = LlamaForCausalLM.from_pretrained(args.out, torch_dtype=torch.float32)
    model.eval()
    logit_diff = check_same_logits(cfg, state, model)

    test = np.fromfile(os.path.join(args.data, "test.bin"), dtype="<u2")
    held = test[:N_WINDOWS * CTX]
    assert len(held) == N_WINDOWS * CTX, "test split too small"
    held.astype("<u2").tofile(os.path.join(args.out, "heldout.bin"))
    with open(os.path.join(args.out, "heldout.txt"), "w") as f:
        f.write(tok.decode(held.tolist(), skip_special_tokens=False))
    per_window = heldout_nll(model, held.tolist())
    mean_nll = sum(per_window) / len(per_window)

    prompt_ids = tok(GREEDY_PROMPT)["input_ids"]
    greedy_ids = greedy(model, prompt_ids, GREEDY_STEPS)
    greedy_text = tok.decode(greedy_ids, skip_special_tokens=False)
    print(f"greedy: {GREEDY_PROMPT!r} -> {greedy_text!r}")
    # transformers' own generate() must agree with the manual loop.
    gen = model.generate(torch.tensor([prompt_ids]), do_sample=False, max_new_tokens=GREEDY_STEPS,
                         min_new_tokens=GREEDY_STEPS, eos_token_id=None, pad_token_id=2)
    assert gen[0, len(prompt_ids):].tolist() == greedy_ids, "generate() disagrees with greedy loop"

    samples = []
    torch.manual_seed(42)
    for p in SAMPLE_PROMPTS:
        if isinstance(p, tuple):
            text = tok.apply_chat_template([{"role": "user", "content": p[1]}], tokenize=False,
                                           add_generation_prompt=True)
            ids = tok(text, add_special_tokens=False)["input_ids"]
            shown = p[1]
        else:
            ids, shown = tok(p)["input_ids"], p
        out = model.generate(torch.tensor([ids]), do_sample=True, temperature=0.8, top_p=0.95,
                             top_k=0, max_new_tokens=64, eos_token_id=[1, 6], pad_token_id=2)
        completion = tok.decode(out[0, len(ids):], skip_special_tokens=True)
        samples.append({"prompt": shown, "chat": isinstance(p, tuple), "completion": completion})
        print(f"{shown!r} -> {completion!r}")

    reference = {
        "model": os.path.basename(os.path.normpath(args.out)),
        "computed_by": "transformers LlamaForCausalLM, bf16 weights upcast to float32, "
                       "float32 compute, CPU",
        "greedy": {"prompt": GREEDY_PROMPT, "prompt_ids": prompt_ids,
                   "note": "prompt_ids include <|bos|>; 32 argmax steps, no stop at end tokens",
                   "output_ids": greedy_ids, "output_text": greedy_text,
                   "top2_margin": greedy_margins(model, prompt_ids, greedy_ids)},
        "heldout": {"file": "heldout.bin", "dtype": "uint16 little-endian",
                    "n_tokens": int(len(held)), "window": CTX, "stride": CTX,
                    "n_windows": N_WINDOWS,
                    "method": "each window is an independent sequence from position 0; NLL "
                              "averaged over its CTX-1 next-token predictions; mean_nll is the "
                              "mean of the per-window means (all windows equal length); "
                              "ppl = exp(mean_nll)",
                    "per_window_nll": per_window, "mean_nll": mean_nll, "ppl": math.exp(mean_nll)},
        "samples": {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 64, "seed": 42,
                    "items": samples},
        "training": {k: summary[k] for k in ("params", "steps", "tokens_seen", "train_time_s",
                                             "best_step", "best_val_loss", "final_train_loss",
                                             "test_ppl_32x512_f32", "device_name", "torch")},
        "check_logit_diff_vs_train_py": logit_diff,
    }
    write_json(os.path.join(args.out, "reference.json"), reference)
    manifest = json.load(open(os.path.join(args.corpus, "manifest.json")))
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "CARD_TEMPLATE.md")) as f:
        card = f.read()
    pk = "\n".join(f"| {p['package']} | {p['version']} | {p['licence']} |"
                   for p in manifest["packages"])
    src = "\n".join(f"| {s} | {v['docs']:,} | {v['chars'] / 1e6:.2f} |"
                    for s, v in sorted(manifest["sources"].items()))
    samp = "\n".join(f"{i + 1}. {'(chat) ' if s['chat'] else ''}**{s['prompt']}** "
                     f"{s['completion'].strip()!r}" for i, s in enumerate(samples))
    size_mb = os.path.getsize(os.path.join(args.out, "model.safetensors")) / 1e6
    fill = {"PACKAGES": pk, "SOURCES": src, "LOSS_TABLE": loss_table(args.run), "SAMPLES": samp,
            "PARAMS": f"{summary['params']:,}", "STEPS": f"{summary['steps']:,}",
            "TOKENS": f"{summary['tokens_seen']:,}", "TRAIN_TIME": str(summary["train_time_s"]),
            "FINAL_LOSS": str(summary["final_train_loss"]), "BEST_STEP": str(summary["best_step"]),
            "BEST_VAL": f"{summary['best_val_loss']:.4f}", "PPL": f"{math.exp(mean_nll):.3f}",
            "NLL": f"{mean_nll:.5f}", "GPU_PPL": f"{summary['test_ppl_32x512_f32']:.3f}",
            "DEVICE": summary["device_name"], "TORCH": summary["torch"],
            "GREEDY_PROMPT": GREEDY_PROMPT, "GREEDY_TEXT": repr(greedy_text),
            "SIZE_MB": f"{size_mb:.1f}", "CONFIG": json.dumps(cfg),
            "ARGS": " ".join(f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
                             for k, v in summary["args"].items()
                             if k not in ("data", "out") and v is not False and v is not None)}
    for k, v in fill.items():
        card = card.replace("{{" + k + "}}", v)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(card)
    print(f"held-out ppl {math.exp(mean_nll):.4f} (train-time GPU check "
          f"{summary['test_ppl_32x512_f32']:.4f}); wrote {args.out}")


if __name__ == "__main__":
    main()
