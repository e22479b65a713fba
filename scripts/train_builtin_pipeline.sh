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
#   scripts/train_builtin_pipeline.sh two-object # fine-tune $OUT's DiT on 16,000 new clips with
#                                                # the two-object ones drawn 3x as often (TWO_RUN, MINUTES)
#   scripts/train_builtin_pipeline.sh replace-dit   # write $OUT's transformer/ from TWO_RUN's latest EMA weights
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
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from reducio.conditioning import MiniLMTextEncoder, PatchPixelSemanticEncoder, PooledRGBContentEncoder
from reducio.diffusion import DiffusionConfig, make_scheduler
from reducio.models.dit import ReducioDiT
from reducio.models.vae import ReducioVAE

dit = ReducioDiT.from_pretrained(f"{tmp}/dit")
text = MiniLMTextEncoder.load()
diffusion = DiffusionConfig.for_prediction(dit.arch.prediction_type)
# 25 DiT steps: joint accuracy within 3 points of 50 at 8 steps already (docs/generate.md).
# The packaged MiniLM and the built-in VAE are named, not copied (component_sources).
sources = {"text_encoder": "minilm", "tokenizer": "minilm", "vae": "tiny"}
pipe = ReducioTextToVideoPipeline.from_stage1(
    stage1, vae=ReducioVAE.from_pretrained("tiny"), transformer=dit,
    scheduler=make_scheduler(diffusion, None), text_encoder=text.model, tokenizer=text.tokenizer,
    semantic_encoder=PatchPixelSemanticEncoder(), content_encoder=PooledRGBContentEncoder(),
    diffusion_config=diffusion, default_num_inference_steps=25, component_sources=sources)
pipe.save_pretrained(out)
for name in sources:
    shutil.rmtree(Path(out) / name, ignore_errors=True)
# weights in fp16 on disk (loaded as fp32)
for path in Path(out).glob("*/diffusion_pytorch_model.safetensors"):
    save_file({k: v.half().contiguous() if v.is_floating_point() else v
               for k, v in load_file(path).items()}, path)
print("wrote", out)
PY
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
        python - "$RERANK_RUN/final" "$OUT" "${CANDIDATES:-1}" <<'PY'
import json
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

src, out, candidates = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
dst = out / "image_reranker"
dst.mkdir(exist_ok=True)
(dst / "config.json").write_text((src / "config.json").read_text())
weights = "diffusion_pytorch_model.safetensors"            # fp16 on disk, loaded as fp32, as the rest
save_file({k: v.half().contiguous() if v.is_floating_point() else v
           for k, v in load_file(src / weights).items()}, dst / weights)
index = json.loads((out / "model_index.json").read_text())
index.update(image_reranker=["reducio.pipelines.stage1", "ImageReranker"], stage1_num_candidates=candidates)
(out / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
print("wrote", dst, "with stage1_num_candidates", candidates)
PY
        ;;
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
        TWO_RUN=${TWO_RUN:-runs/dit-two3}
        tmp=$(mktemp -d)
        reducio train export "$TWO_RUN" -o "$tmp/dit"
        python - "$tmp/dit" "$OUT/transformer" <<'PY'
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file

src, dst = map(Path, sys.argv[1:3])
dst.mkdir(parents=True, exist_ok=True)
(dst / "config.json").write_text((src / "config.json").read_text())
weights = "diffusion_pytorch_model.safetensors"
save_file({k: v.half().contiguous() if v.is_floating_point() else v       # fp16 on disk, as the rest
           for k, v in load_file(src / weights).items()}, dst / weights)
print("wrote", dst)
PY
        rm -rf "$tmp" ;;
    *)
        echo "usage: $0 stage1|extract|dit|assemble|reranker|two-object|replace-dit [extra reducio arguments]" >&2; exit 2 ;;
esac
