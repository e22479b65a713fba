#!/usr/bin/env bash
# One device call (issue 7), ready for the next GPU session: the memory of the 16 x 1024^2 text-to-
# video run with model CPU offload next to the resident baseline (tiled decode, the release's), and
# the DiT with CUDA graphs (fixed since session 5's failed try) next to eager. bf16, 25 and 8 steps.
# Then the memory table per resolution (256 / 512 px, resident and offloaded) if time is left.
#   run: carry .whl/diffusers-*.whl .whl/importlib_metadata-*.whl; command: bash scripts/gpu/bench_offload_and_graphs.sh
set -u
source "$(dirname "$0")/common.sh"
B e2e-resident-tiled 90 e2e --device cuda --dtype bf16 --steps 25 8
B e2e-offload-tiled 120 e2e --device cuda --dtype bf16 --steps 25 8 --offload
B e2e-cudagraphs-untiled 180 e2e --device cuda --dtype bf16 --steps 25 8 --vae-tiling off --compile dit --compile-mode reduce-overhead
for size in 512 256; do
  B e2e-$size-resident 60 e2e --device cuda --dtype bf16 --steps 25 --size $size
  B e2e-$size-offload 60 e2e --device cuda --dtype bf16 --steps 25 --size $size --offload
done
echo "=== done t=$SECONDS s"
