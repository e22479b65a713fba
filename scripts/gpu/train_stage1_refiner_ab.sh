#!/usr/bin/env bash
# One device call: the built-in stage-1 image generator fine-tuned from the shipped
# weights on one GPU, two arms side by side for MIN minutes each: plain, and with the zero-init
# ConvRefiner (width 32, depth 4); batch 128, lr 1e-4, logit-normal noise levels (the shipped stage 1's
# CPU recipe). Writes to $OUT, per arm: the final/ export (EMA weights) in fp16 (a returned file
# must be small: a 30 MB archive did not come back), its config.json and the gzipped metrics.
# Back here: put ARM.model.fp16.safetensors + ARM.final.config.json in a folder as model.safetensors
# + config.json: that is a stage-1 folder (`--stage1 DIR`).
# .whl/ (git-ignored) carries the diffusers + importlib_metadata wheels and carry.tar.xz =
# `python scripts/gpu/pack_minilm.py runs/gpu-carry && tar cJf .whl/carry.tar.xz -C runs/gpu-carry minilm shim`.
#   run: carry .whl; command: MIN=2.4 bash scripts/gpu/train_stage1_refiner_ab.sh
set -u
MIN=${MIN:-2.4}
source "$(dirname "$0")/train_env.sh"
COMMON="--init src/reducio/assets/pipeline-tiny --set model.diffusion.timestep_sampling=logit_normal
  --set data.batch_size=128 --set data.num_workers=6 --set optim.lr=1e-4 --set optim.warmup_steps=50
  --set train.cpu=false --set train.max_steps=1000000 --set train.max_minutes=$MIN --set train.save_every=1000000
  --set train.sample_every=0 --set train.log_every=50 --set logging.tensorboard=false --set logging.progress_bar=false"
R train stage1 --output-dir /tmp/runs/plain $COMMON > /tmp/runs-plain.out 2>&1 &
R train stage1 --output-dir /tmp/runs/refiner $COMMON --set model.overrides.refiner_width=32 \
  --set model.overrides.refiner_depth=4 > /tmp/runs-refiner.out 2>&1 &
sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
for r in plain refiner; do tail -n 1 /tmp/runs/$r/metrics.jsonl 2>/dev/null | cut -c1-200; done
wait
for r in plain refiner; do echo "== $r"; tail -n 3 /tmp/runs-$r.out; cp /tmp/runs-$r.out /tmp/runs/$r/stdout.log; done
for r in plain refiner; do python3 -c "
from safetensors.torch import load_file, save_file
sd = load_file('/tmp/runs/$r/final/model.safetensors')
save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in sd.items()}, '$OUT/$r.model.fp16.safetensors')"
  cp /tmp/runs/$r/final/config.json "$OUT/$r.final.config.json"; gzip -c /tmp/runs/$r/metrics.jsonl > "$OUT/$r.metrics.jsonl.gz"; done
ls -la "$OUT"
echo "=== done at t=$SECONDS s"
