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
#                                                # it into $OUT's image_reranker/ (the rest of $OUT unchanged)
#   scripts/train_builtin_pipeline.sh two-object # fine-tune $OUT's DiT on 16,000 new clips with
#                                                # the two-object ones drawn 3x as often (TWO_RUN, MINUTES)
#   scripts/train_builtin_pipeline.sh replace-dit   # write $OUT's transformer/ from TWO_RUN's latest EMA weights
#   scripts/train_builtin_pipeline.sh stage1-4x4 # fine-tune $OUT's stage 1 with 4x4 patches (S4_RUN, MINUTES)
#   scripts/train_builtin_pipeline.sh replace-stage1 # write $OUT's stage 1 from S4_RUN's latest EMA weights
#
# The writing steps are `reducio train export` (a run's checkpoint -> a model folder) and `reducio
# assemble` (parts -> a pipeline folder, or one part of $OUT replaced in place; docs/generate.md).
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
        # sampler (the shipped default: euler-stochastic at guidance 3, measured in docs/generate.md).
        # `reducio assemble` adds the built-in VAE and the packaged MiniLM (named, not copied), the
        # DiT's diffusion process and 25 default steps; weights in fp16 on disk (loaded as fp32).
        tmp=$(mktemp -d)
        reducio train export "$STAGE1_RUN" -o "$tmp/stage1" ${STAGE1_RAW:+--raw}
        reducio train export "$DIT_RUN" -o "$tmp/dit"
        reducio assemble --stage1 "$tmp/stage1" --transformer "$tmp/dit" -o "$OUT" --shapes-world-prompts \
            --weights-dtype fp16 ${STAGE1_GUIDANCE:+--stage1-guidance "$STAGE1_GUIDANCE"} \
            ${STAGE1_SAMPLER:+--stage1-sampler "$STAGE1_SAMPLER"}
        rm -rf "$tmp" ;;
    reranker)
        # Stage 1's reranker (`reducio train reranker`: a frame-caption matcher trained with CLIP's
        # contrastive loss, captions embedded by $OUT's text encoder), written into $OUT as its
        # image_reranker/: stage 1 samples N candidates per prompt and keeps the best-scored one.
        # CANDIDATES is $OUT's default N: 1 (reranking off, as shipped: its end-to-end gain was within
        # noise, docs/generate.md). Resumable; MINUTES bounds one invocation (the recipe: 40).
        RERANK_RUN=${RERANK_RUN:-runs/stage1-reranker}
        reducio train reranker $(resume_or "$RERANK_RUN" --recipe reranker-tiny-cpu --set "model.pipeline=$OUT") \
            --set train.max_minutes="${MINUTES:-35}" "${@:2}"
        # the rest of $OUT unchanged; fp16 on disk, as the rest
        reducio assemble --pipeline "$OUT" --reranker "$RERANK_RUN/final" --stage1-candidates "${CANDIDATES:-1}" \
            --weights-dtype fp16 -o "$OUT" ;;
    two-object)
        # Stage 2 bound motions to the wrong object in two-object scenes (docs/generate.md): new
        # latents (clips 200,000-215,999 of train), two-object records repeated 3x (56 % of
        # draws instead of 30 %), 50 minutes at batch 16, lr 1e-4 from $OUT's DiT (10,739 steps, 1 thread).
        TWO_RUN=${TWO_RUN:-runs/dit-two3}
        reducio extract --synthetic train --start 200000 --count 16000 --size 64 --vae tiny --latent mode \
            --output data/latents/shapes-64-from200k --no-progress
        [ -d data/latents/shapes-64-from200k-two3 ] || reducio data reweight \
            data/latents/shapes-64-from200k data/latents/shapes-64-from200k-two3 --two-object-copies 3
        reducio train dit $(resume_or "$TWO_RUN" --recipe dit-tiny-cpu --set data.root=data/latents/shapes-64-from200k-two3 \
            --set model.init="$OUT/transformer" --set data.batch_size=16 --set optim.lr=1e-4 --set train.sample_every=0 \
            --set train.save_every=1500 --set train.keep_last=4) --set train.max_minutes="${MINUTES:-50}" "${@:2}" ;;
    replace-dit)
        # TWO_RUN's latest EMA weights as $OUT's transformer/ (the rest of $OUT unchanged; fp16 on disk)
        TWO_RUN=${TWO_RUN:-runs/dit-two3}
        tmp=$(mktemp -d)
        reducio train export "$TWO_RUN" -o "$tmp/dit" --dtype fp16
        reducio assemble --pipeline "$OUT" --transformer "$tmp/dit" --weights-dtype fp16 -o "$OUT"
        rm -rf "$tmp" ;;
    stage1-4x4)
        # Stage 1 with 4x4 instead of 8x8 patches, started from $OUT's stage 1 with its weights mapped
        # (model.dit_overrides.patch_size, docs/train-dit.md): lr 1e-4, logit-normal noise levels,
        # EMA decay 0.995, batch 32, a checkpoint every 60 steps (~2 min). Resumable; MINUTES bounds
        # one invocation. The built-in's: 2,160 steps, 70 minutes on 2 threads.
        S4_RUN=${S4_RUN:-runs/stage1-dit4-warm}
        reducio train stage1 $(resume_or "$S4_RUN" --recipe stage1-tiny-cpu --set "model.init=$OUT" \
            --set "model.dit_overrides.patch_size=[1,4,4]" --set optim.lr=1e-4 --set optim.warmup_steps=50 \
            --set model.diffusion.timestep_sampling=logit_normal --set model.diffusion.logit_normal_mean=0.8 \
            --set model.diffusion.logit_normal_std=0.8 --set ema.decay=0.995 --set train.max_steps=100000 \
            --set train.save_every=60 --set train.sample_every=0) \
            ${MINUTES:+--set train.max_minutes="$MINUTES"} "${@:2}" ;;
    replace-stage1)
        # S4_RUN's latest EMA weights as $OUT's stage 1 (image_transformer/, its scheduler and the
        # reranker it carries; the rest of $OUT unchanged; fp16 on disk)
        S4_RUN=${S4_RUN:-runs/stage1-dit4-warm}
        tmp=$(mktemp -d)
        reducio train export "$S4_RUN" -o "$tmp/stage1"
        reducio assemble --pipeline "$OUT" --stage1 "$tmp/stage1" --weights-dtype fp16 -o "$OUT"
        rm -rf "$tmp" ;;
    *)
        echo "usage: $0 stage1|extract|dit|assemble|reranker|two-object|replace-dit|stage1-4x4|replace-stage1 [extra reducio arguments]" >&2; exit 2 ;;
esac
