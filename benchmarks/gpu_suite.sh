#!/usr/bin/env bash
# The GPU benchmark suite in one command: every benchmark of docs/benchmarks.md at the sizes that
# need a GPU, bf16, one after the other on one card, each bounded by its own time limit so one
# slow or failing benchmark cannot eat the others' time.
#
#   benchmarks/gpu_suite.sh [RESULTS_DIR]          # default benchmarks/results/<date>-gpu-<time>
#
# Environment: PYTHON (default python3), SUITE_DEVICE (default cuda), SUITE_QUICK=1 (the CPU
# sizes: checks the script itself on a machine without a GPU), SUITE_COMPILE=1 (also the
# end-to-end run with torch.compile, which adds its compile time), SUITE_LIMIT_S (seconds per
# benchmark, default 150), SUITE_BUDGET_S (seconds for the whole suite: each benchmark gets at most
# what is left, and one with under 20 s left is skipped; default unlimited). Each benchmark writes RESULTS_DIR/<name>.json and <name>.log; a
# failure or a time-out is logged and the suite goes on (exit status: the number that failed).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEV=${SUITE_DEVICE:-cuda}
OUTDIR=${1:-benchmarks/results/$(date -u +%Y-%m-%d)-gpu-$(date -u +%H%M%S)}
LIMIT=${SUITE_LIMIT_S:-150}
BUDGET=${SUITE_BUDGET_S:-0}
mkdir -p "$OUTDIR"
failed=0

bench() {  # bench NAME LIMIT_S ARGS... : run one benchmark script, log it, keep going on failure
    local name=$1 limit=$2; shift 2
    local started=$SECONDS
    if [[ $BUDGET -gt 0 ]]; then
        local left=$((BUDGET - SECONDS))
        if [[ $left -lt 20 ]]; then
            echo "=== $name: skipped, ${left}s of SUITE_BUDGET_S=$BUDGET left"
            failed=$((failed + 1)); return
        fi
        [[ $left -lt $limit ]] && limit=$left
    fi
    echo "=== $name ($(date -u +%T), limit ${limit}s): $*"
    timeout -k 10 "$limit" "$PY" "$@" -o "$OUTDIR/$name.json" > "$OUTDIR/$name.log" 2>&1
    local rc=$?
    tail -n 30 "$OUTDIR/$name.log"
    echo "=== $name: exit $rc after $((SECONDS - started)) s"
    [[ $rc -eq 0 ]] || failed=$((failed + 1))
}

if [[ "${SUITE_QUICK:-0}" == 1 ]]; then
    common=(--device "$DEV" --quick --threads 1)
    bench e2e "$LIMIT" benchmarks/e2e.py "${common[@]}" --steps 2 --stage1-steps 2
    bench dit "$LIMIT" benchmarks/dit.py "${common[@]}"
    bench vae-256 "$LIMIT" benchmarks/vae.py --device "$DEV" --threads 1 --size 64 \
        --models reducio-tiny --no-flops
    bench throughput "$LIMIT" benchmarks/throughput.py "${common[@]}" --train-steps 2
else
    common=(--device "$DEV" --dtype bf16)
    # 3. the paper's setting: 16 x 1024^2, 1.2B DiT, 20 steps with CFG, tiled ft4 decode
    bench e2e "$LIMIT" benchmarks/e2e.py "${common[@]}"
    # 2. DiT per step at 256 and 1024 px, Reducio latents vs a 4x8x8 grid; fp32 beside bf16
    bench dit "$LIMIT" benchmarks/dit.py "${common[@]}" --also-dtype fp32
    # 1. the four VAEs side by side at 256 px, then Reducio's tiled 1024 px path
    bench vae-256 "$LIMIT" benchmarks/vae.py "${common[@]}" --size 256 --no-flops
    bench vae-1024 "$LIMIT" benchmarks/vae.py "${common[@]}" --size 1024 \
        --models reducio-ft4-1024 --no-flops
    # 4. extraction clips/s (tiny, ft4) and DiT training samples/s, tokens/s, MFU (tiny, 1.2B)
    bench throughput "$LIMIT" benchmarks/throughput.py "${common[@]}"
    if [[ "${SUITE_COMPILE:-0}" == 1 ]]; then
        bench e2e-compile "$((LIMIT + 120))" benchmarks/e2e.py "${common[@]}" --compile
    fi
fi
echo "suite done: $failed failed; results in $OUTDIR"
exit "$failed"
