#!/usr/bin/env bash
# One device call, ~8 min of the GPU (BUDGET seconds, default 470):
#   1. the VAEs side by side at 512 and 1024 px (Reducio ft4 / ft4-1024 vs LTX-Video, Wan 2.1,
#      CogVideoX with random weights; a model that runs out of memory is recorded, not fatal)
#   2. 16 x 1024^2 text-to-video, resident vs model CPU offload (release tiling), 25 and 8 steps
#   3. the memory table at 512 and 256 px, resident and offloaded
#   4. the DiT with CUDA graphs (torch.compile reduce-overhead) next to 2.'s eager DiT loop
# Results packed in $OUT/results.tgz.
#   run: carry .whl/diffusers-*.whl .whl/importlib_metadata-*.whl; command: bash scripts/gpu/bench_offload_and_graphs.sh
set -u
BUDGET=${BUDGET:-470}
source "$(dirname "$0")/common.sh"
B vae-512 80 vae --device cuda --dtype bf16 --size 512 --no-flops
B vae-1024 130 vae --device cuda --dtype bf16 --size 1024 --no-flops --warmup 1 --repeats 2 \
  --models reducio-ft4-1024,reducio-ft4,ltx-video,wan-2.1,cogvideox
B e2e-resident-tiled 70 e2e --device cuda --dtype bf16 --steps 25 8
B e2e-offload-tiled 100 e2e --device cuda --dtype bf16 --steps 25 8 --offload
for size in 512 256; do
  B e2e-$size-resident 45 e2e --device cuda --dtype bf16 --steps 25 --size $size
  B e2e-$size-offload 50 e2e --device cuda --dtype bf16 --steps 25 --size $size --offload
done
B e2e-cudagraphs-tiled 170 e2e --device cuda --dtype bf16 --steps 25 8 --compile dit --compile-mode reduce-overhead
finish
