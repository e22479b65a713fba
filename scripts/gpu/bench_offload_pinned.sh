#!/usr/bin/env bash
# One device call, ~4 min of the GPU (BUDGET seconds, default 300): model CPU offload
# copied both ways (pageable host memory, the default) against pinned CPU copies with no copy
# back (`--offload pinned`), 16 x 1024^2 text-to-video, 25 and 8 steps, next to the resident run;
# all in the same call. Results packed in $OUT/results.tgz.
#   run: carry .whl/diffusers-*.whl .whl/importlib_metadata-*.whl; command: bash scripts/gpu/bench_offload_pinned.sh
set -u
BUDGET=${BUDGET:-300}
source "$(dirname "$0")/common.sh"
B e2e-resident-tiled 70 e2e --device cuda --dtype bf16 --steps 25 8
B e2e-offload-copy 100 e2e --device cuda --dtype bf16 --steps 25 8 --offload copy
B e2e-offload-pinned 100 e2e --device cuda --dtype bf16 --steps 25 8 --offload pinned
finish
