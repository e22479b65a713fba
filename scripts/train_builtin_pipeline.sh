#!/usr/bin/env bash
# Train the built-in text-to-video default on the synthetic shapes world, stage by stage, and
# assemble it as package data (src/reducio/assets/pipeline-tiny/). Every stage resumes from its
# latest checkpoint when run again.
#
#   scripts/train_builtin_pipeline.sh stage1     # text -> content frame (pixel DiT), runs/stage1-tiny-x
#   scripts/train_builtin_pipeline.sh extract    # motion latents (posterior mode: the tiny VAE trains on the mode) with the built-in VAE
#   scripts/train_builtin_pipeline.sh dit        # text + content frame -> motion latent, runs/dit-tiny-flow
#   scripts/train_builtin_pipeline.sh assemble   # write $OUT (default src/reducio/assets/pipeline-tiny/) from the latest checkpoints
#   scripts/train_builtin_pipeline.sh reranker   # train stage 1's reranker (RERANK_RUN, MINUTES) and write
#                                                # $OUT's stage1/ with it (the rest of $OUT unchanged)
#
# The VAE comes first: scripts/train_builtin_vae.sh (then `... export`). One thread per process:
# on a 2-core machine two single-threaded jobs (e.g. stage1 and the VAE) run side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
LATENTS=${LATENTS:-data/latents/shapes-64}
COUNT=${COUNT:-4000}
STAGE1_RUN=${STAGE1_RUN:-runs/stage1-tiny-x}
DIT_RUN=${DIT_RUN:-runs/dit-tiny-flow}
OUT=${OUT:-src/reducio/assets/pipeline-tiny}

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
        reducio train stage1 $(resume_or "$STAGE1_RUN" --recipe stage1-tiny-cpu) "${@:2}" ;;
    extract)
        reducio extract --synthetic train --count "$COUNT" --size 64 --vae tiny --latent mode \
            --output "$LATENTS" "${@:2}" ;;
    dit)
        reducio train dit $(resume_or "$DIT_RUN" --recipe dit-tiny-cpu --set "data.root=$LATENTS") "${@:2}" ;;
    assemble)
        # the latest checkpoint of each run (EMA weights), whether or not the run has finished
        # STAGE1_RAW=1: stage 1's trained weights instead of their EMA (better before ~10k steps,
        # docs/generate.md); STAGE1_GUIDANCE=G: its default guidance; STAGE1_SAMPLER=NAME: its
        # sampler (the shipped default: euler-stochastic at guidance 3, measured in docs/generate.md)
        tmp=$(mktemp -d)
        reducio train export "$STAGE1_RUN" -o "$tmp/stage1" ${STAGE1_RAW:+--raw}
        reducio train export "$DIT_RUN" -o "$tmp/dit"
        python - "$tmp" "$OUT" "${STAGE1_GUIDANCE:-}" "${STAGE1_SAMPLER:-}" <<'PY'
import sys
from reducio.pipelines import ReducioStage1Generator, ReducioTextToVideoPipeline

tmp, out, guidance, sampler = sys.argv[1:5]
stage1 = ReducioStage1Generator.from_pretrained(f"{tmp}/stage1")
if guidance:
    stage1.config = stage1.config.replace(guidance_scale=float(guidance))
if sampler:
    stage1.config = stage1.config.replace(sampler=sampler)
from reducio.pipelines import GenerationDefaults
# 25 DiT steps: joint accuracy within 3 points of 50 at 8 steps already (docs/generate.md)
pipe = ReducioTextToVideoPipeline.from_components(vae="tiny", dit=f"{tmp}/dit", stage1=stage1,
                                                  defaults=GenerationDefaults(num_inference_steps=25))
# the VAE by name (one copy of the tiny VAE in the package); weights in fp16 on disk (loaded as fp32)
pipe.save_pretrained(out, references={"vae": {"class": "ReducioVAE", "pretrained": "tiny"}})
from pathlib import Path
from safetensors.torch import load_file, save_file
for part in ("dit", "stage1"):
    path = Path(out) / part / "model.safetensors"
    save_file({k: v.half().contiguous() if v.is_floating_point() else v
               for k, v in load_file(path).items()}, path)
print("wrote", out)
PY
        rm -rf "$tmp" ;;
    reranker)
        # The CLIP-style reranker (scripts/train_stage1_reranker.py) on top of $OUT's stage 1:
        # N candidates per prompt, the best-scored kept. CANDIDATES is the folder's default N: 1
        # (reranking off, as shipped: its end-to-end gain was within noise, docs/generate.md). Resumable.
        RERANK_RUN=${RERANK_RUN:-runs/stage1-reranked}
        python scripts/train_stage1_reranker.py --stage1 "$OUT/stage1" -o "$RERANK_RUN" \
            --minutes "${MINUTES:-35}" --candidates "${CANDIDATES:-1}" "${@:2}"
        python - "$RERANK_RUN" "$OUT/stage1" <<'PY'
import sys
from reducio.pipelines import ReducioStage1Generator
from pathlib import Path
from safetensors.torch import load_file, save_file

src, dst = sys.argv[1:3]
ReducioStage1Generator.from_pretrained(src).save_pretrained(dst)
path = Path(dst) / "model.safetensors"          # fp16 on disk, loaded as fp32, as the rest
save_file({k: v.half().contiguous() if v.is_floating_point() else v for k, v in load_file(path).items()}, path)
print("wrote", dst)
PY
        ;;
    *)
        echo "usage: $0 stage1|extract|dit|assemble|reranker [extra reducio arguments]" >&2; exit 2 ;;
esac
