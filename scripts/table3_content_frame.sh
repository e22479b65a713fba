#!/usr/bin/env bash
# The paper's content-frame ablation (Table 3) at tiny scale: three `tiny-cpu` VAEs from scratch,
# differing only in the content frame (middle = the release, random, none), same steps and seed,
# then PSNR / SSIM on 64 clips of the test and heldout splits (EMA weights, posterior mode).
#
#   SEED=1 scripts/table3_content_frame.sh train     # the three runs side by side (one thread each)
#   SEED=1 FRAMES="middle random" scripts/table3_content_frame.sh train   # some of them
#   SEED=1 scripts/table3_content_frame.sh eval      # after they finish: runs/t3-<frame>[-seed1]-eval.json
#
# Seed 0 wrote runs/t3-<frame> (docs/train-vae.md); other seeds write runs/t3-<frame>-seed<N>.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${SEED:-0}
STEPS=${STEPS:-1500}
FRAMES=${FRAMES:-middle random none}   # e.g. FRAMES=none to start one of them later
SUFFIX=$([[ "$SEED" == 0 ]] && echo "" || echo "-seed$SEED")
export OMP_NUM_THREADS=1

overrides() {  # "none" has no content encoder, so nothing may add the content frame either
    if [[ $1 == none ]]; then
        echo "--set model.overrides.content_frame=none --set model.overrides.content_skip=false --set model.overrides.encoder_residual=false"
    else
        echo "--set model.overrides.content_frame=$1"
    fi
}

case "${1:-train}" in
train)
    for frame in $FRAMES; do
        run=runs/t3-$frame$SUFFIX
        # shellcheck disable=SC2046
        nohup reducio train vae --recipe tiny-cpu --output-dir "$run" $(overrides $frame) \
            --set train.max_steps="$STEPS" --set train.seed="$SEED" > "$run.log" 2>&1 &
        echo "started $run (pid $!, log $run.log)"
    done ;;
eval)
    for frame in middle random none; do
        run=runs/t3-$frame$SUFFIX
        reducio eval vae --vae "$run/final" --count 64 -o "$run-eval.json" > "$run-eval.log" 2>&1 &
    done
    wait
    for frame in middle random none; do echo "== runs/t3-$frame$SUFFIX"; cat "runs/t3-$frame$SUFFIX-eval.log"; done ;;
*) echo "usage: SEED=N $0 train|eval" >&2; exit 2 ;;
esac
