#!/usr/bin/env bash
# One device call (issue 7), ready for the next GPU session: the memory of the 16 x 1024^2 text-to-
# video run with model CPU offload next to the resident baseline (tiled decode, the release's), and
# the DiT with CUDA graphs (fixed since session 5's failed try) next to eager. bf16, 25 and 8 steps.
#   run: carry .whl/diffusers-*.whl .whl/importlib_metadata-*.whl; command: bash scripts/gpu/bench_offload_and_graphs.sh
set -u
OUTD=${OUT:-/tmp/out}; mkdir -p "$OUTD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/diffusers-*.whl .whl/importlib_metadata-*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
B() { local name=$1 limit=$2; shift 2; echo "=== $name (t=$SECONDS s)"
  timeout -k 5 "$limit" python3 -c "import sys; from reducio.cli.bench import main; sys.exit(main(sys.argv[1:], 'reducio bench ' + ' '.join(sys.argv[1:])))" \
    "$@" -o "$OUTD/$name.json" > "$OUTD/$name.log" 2>&1; echo "rc=$?"
  grep -A12 "per DiT step count" "$OUTD/$name.log" | head -8; grep -i "peak" "$OUTD/$name.log" | head -3; tail -n 3 "$OUTD/$name.log"; }
B e2e-resident-tiled 90 e2e --device cuda --dtype bf16 --steps 25 8
B e2e-offload-tiled 120 e2e --device cuda --dtype bf16 --steps 25 8 --offload
B e2e-cudagraphs-untiled 180 e2e --device cuda --dtype bf16 --steps 25 8 --vae-tiling off --compile dit --compile-mode reduce-overhead
echo "=== done t=$SECONDS s"
