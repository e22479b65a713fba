#!/usr/bin/env bash
# One device call: the DiT compiled with CUDA graphs (torch.compile mode reduce-overhead)
# next to an eager baseline in the same call; 16 x 1024^2, bf16, untiled decode, 25 and 8 steps.
set -u
source "$(dirname "$0")/common.sh"
B e2e-eager-untiled 60 e2e --device cuda --dtype bf16 --steps 25 8 --vae-tiling off
B e2e-cudagraphs-untiled 150 e2e --device cuda --dtype bf16 --steps 25 8 --vae-tiling off --compile dit --compile-mode reduce-overhead
finish
