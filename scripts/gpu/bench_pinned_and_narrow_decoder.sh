#!/usr/bin/env bash
# One device call, ~8.5 min of the GPU (BUDGET seconds, default 500), 16 x 1024^2, bf16,
# random weights:
#   1. the fastest path with a 64-channel decoder (ft4-1024@decoder_channels=64, the narrow
#      decoder of docs/train-vae.md: its speed only, it is untrained), CUDA-graph DiT, compiled
#      untiled decode, a 4-step stage 1 without CFG; 8, 4 and 25 DiT steps
#   2. model CPU offload with pinned CPU copies and no copy back (`--offload pinned`), then the
#      default copy-both-ways offload and the resident run, 25 and 8 steps
#   3. the 64-channel decoder alone: tiled / untiled / compiled, with its FLOPs and % of peak
# Results packed in $OUT/results.tgz.
#   run: carry .whl; command: bash scripts/gpu/bench_pinned_and_narrow_decoder.sh
set -u
BUDGET=${BUDGET:-500}
source "$(dirname "$0")/common.sh"
FAST="--compile all --compile-mode reduce-overhead --vae-tiling off --stage1-steps 4 --stage1-guidance 1"
B e2e-narrow64-fastest 190 e2e --device cuda --dtype bf16 --steps 8 4 25 $FAST --vae ft4-1024@decoder_channels=64
B e2e-offload-pinned 100 e2e --device cuda --dtype bf16 --steps 25 8 --offload pinned
B e2e-offload-copy 100 e2e --device cuda --dtype bf16 --steps 25 8 --offload copy
B e2e-resident-tiled 70 e2e --device cuda --dtype bf16 --steps 25 8
B decode-narrow64 90 decode --device cuda --dtype bf16 --model reducio-ft4-1024@decoder_channels=64 \
  --variants untiled,untiled+compile,tiled --budget-s 60
finish
