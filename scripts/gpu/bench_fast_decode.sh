#!/usr/bin/env bash
# One device call: on the GPU at hand, 16 x 1024^2, bf16, random weights:
#   1. the VAE decode variants side by side, eager: tiled (release) / untiled, NCDHW / channels-last
#   2. end to end eager with the release's tiled decode, 25 and 8 DiT steps (this GPU's baseline)
#   3. end to end with the DiT and decoder compiled and the untiled decode (layout: the faster of
#      step 1), 25 and 8 steps
#   4. the same with a stage 1 of 4 steps without CFG (the cost of a PixArt-LCM-style image model)
#   5. compiled decode variants, if time is left
# Each step has its own time limit; results in $OUT (JSON + logs). Needs the diffusers wheel in .whl/.
set -u
T0=$SECONDS
OUTD=${OUT:-/tmp/out}; mkdir -p "$OUTD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/diffusers-*.whl .whl/importlib_metadata-*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TORCHINDUCTOR_CACHE_DIR=/tmp/inductor
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
left() { echo $(( ${BUDGET:-560} - (SECONDS - T0) )); }
step() {  # step NAME LIMIT ARGS...
    local name=$1 limit=$2; shift 2
    local l; l=$(left); [[ $l -lt 25 ]] && { echo "=== $name: skipped, ${l}s left"; return 1; }
    [[ $l -lt $limit ]] && limit=$l
    echo "=== $name (t=$((SECONDS - T0)) s, limit ${limit} s): $*"
    timeout -k 5 "$limit" python3 -c "import sys; from reducio.cli.run.bench import main; sys.exit(main(sys.argv[1:], 'reducio bench ' + ' '.join(sys.argv[1:])))" \
        "$@" -o "$OUTD/$name.json" > "$OUTD/$name.log" 2>&1
    local rc=$?
    grep -v "^W1\|^I1\|Warning\|warn(" "$OUTD/$name.log" | tail -n 24
    echo "=== $name: exit $rc at t=$((SECONDS - T0)) s"
    return $rc
}
step decode-eager 150 decode --device cuda --dtype bf16 --variants tiled,untiled,untiled+cl,tiled+cl --budget-s 100
# the compiled runs use the untiled decode if it ran and gave finite values, in its faster layout
read -r TILING CL <<< "$(python3 - "$OUTD/decode-eager.json" <<'PY'
import json, sys
try:
    rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["result"]["variants"]}
except Exception:
    rows = {}
ok = lambda n: rows.get(n, {}).get("seconds") and rows[n].get("finite", False)
tiling = "off" if ok("untiled") or ok("untiled+cl") else "preset"
names = ("untiled", "untiled+cl") if tiling == "off" else ("tiled", "tiled+cl")
cl = ok(names[1]) and (not ok(names[0]) or rows[names[1]]["seconds"] < rows[names[0]]["seconds"])
print(tiling, "--channels-last" if cl else "")
PY
)"
echo "compiled runs: --vae-tiling $TILING ${CL:-(NCDHW)}"
step e2e-eager 90 e2e --device cuda --dtype bf16 --steps 25 8
step e2e-compiled-untiled 230 e2e --device cuda --dtype bf16 --steps 25 8 --compile all --vae-tiling $TILING $CL
step e2e-compiled-untiled-s1lcm 120 e2e --device cuda --dtype bf16 --steps 8 4 --compile all --vae-tiling $TILING $CL --stage1-steps 4 --stage1-guidance 1
if [[ -n "$CL" ]]; then UNTILED=untiled+cl+compile; else UNTILED=untiled+compile; fi
step decode-compiled 150 decode --device cuda --dtype bf16 --variants $UNTILED,tiled+compile --budget-s 60 --repeats 3
echo "=== all done at t=$((SECONDS - T0)) s"
ls -la "$OUTD"
