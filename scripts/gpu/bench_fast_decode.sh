#!/usr/bin/env bash
# One device call, ~9 min of the GPU (BUDGET seconds, default 560), 16 x 1024^2, bf16, random weights:
#   1. the VAE decode variants side by side, eager: tiled (release) / untiled, NCDHW / channels-last
#   2. end to end eager with the release's tiled decode, 25 and 8 DiT steps (this GPU's baseline)
#   3. end to end with the DiT and decoder compiled and the untiled decode, 25 and 8 steps; NCDHW,
#      the faster layout (channels-last 3D decodes at 0.65-0.79x, docs/benchmarks.md)
#   4. the same with a stage 1 of 4 steps without CFG (the cost of a PixArt-LCM-style image model)
#   5. compiled decode variants, if time is left
# Results packed in $OUT/results.tgz.
#   run: carry .whl/diffusers-*.whl .whl/importlib_metadata-*.whl; command: bash scripts/gpu/bench_fast_decode.sh
set -u
BUDGET=${BUDGET:-560}
source "$(dirname "$0")/common.sh"
B decode-eager 150 decode --device cuda --dtype bf16 --variants tiled,untiled,untiled+cl,tiled+cl --budget-s 100
B e2e-eager 90 e2e --device cuda --dtype bf16 --steps 25 8
B e2e-compiled-untiled 230 e2e --device cuda --dtype bf16 --steps 25 8 --compile all --vae-tiling off
B e2e-compiled-untiled-s1lcm 120 e2e --device cuda --dtype bf16 --steps 8 4 --compile all --vae-tiling off \
  --stage1-steps 4 --stage1-guidance 1
B decode-compiled 150 decode --device cuda --dtype bf16 --variants untiled+compile,tiled+compile --budget-s 60 --repeats 3
finish
