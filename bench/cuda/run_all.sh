#!/usr/bin/env bash
# bench/cuda/run_all.sh — every GPU test and benchmark of the project in one run, for the GPU
# machine (see bench/README.md). Each step runs under its own time limit and the whole run under
# a deadline; a failing or timed-out step is recorded and the run goes on. Writes one log per
# step, results.jsonl (every `{"bench": ...}` line the benches print) and summary.txt under
# OUT_DIR. Exit status: 0 when every step that ran passed, 1 otherwise.
#
#   bench/cuda/run_all.sh OUT_DIR
#
# Environment (all optional):
#   BUILD_DIR         build tree with LIGHTLLM_CUDA=ON, sm_90a (default: build)
#   MODELS_DIR        where the random Llama-2-7B / Llama-3-8B folders are made or reused
#                     (default /tmp/lightllm-random-models; ~13 + ~15 GiB)
#   SHAPES            tools/make_random_model.py shapes to bench (default "llama2-7b llama3-8b")
#   SERVING_REQUESTS  requests of `bench serving` (default 200; the issue's figure is 1000)
#   INT8_REQUESTS     requests of each KV-bound run of `bench int8` (default 64)
#   KV_BUDGET_TOKENS  KV-bound pool, in bf16 tokens (default 16384)
#   DEADLINE_S        whole-run budget in seconds (default 470); later steps are skipped
#   SKIP              space-separated step names (or prefixes) not to run, e.g. "torch_baseline"
#   LIB_DIR           shared libraries shipped with the binaries (prepended to LD_LIBRARY_PATH)
#   PYTHON            interpreter with numpy / torch / triton (default python3)
set -u

OUT=${1:?usage: bench/cuda/run_all.sh OUT_DIR}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=$(cd "${BUILD_DIR:-$REPO/build}" 2>/dev/null && pwd) || {
  echo "run_all.sh: build directory ${BUILD_DIR:-$REPO/build} not found" >&2
  exit 2
}
MODELS_DIR=${MODELS_DIR:-/tmp/lightllm-random-models}
SHAPES=${SHAPES:-"llama2-7b llama3-8b"}
SERVING_REQUESTS=${SERVING_REQUESTS:-200}
INT8_REQUESTS=${INT8_REQUESTS:-64}
KV_BUDGET_TOKENS=${KV_BUDGET_TOKENS:-16384}
DEADLINE_S=${DEADLINE_S:-470}
SKIP=${SKIP:-}
PYTHON=${PYTHON:-python3}
if [[ -n "${LIB_DIR:-}" ]]; then export LD_LIBRARY_PATH="$LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
export OMP_WAIT_POLICY=passive

mkdir -p "$OUT" "$MODELS_DIR"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.txt
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
START=$(date +%s)
FAILED=0

# The test binaries carry the source tree's absolute path (goldens, bundled model): when this
# copy of the repository lives elsewhere, point that path at it.
SRC_AT_BUILD=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
if [[ -n "$SRC_AT_BUILD" && ! -e "$SRC_AT_BUILD" ]]; then
  mkdir -p "$(dirname "$SRC_AT_BUILD")" 2>/dev/null && ln -s "$REPO" "$SRC_AT_BUILD" 2>/dev/null &&
    echo "linked $SRC_AT_BUILD -> $REPO"
fi

{
  echo "# bench/cuda/run_all.sh — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "host: $(hostname); build: $BUILD_DIR; repo: $REPO (commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown))"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null |
    sed 's/^/gpu: /'
  echo "SHAPES=$SHAPES SERVING_REQUESTS=$SERVING_REQUESTS INT8_REQUESTS=$INT8_REQUESTS KV_BUDGET_TOKENS=$KV_BUDGET_TOKENS DEADLINE_S=$DEADLINE_S"
  echo
  printf '%-34s %-14s %8s  %s\n' step status seconds log
} | tee "$SUMMARY"

