#!/usr/bin/env bash
# Train the built-in text-to-video default on the synthetic shapes world, stage by stage, and
# assemble it as package data (src/reducio/assets/pipeline-tiny/). Every stage resumes from its
# latest checkpoint when run again.
#
#   scripts/train_builtin_pipeline.sh stage1     # text -> content frame (pixel DiT), runs/stage1-tiny
#   scripts/train_builtin_pipeline.sh extract    # motion latents (posterior mode: the tiny VAE trains on the mode) with the built-in VAE
#   scripts/train_builtin_pipeline.sh dit        # text + content frame -> motion latent, runs/dit-tiny
#   scripts/train_builtin_pipeline.sh assemble   # write src/reducio/assets/pipeline-tiny/
#
# The VAE comes first: scripts/train_builtin_vae.sh (then `... export`). One thread per process:
# on a 2-core machine two single-threaded jobs (e.g. stage1 and the VAE) run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
LATENTS=${LATENTS:-data/latents/shapes-64}
COUNT=${COUNT:-4000}

resume_or() {  # run dir, recipe args... -> the train command (resume when a checkpoint exists)
    local run=$1; shift
    if compgen -G "$run/checkpoints/step-*" > /dev/null; then
        echo "--output-dir $run --resume"
    else
        echo "$* --output-dir $run"
    fi
}

case "${1:-}" in
    stage1)
        reducio train stage1 $(resume_or runs/stage1-tiny --recipe stage1-tiny-cpu) "${@:2}" ;;
    extract)
        reducio extract --synthetic train --count "$COUNT" --size 64 --vae tiny --latent mode \
            --output "$LATENTS" "${@:2}" ;;
    dit)
        reducio train dit $(resume_or runs/dit-tiny --recipe dit-tiny-cpu --set "data.root=$LATENTS") "${@:2}" ;;
    assemble)
        python - <<'PY'
from reducio.pipelines import ReducioTextToVideoPipeline

pipe = ReducioTextToVideoPipeline.from_components(
    vae="tiny", dit="runs/dit-tiny/final", stage1="runs/stage1-tiny/final")
pipe.save_pretrained("src/reducio/assets/pipeline-tiny")
print("wrote src/reducio/assets/pipeline-tiny")
PY
        ;;
    *)
        echo "usage: $0 stage1|extract|dit|assemble [extra reducio arguments]" >&2; exit 2 ;;
esac
