#!/usr/bin/env bash
# One device call (issue 7): the DiT compiled with CUDA graphs (torch.compile mode reduce-overhead)
# next to an eager baseline in the same call; 16 x 1024^2, bf16, untiled decode, 25 and 8 steps.
set -u
OUTD=${OUT:-/tmp/out}; mkdir -p "$OUTD"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/diffusers-*.whl .whl/importlib_metadata-*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
B() { local name=$1 limit=$2; shift 2; echo "=== $name (t=$SECONDS s)"
  timeout -k 5 "$limit" python3 -c "import sys; from reducio.cli.bench import main; sys.exit(main(sys.argv[1:], 'reducio bench ' + ' '.join(sys.argv[1:])))" \
    "$@" -o "$OUTD/$name.json" > "$OUTD/$name.log" 2>&1; echo "rc=$?"
  grep -A12 "per DiT step count" "$OUTD/$name.log" | head -8; tail -n 3 "$OUTD/$name.log"; }
B e2e-eager-untiled 60 e2e --device cuda --dtype bf16 --steps 25 8 --vae-tiling off
B e2e-cudagraphs-untiled 150 e2e --device cuda --dtype bf16 --steps 25 8 --vae-tiling off --compile dit --compile-mode reduce-overhead
echo "=== done t=$SECONDS s"
