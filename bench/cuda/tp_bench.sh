#!/usr/bin/env bash
# bench/cuda/tp_bench.sh BUILD_DIR MODEL_DIR [TP] — tensor-parallel figures for
# docs/PERFORMANCE.md on a machine with TP GPUs (default 2):
#   1. batch-1 decode step time, TP = 1 vs TP (tp_decode_bench; goal <= 0.6x at TP = 2 for
#      Llama-2-7B: tools/make_random_model.py --shape llama2-7b --out MODEL_DIR)
#   2. throughput of many requests at once, TP = 1 vs TP (`lightllm bench offline`; when the
#      `bench serving` command exists, run it the same way: --tp reaches every engine command).
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR MODEL_DIR [TP]}
MODEL=${2:?usage: $0 BUILD_DIR MODEL_DIR [TP]}
TP=${3:-2}
nvidia-smi -L
"$BUILD/bench/cuda/tp_decode_bench" "$MODEL" --tp "$TP" --prompt 128 --steps 128
for tp in 1 "$TP"; do
  echo "== lightllm bench offline --tp $tp"
  "$BUILD/lightllm" bench offline --model "$MODEL" --device cuda --tp "$tp" \
    --num-requests 256 --min-prompt-len 64 --max-prompt-len 512 --output-len 128
done