# step NAME LIMIT_S COMMAND... — runs COMMAND with a time limit, logs to OUT/NAME.log.
step() {
  local name=$1 limit=$2
  shift 2
  local log="$OUT/$name.log" status rc t0 t1 left
  for s in $SKIP; do
    if [[ $name == "$s"* ]]; then
      printf '%-34s %-14s %8s  %s\n' "$name" skipped - - | tee -a "$SUMMARY"
      return 0
    fi
  done
  left=$((DEADLINE_S - ($(date +%s) - START)))
  if ((left < 10)); then
    printf '%-34s %-14s %8s  %s\n' "$name" "skip:deadline" - - | tee -a "$SUMMARY"
    FAILED=1
    return 0
  fi
  ((limit > left)) && limit=$left
  t0=$(date +%s.%N)
  { echo "\$ $*"; echo; } >"$log"
  timeout --kill-after=15 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  if ((rc == 0)); then
    status=ok
  elif ((rc == 124 || rc == 137)); then
    status="TIMEOUT(${limit}s)"
    FAILED=1
  else
    status="FAIL(rc=$rc)"
    FAILED=1
  fi
  grep -h '^{"bench"' "$log" >>"$RESULTS" 2>/dev/null
  printf '%-34s %-14s %8.1f  %s\n' "$name" "$status" "$(awk "BEGIN { print $t1 - $t0 }")" "$name.log" |
    tee -a "$SUMMARY"
  return 0
}

# --- 1. every cuda-labelled test: the binaries ctest knows under the label (each run whole,
# faster than one process per test case), or those of tests/cuda when ctest cannot list them --
BUILT_AT=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null)
CUDA_TESTS=$(ctest --test-dir "$BUILD_DIR" -L cuda --show-only=json-v1 2>/dev/null |
  "$PYTHON" -c '
import json, sys
built, build = sys.argv[1], sys.argv[2]
seen = []
for t in json.load(sys.stdin).get("tests", []):
    exe = (t.get("command") or [""])[0]
    if built and exe.startswith(built + "/"):
        exe = build + exe[len(built):]
    if exe and exe not in seen:
        seen.append(exe)
print("\n".join(seen))' "$BUILT_AT" "$BUILD_DIR" 2>/dev/null)
[[ -n "$CUDA_TESTS" ]] || CUDA_TESTS=$(ls "$BUILD_DIR"/tests/cuda/test_cuda_* "$BUILD_DIR"/tests/cuda/*_test 2>/dev/null)
for t in $CUDA_TESTS; do
  [[ -x $t && -f $t ]] || continue
  step "ctest_$(basename "$t")" 120 "$t" --gtest_brief=1
done

# --- 2. kernel benchmarks and their PyTorch baselines ------------------------------------------
step kernel_bench 90 "$BUILD_DIR/bench/cuda/kernel_bench"
step torch_baseline 120 "$PYTHON" "$REPO/bench/cuda/torch_baseline.py"

# --- 3. the model benchmarks, per shape --------------------------------------------------------
LIGHTLLM=$BUILD_DIR/lightllm
for shape in $SHAPES; do
  dir=$MODELS_DIR/$shape
  if [[ ! -f $dir/.complete ]]; then
    step "make_model_$shape" 150 bash -c \
      "'$PYTHON' '$REPO/tools/make_random_model.py' --shape '$shape' --out '$dir' && touch '$dir/.complete'"
  fi
  [[ -f $dir/.complete ]] || continue
  step "model_decode_bench_$shape" 90 "$BUILD_DIR/bench/cuda/model_decode_bench" "$dir" \
    --prompt 128 --steps 128
  step "bench_decode_$shape" 90 "$LIGHTLLM" bench decode --device cuda --model "$dir" \
    --prompt-len 128 --tokens 128 --repeats 3
  step "bench_decode_no_overlap_$shape" 90 "$LIGHTLLM" bench decode --device cuda --model "$dir" \
    --prompt-len 128 --tokens 128 --repeats 3 --disable-overlap
  step "bench_serving_$shape" 180 "$LIGHTLLM" bench serving --device cuda --model "$dir" \
    --num-requests "$SERVING_REQUESTS"
  step "bench_int8_$shape" 180 "$LIGHTLLM" bench int8 --device cuda --model "$dir" \
    --num-requests "$INT8_REQUESTS" --kv-budget-tokens "$KV_BUDGET_TOKENS"
done

{
  echo
  echo "total $(($(date +%s) - START)) s; $(wc -l <"$RESULTS") result lines in results.jsonl"
  echo
  echo "## key lines"
  # (decode attention: kernel_bench's single-launch and decode-chain lines for bf16 K/V and int8,
  # and torch's beside them: issue #7's % of copy at batch >= 32, one launch and in a chain)
  grep -H -E '^(GPU:|copy +D2D|read +HBM|(torch )?decode(-chain)? +bf16|decode batch|median step|achieved|capacity at|KV-bound|serving|  (tokens|TTFT|TPOT|device idle|CUDA graphs)|device idle|\[  (PASSED|FAILED)|memory check|.*KV cache: )' \
    "$OUT"/*.log 2>/dev/null | sed "s|$OUT/||"
} | tee -a "$SUMMARY"
exit $FAILED
