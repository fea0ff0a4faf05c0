#!/usr/bin/env python3
"""Checks tools/convert_llama2c.py against the llama2.c reference outputs for stories260K:
converts the shared stories260K.bin, runs it with transformers' LlamaForCausalLM (f32, CPU),
and compares with vectors/stories260K/greedy_ids_and_logits.json (made by llama2.c run.c):
  - greedy ids from BOS (model.generate, do_sample=False) must be identical;
  - teacher-forced argmax at every position must equal the next reference id;
  - logits at positions 0..3 within 1e-4 (absolute) of the reference.
Needs torch + transformers.  Usage: python3 tools/check_stories260k.py [SHARED_TESTDATA]
Exit status 0 on success.
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_llama2c  # noqa: E402


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "testdata")
    import torch
    from transformers import LlamaForCausalLM
    ref = json.load(open(os.path.join(root, "vectors/stories260K/greedy_ids_and_logits.json")))
    ids = ref["ids"]
    with tempfile.TemporaryDirectory() as out:
        convert_llama2c.convert(os.path.join(root, "weights/stories260K/stories260K.bin"), out)
        model = LlamaForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    ok = True
    with torch.no_grad():
        x = torch.tensor([ids[:-1]])
        logits = model(x).logits[0]
        forced = logits.argmax(-1).tolist()
        bad = [k for k in range(len(forced)) if forced[k] != ids[k + 1]]
        print(f"teacher-forced argmax: {len(forced) - len(bad)}/{len(forced)} positions match")
        ok &= not bad
        worst = 0.0
        for p, want in enumerate(ref["logits_first4"]):
            worst = max(worst, (logits[p] - torch.tensor(want)).abs().max().item())
        print(f"logits_first4: max abs diff {worst:.3g} (limit 1e-4)")
        ok &= worst <= 1e-4
        gen = model.generate(torch.tensor([ids[:1]]), do_sample=False,
                             max_new_tokens=len(ids) - 1, eos_token_id=None, pad_token_id=0)
        got = gen[0].tolist()
        print(f"greedy generate: {'identical' if got == ids else 'DIFFERENT'} "
              f"({len(got)} ids vs {len(ids)})")
        ok &= got == ids
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
